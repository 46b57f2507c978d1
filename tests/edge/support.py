"""Helpers of the gateway tests: a sink that records, configurations, simulated time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.agent import Agent
from edge.config import Config, Gateway, Sensor
from edge.outbox import Outbox
from edge.sinks import SinkError
from livability.sim.radio import VirtualTimeLoop, virtual_clock

START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday, 00:00 UTC: windows align to it


class RecordingSink:
    """A sink that keeps what it is sent; `down` makes it refuse like an unreachable one."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.down = False
        self.refused = 0

    def send(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if self.down:
            self.refused += 1
            raise SinkError("sink unreachable (test)")
        self.batches.append([dict(r) for r in rows])

    def close(self) -> None:
        pass

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [r for b in self.batches for r in b]


def sensor(mac: str, home_id: int = 1, room: str | None = None) -> Sensor:
    return Sensor("thermobeacon", int(mac.replace(":", ""), 16), home_id, 51.87833, -0.41472, room)


def gateway(tmp_path: Path, **settings: Any) -> Gateway:
    return Gateway(outbox=tmp_path / "outbox.sqlite", **settings)


class Simulation:
    """An agent on a virtual-time loop: `run(hours)` lives that long in a blink."""

    def __init__(
        self,
        config: Config,
        sink: Any,
        scanner_class: type[Any] | Callable[..., Any],
        client_class: type[Any],
        loop: VirtualTimeLoop,
        start: datetime = START,
    ) -> None:
        self.loop = loop
        self.clock = virtual_clock(loop, start)
        self.outbox = Outbox(config.gateway.outbox, config.gateway.outbox_limit)
        self.agent = Agent(
            config,
            self.outbox,
            sink,
            scanner_class=scanner_class,  # type: ignore[arg-type]
            client_class=client_class,
            clock=self.clock,
        )

    def run(self, until: datetime) -> None:
        self.loop.run_until_complete(self.agent.run(until=until))

    def run_for(self, seconds: float) -> None:
        """Live `seconds` of monotonic time, whatever the gateway's wall clock says."""
        self.loop.run_until_complete(self.agent.run(seconds=seconds))

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.outbox.close()
        self.loop.close()


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
