"""The gateway under a busy radio, measured: `python -m livability.sim.busy_radio N FOLDER`.

N simulated sensors advertise once a second for a full 10-minute window (plus half a minute)
on virtual time; the real agent (bleak's scanner replaced at the library boundary, real
advert bytes, a real SQLite outbox in FOLDER) closes the window and sends to a counting
sink. Prints one JSON line: adverts accepted, readings, rows sent, and this process's
resident memory from /proc (VmRSS now, VmHWM the peak, kB). Run in a fresh interpreter so
the peak is the agent's alone; the memory test and `make bench` both read it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.agent import Agent
from edge.config import Config, Gateway, Sensor
from edge.outbox import Outbox
from livability.sim.radio import Radio, SimulatedSensor, VirtualTimeLoop, virtual_clock

START = datetime(2025, 1, 6, tzinfo=UTC)
RUN_SECONDS = 630  # a whole window and the send after it


class CountingSink:
    def __init__(self) -> None:
        self.rows = 0

    def send(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows += len(rows)

    def close(self) -> None:
        pass


def memory_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process, kB (Linux)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


def measure(count: int, folder: Path) -> dict[str, int]:
    later = START + timedelta(minutes=11)
    sensors = [
        SimulatedSensor(
            0xA4C138000000 + i,
            START - timedelta(days=3),
            [(START, 20.0 + i % 5, 50.0), (later, 21.0 + i % 5, 52.0)],
        )
        for i in range(count)
    ]
    loop = VirtualTimeLoop()
    clock = virtual_clock(loop, START)
    radio = Radio(sensors, clock, every=1.0)
    configured = tuple(
        Sensor("thermobeacon", s.mac, i + 1, 51.0, 0.0) for i, s in enumerate(sensors)
    )
    config = Config(Gateway(outbox=folder / "busy.sqlite", backfill=False), configured)
    sink = CountingSink()
    with Outbox(config.gateway.outbox) as outbox:
        agent = Agent(
            config,
            outbox,
            sink,
            scanner_class=radio.scanner_class(),
            client_class=radio.client_class(),
            clock=clock,
        )
        loop.run_until_complete(agent.run(seconds=RUN_SECONDS))
    loop.close()
    counters = agent.counters
    return {
        "adverts": counters.adverts,
        "readings": counters.readings,
        "sent": sink.rows,
        **memory_kb(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    count, folder = (argv if argv is not None else sys.argv[1:])[:2]
    print(json.dumps(measure(int(count), Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
