"""The whole job on one machine: simulate homes, publish, ingest, score, publish scores.

Sensor readings go through the real edge gateway: each home's gateway (`edge.agent`) runs on
a simulated radio (`livability.sim.radio`: bleak's scanner and client, emitting the ThermoBeacon
advertisement bytes of the simulated home's readings and answering GATT history requests)
in simulated time, stores every reading in its SQLite outbox, and drains it over HTTP to the
event processor served as `livability serve` serves it (functions-framework under gunicorn,
on 127.0.0.1). The weather poller's messages are pushed to the same server as Pub/Sub
pushes them: binary-mode CloudEvents, `SENDERS` in flight at once.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import requests

from edge import config as edge_config
from edge.agent import Agent
from edge.messages import Message, hourly
from edge.outbox import Outbox
from edge.sinks import HttpSink
from livability import weeks
from livability.certificate import publish as certificates
from livability.certificate.content import FleetState
from livability.fleet.check import FleetReport
from livability.fleet.check import check as fleet_check
from livability.net import NotListeningError, free_port, wait_listening
from livability.settings import Settings, shared_warehouse
from livability.sim.homes import Home, make_homes
from livability.sim.radio import Radio, VirtualTimeLoop, homes_sensors, virtual_clock
from livability.sim.readings import sensor_rows
from livability.sim.sites import Site
from livability.sim.weather import weather_rows
from scoring import job

# The demo's homes are 900001.. so that a demo run in a warehouse that holds real homes (the
# archived week is home 1) never mixes its readings into a real home's week.
DEMO_FIRST_HOME = 900_001

SENDERS = 8
SERVER_STARTUP_SECONDS = 60
# Each gateway sends what it has every 6 hours (`send_every`, 36 readings a message): fewer,
# fuller messages, as a FinOps-minded deployment would configure it.
GATEWAY_SEND_EVERY = 6 * 3600
# Fleet health to show: the last home's gateway goes silent for the last SILENT_HOURS of the
# period; the first home's sensor battery dies, losing DRAINED_MV evenly from its boot (a week
# before the start) to the end: from 2950-3070 mV to below 2450 mV (20 %) in the last days.
# Homes by position, not id.
SILENT_HOURS = 20
DRAINED_MV = 700
TOPIC = "//pubsub.googleapis.com/projects/livability-local/topics/sensor_data"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


class DemoError(RuntimeError):
    """The event processor refused a message, or a gateway could not deliver its readings."""


@dataclass(frozen=True)
class DemoResult:
    homes: list[Home]
    messages: int
    weeks: list[date]
    vectors: pl.DataFrame  # every scored week, all homes
    fleet: FleetReport | None = None  # the fleet's health at the end of the period
    certificates: str | None = None  # the last week's portfolio page (its URI in the bucket)


def default_start(today: date) -> date:
    """The Monday two complete weeks back, so both simulated weeks have ended."""
    return weeks.last_complete_week(today) - weeks.WEEK


def simulate(homes: list[Home], start: date, days: int, seed: int, dataset: str) -> list[Message]:
    """Every message the gateways and the weather poller would publish, in time order."""
    start_at = datetime.combine(start, time(), UTC)
    weather = _weather(homes, start_at, days, seed)
    messages: list[Message] = []
    for site_rows in weather.values():
        messages += hourly("weather_data", site_rows, dataset)
    for home in homes:
        rows = sensor_rows(home, weather[home.site], start_at, days, seed)
        messages += hourly("sensor_thermo_beacon", rows, dataset)
    return sorted(messages, key=lambda m: m.published_at)


def _weather(
    homes: list[Home], start_at: datetime, days: int, seed: int
) -> dict[Site, list[dict[str, Any]]]:
    """Each site's weather rows. Sites in order of first appearance, not set order (string
    hashes vary per process), so the message sequence, and with it the message ids, is the
    same on every run."""
    sites = dict.fromkeys(h.site for h in homes)
    return {site: weather_rows(site, start_at, days, seed) for site in sites}


def cloud_event(message: Message, message_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and body of a binary-mode CloudEvent carrying `message`, as Eventarc sends it."""
    headers = {
        "ce-id": message_id,
        "ce-specversion": "1.0",
        "ce-type": PUBLISHED,
        "ce-source": TOPIC,
        "ce-time": message.published_at,
    }
    body = {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": message_id,
            "publishTime": message.published_at,
        },
        "subscription": "projects/livability-local/subscriptions/event-processor",
    }
    return headers, body


def run(
    settings: Settings,
    *,
    homes: int,
    seed: int,
    start: date,
    weeks: int,
    on_message: Callable[[int, int], None] = lambda _done, _total: None,
) -> DemoResult:
    """Simulate; weather to the event processor, sensors through their gateways; score."""
    population = make_homes(homes, seed, DEMO_FIRST_HOME)
    days = 7 * weeks
    start_at = datetime.combine(start, time(), UTC)
    weather = _weather(population, start_at, days, seed)
    weather_messages = sorted(
        (m for rows in weather.values() for m in hourly("weather_data", rows, settings.dataset)),
        key=lambda m: m.published_at,
    )
    # The bar's total is an estimate until the end: a gateway sends when its batch is due.
    sends = len(population) * days * 86400 // GATEWAY_SEND_EVERY
    progress = _Progress(len(weather_messages) + sends, on_message)
    folder = settings.home / "edge-demo"
    shutil.rmtree(folder, ignore_errors=True)  # the last demo's gateways, not this one's
    end_at = start_at + timedelta(days=days)
    silent = population[-1].home_id if population else None
    with served(settings) as url:
        _push_all(url, weather_messages, progress)
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="gateway") as pool:
            pending = [
                pool.submit(
                    run_gateway,
                    home,
                    rows=_until(
                        sensor_rows(home, weather[home.site], start_at, days, seed),
                        end_at - timedelta(hours=SILENT_HOURS if home.home_id == silent else 0),
                    ),
                    start=start_at,
                    days=days,
                    url=url,
                    folder=folder,
                    on_send=progress.advance,
                    drain_mv_per_day=DRAINED_MV / (days + 7) if home is population[0] else 0.0,
                )
                for home in population
            ]
            for future in as_completed(pending):
                future.result()  # a gateway that could not deliver stops the demo
    progress.finish()
    warehouse = shared_warehouse(settings)
    bucket = settings.open_bucket()
    scored = [start + timedelta(days=7 * w) for w in range(weeks)]
    now = datetime.now(UTC)
    runs = [job.run(warehouse, bucket, week, now) for week in scored]
    published = [run.vectors for run in runs]
    fleet = fleet_check(warehouse, end_at)
    # The last week's portfolio page shows the fleet at the end of the period.
    state = FleetState(fleet.now, fleet.summary(), fleet.problems())
    # Oldest week first, so each week's certificates show the weeks before as their trend.
    index = None
    for week, run in zip(scored, runs, strict=True):
        last = week == scored[-1]
        index = (
            certificates.publish_week(
                warehouse,
                bucket,
                week,
                run.vectors,
                fleet=state if last else None,
                ranges=run.ranges,
            )
            or index
        )
    return DemoResult(population, progress.done, scored, pl.concat(published), fleet, index)


def _until(rows: list[dict[str, Any]], end: datetime) -> list[dict[str, Any]]:
    """The rows before `end`: a sensor whose gateway stopped hearing it then."""
    return [r for r in rows if datetime.fromisoformat(r["timestamp"]) < end]


class _Progress:
    """Messages delivered so far, from every thread, reported to `on_message`."""

    def __init__(self, total: int, report: Callable[[int, int], None]) -> None:
        self.done = 0
        self._total = total
        self._report = report
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self.done += 1
            self._total = max(self._total, self.done)
            self._report(self.done, self._total)

    def finish(self) -> None:
        self._report(self.done, self.done)


def run_gateway(
    home: Home,
    *,
    rows: list[dict[str, Any]],
    start: datetime,
    days: int,
    url: str,
    folder: Path,
    on_send: Callable[[], None] = lambda: None,
    drain_mv_per_day: float = 0.0,
) -> int:
    """One home's gateway for `days` of simulated time; the readings it delivered."""
    sensor = edge_config.Sensor(
        "thermobeacon",
        home.mac,
        home.home_id,
        home.site.latitude,
        home.site.longitude,
        home.room,
    )
    gateway = edge_config.Gateway(
        outbox=folder / f"home-{home.home_id}.sqlite", send_every=GATEWAY_SEND_EVERY
    )
    loop = VirtualTimeLoop()
    now = virtual_clock(loop, start)
    # The sensor was switched on a week before; it logs every 10 minutes since.
    sensors = homes_sensors([(home, rows)], boot_at=start - timedelta(days=7))
    for simulated in sensors:
        simulated.drain_mv_per_day = drain_mv_per_day
    radio = Radio(sensors, now)
    sink = _CountingSink(url, on_send)
    outbox = Outbox(gateway.outbox, gateway.outbox_limit, durable=False)
    try:
        agent = Agent(
            edge_config.Config(gateway, (sensor,)),
            outbox,
            sink,
            scanner_class=radio.scanner_class(),
            client_class=radio.client_class(),
            clock=now,
        )
        loop.run_until_complete(agent.run(until=start + timedelta(days=days, hours=1)))
        loop.run_until_complete(loop.shutdown_default_executor())
        left = outbox.depth()
        if left:
            raise DemoError(
                f"the gateway of home {home.home_id} could not deliver {left} readings to "
                f"{url}: {sink.last_error or 'no answer'}"
            )
        return outbox.status().sent
    finally:
        outbox.close()
        sink.close()
        loop.close()


class _CountingSink(HttpSink):
    def __init__(self, url: str, on_send: Callable[[], None]) -> None:
        super().__init__(url)
        self._on_send = on_send
        self.last_error: str | None = None

    def send(self, table: str, rows: Any) -> None:
        from edge.sinks import SinkError

        try:
            super().send(table, rows)
        except SinkError as err:
            self.last_error = str(err)
            raise
        self._on_send()


def _push_all(url: str, messages: list[Message], progress: _Progress) -> None:
    """The weather poller's messages, pushed as Pub/Sub pushes: SENDERS at a time."""
    sessions = threading.local()

    def deliver(index: int) -> None:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        message = messages[index]
        headers, body = cloud_event(message, f"demo-{index}")
        response = sessions.session.post(url, json=body, headers=headers, timeout=60)
        if response.status_code != 200:
            raise DemoError(
                f"event processor answered {response.status_code} to message {index} "
                f"({message.table}, {message.published_at})"
            )
        progress.advance()

    with ThreadPoolExecutor(SENDERS, thread_name_prefix="pubsub-push") as pool:
        for future in as_completed([pool.submit(deliver, i) for i in range(len(messages))]):
            future.result()  # a refused message stops the demo with its reason


@contextlib.contextmanager
def served(settings: Settings) -> Iterator[str]:
    """`livability serve` for `settings` on a free port of 127.0.0.1; stopped on exit.

    The server is its own process and holds the DuckDB file while it writes; it is stopped
    (and so lets go of the file) before the caller reads the warehouse again.
    """
    port = free_port()
    env = {
        **os.environ,
        "LIVABILITY_HOME": str(settings.home),
        "LIVABILITY_WAREHOUSE": str(settings.warehouse_url),
        "LIVABILITY_DATASET": settings.dataset,
    }
    command = [sys.executable, "-c", _SERVE, "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(server, port)
        yield f"http://127.0.0.1:{port}/"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
        shared_warehouse.cache_clear()  # type: ignore[attr-defined]
        if server.returncode not in (0, -signal.SIGTERM):
            raise DemoError(f"the event processor's server failed: {stderr.decode()[-500:]}")


_SERVE = "import sys; from livability.cli.app import main; sys.exit(main())"


def _wait_listening(server: subprocess.Popen[bytes], port: int) -> None:
    try:
        wait_listening(port, server, SERVER_STARTUP_SECONDS)
    except NotListeningError as err:
        stderr = (
            server.stderr.read().decode() if server.poll() is not None and server.stderr else ""
        )
        raise DemoError(
            f"the event processor's server did not start: {err} {stderr[-500:]}"
        ) from None
