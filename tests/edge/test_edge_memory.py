"""The gateway's memory under a busy radio: 100 sensors advertising once a second for a full
10-minute window (60,000 reading packets, 6,000 min/max packets) stays within the 60 MB
budget. A fresh interpreter runs the agent on the simulated radio (bleak's scanner at the
library boundary, real advert bytes) on virtual time, with a real SQLite outbox, and reports
its peak resident memory (VmHWM) from /proc. A memory bound, not a timing: nothing here
depends on how fast the machine is. `make bench` reports the same figure against a baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BUDGET_MB = 60
SENSORS = 100

BUSY_RADIO = """
import json, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from edge.agent import Agent
from edge.config import Config, Gateway, Sensor
from edge.outbox import Outbox
from livability.sim.radio import Radio, SimulatedSensor, VirtualTimeLoop, virtual_clock

start = datetime(2025, 1, 6, tzinfo=UTC)
count, folder = int(sys.argv[1]), Path(sys.argv[2])

class Sink:
    def __init__(self): self.rows = 0
    def send(self, table, rows): self.rows += len(rows)
    def close(self): pass

later = start + timedelta(minutes=11)
sensors = [
    SimulatedSensor(0xA4C138000000 + i, start - timedelta(days=3),
                    [(start, 20.0 + i % 5, 50.0), (later, 21.0 + i % 5, 52.0)])
    for i in range(count)
]
loop = VirtualTimeLoop()
clock = virtual_clock(loop, start)
radio = Radio(sensors, clock, every=1.0)
configured = tuple(Sensor("thermobeacon", s.mac, i + 1, 51.0, 0.0) for i, s in enumerate(sensors))
config = Config(Gateway(outbox=folder / "outbox.sqlite", backfill=False), configured)
outbox = Outbox(config.gateway.outbox)
sink = Sink()
agent = Agent(config, outbox, sink, scanner_class=radio.scanner_class(),
              client_class=radio.client_class(), clock=clock)
loop.run_until_complete(agent.run(seconds=630))
status = {k: int(v.split()[0]) for k, v in
          (line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
          if k in ("VmHWM", "VmRSS")}
print(json.dumps({"adverts": agent.counters.adverts, "readings": agent.counters.readings,
                  "sent": sink.rows, **status}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_100_sensors_at_1_hz_for_a_window_stay_under_the_budget(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BUSY_RADIO, str(SENSORS), str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    peak_mb = figures["VmHWM"] / 1024
    print(f"agent peak RSS, {SENSORS} sensors at 1 Hz for a window: {peak_mb:.1f} MB")  # -rP
    assert figures["adverts"] >= SENSORS * 600
    assert figures["readings"] == figures["sent"] == SENSORS
    assert peak_mb < BUDGET_MB, f"peak RSS {peak_mb:.1f} MB"
