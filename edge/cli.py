"""The gateway's commands, shared by `python -m edge` (the image) and `livability edge`.

    run --config FILE                  scan, store, send until SIGTERM
                                       (`livability edge run` adds --simulate)
    status --config FILE [--json]      outbox depth, last reading and battery per sensor, ...
    requeue --config FILE              put readings the sink refused for good back in the outbox
    decode --manufacturer-id N --payload HEX
    import-properties FILE --home-id N [-o OUT]

No rich and no CLI dependencies here: the edge image ships only the edge group.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge import config as edge_config
from edge.outbox import OutboxError
from edge.thermobeacon import NotAReading, decode


class EdgeError(Exception):
    """A problem the user can fix; one line, exit status 1."""


def manufacturer_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (16 or 0x10)") from None
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not a 16-bit company id")
    return value


def payload_bytes(text: str) -> bytes:
    cleaned = text.replace(" ", "").replace(":", "").removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hexadecimal bytes") from None


def home_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a home id (a whole number from 1)")
    return int(text)


# bleak's scanner and client classes for a configuration: a simulated radio instead of BLE.
RadioFactory = Callable[[edge_config.Config], tuple[type[Any], type[Any]]]


def add_commands(commands: Any, radio: RadioFactory | None = None) -> None:
    """The subcommands, on an argparse subparsers object (ours or the `livability` CLI's).

    `radio` adds `run --simulate`: the `livability` CLI passes the simulator's radio; the
    image has none, so the simulator never ships in it.
    """
    run = commands.add_parser("run", help="scan the sensors, store and send their readings")
    run.add_argument("--config", type=Path, required=True, help="gateway configuration (TOML)")
    if radio is not None:
        run.add_argument(
            "--simulate",
            action="store_true",
            help="a simulated radio: the configured sensors advertise simulated homes' readings",
        )
    run.set_defaults(edge=cmd_run, radio=radio)

    status = commands.add_parser("status", help="outbox depth, last reading per sensor, sends")
    status.add_argument("--config", type=Path, required=True, help="gateway configuration (TOML)")
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(edge=cmd_status)

    requeue = commands.add_parser(
        "requeue", help="put the readings set aside (refused by the sink) back in the outbox"
    )
    requeue.add_argument("--config", type=Path, required=True, help="gateway configuration")
    requeue.set_defaults(edge=cmd_requeue)

    dec = commands.add_parser("decode", help="decode one ThermoBeacon advertisement")
    dec.add_argument(
        "--manufacturer-id", type=manufacturer_id, required=True, help="company id, 16 or 0x10"
    )
    dec.add_argument(
        "--payload", type=payload_bytes, required=True, help="manufacturer data bytes, hex"
    )
    dec.set_defaults(edge=cmd_decode)

    imp = commands.add_parser(
        "import-properties", help="convert the reference's sensor_reader.properties to TOML"
    )
    imp.add_argument("file", type=Path, help="the .properties file")
    imp.add_argument("--home-id", type=home_id, required=True, help="home the sensors are in")
    imp.add_argument("-o", "--output", type=Path, help="write here (default: print)")
    imp.set_defaults(edge=cmd_import)


def load_config(path: Path) -> edge_config.Config:
    try:
        return edge_config.load(path)
    except edge_config.ConfigError as err:
        raise EdgeError(
            f"{path}: {err}" if not str(err).startswith(str(path)) else str(err)
        ) from None


def cmd_decode(args: argparse.Namespace) -> tuple[int, str]:
    try:
        packet = decode(args.manufacturer_id, args.payload)
    except NotAReading as err:
        return 0, f"not a reading: {err}"
    return 0, json.dumps(packet.as_json())


def cmd_import(args: argparse.Namespace) -> tuple[int, str]:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise EdgeError(f"{args.file}: cannot read: {err}") from None
    try:
        toml = edge_config.properties_to_toml(text, home_id=args.home_id, source=str(args.file))
    except edge_config.ConfigError as err:
        raise EdgeError(str(err)) from None
    if args.output is None:
        return 0, toml
    args.output.write_text(toml, encoding="utf-8")
    return 0, f"wrote {args.output}"


def open_outbox(config: edge_config.Config) -> Any:
    from edge.outbox import Outbox

    path = config.gateway.outbox
    if not path.exists():
        raise EdgeError(f"{path}: no outbox yet (the gateway has not run with this configuration)")
    try:
        return Outbox(path, config.gateway.outbox_limit)
    except OutboxError as err:
        raise EdgeError(str(err)) from None


def status_data(config: edge_config.Config) -> dict[str, Any]:
    path = config.gateway.outbox
    with open_outbox(config) as outbox:
        try:
            status = outbox.status()
        except OutboxError as err:
            raise EdgeError(str(err)) from None
    states = {s.mac: s for s in status.sensors}

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    sensors = []
    for sensor in config.sensors:
        state = states.get(sensor.mac)
        sensors.append(
            {
                "mac": sensor.address,
                "home_id": sensor.home_id,
                "room": sensor.room,
                "last_reading": when(state.last_timestamp) if state else None,
                "temperature": state.temperature if state else None,
                "humidity": state.humidity if state else None,
                "battery": state.battery if state else None,
                "last_heard": when(state.seen_at) if state else None,
                "counts": dict(state.counts) if state else {},
            }
        )
    return {
        "outbox": str(path),
        "depth": status.depth,
        "oldest_pending": when(status.oldest),
        "last_successful_send": when(status.last_send),
        "sent": status.sent,
        "evicted": status.evicted,
        "set_aside": status.set_aside,
        "newest_stamp": when(status.time_floor),
        "counts": dict(status.counts),
        "sensors": sensors,
    }


def cmd_status(args: argparse.Namespace) -> tuple[int, str]:
    data = status_data(load_config(args.config))
    if args.json:
        return 0, json.dumps(data)
    lines = [
        f"outbox {data['outbox']}: {data['depth']} reading(s) pending"
        + (f" since {data['oldest_pending']}" if data["oldest_pending"] else ""),
        f"last successful send: {data['last_successful_send'] or 'never'}; "
        f"sent {data['sent']}, evicted {data['evicted']}, set aside {data['set_aside']}"
        + (" (edge requeue puts them back)" if data["set_aside"] else ""),
    ]
    if data["counts"]:
        lines.append("gateway: " + ", ".join(f"{k} {v}" for k, v in data["counts"].items()))
    for s in data["sensors"]:
        lines.append(
            f"  {s['mac']} home {s['home_id']}{' ' + s['room'] if s['room'] else ''}: "
            f"last reading {s['last_reading'] or 'none'}"
            + (
                f" ({s['temperature']} °C, {s['humidity']} %RH, battery {s['battery']} %)"
                if s["last_reading"]
                else ""
            )
            + "".join(f"; {k} {v}" for k, v in s["counts"].items())
        )
    return 0, "\n".join(lines)


def cmd_requeue(args: argparse.Namespace) -> tuple[int, str]:
    with open_outbox(load_config(args.config)) as outbox:
        try:
            moved = outbox.requeue(datetime.now(UTC))
        except OutboxError as err:
            raise EdgeError(str(err)) from None
    return 0, f"{moved} reading(s) back in the outbox"


def cmd_run(args: argparse.Namespace) -> tuple[int, str]:
    from livability.logs import configure_logging

    config = load_config(args.config)
    configure_logging(logging.INFO, "stdout")  # a service's log is its output
    classes = args.radio(config) if getattr(args, "simulate", False) else None
    try:
        asyncio.run(run_gateway(config, classes))
    except OutboxError as err:  # the file went bad under the gateway: one line, exit 1
        raise EdgeError(str(err)) from None
    return 0, ""


async def run_gateway(
    config: edge_config.Config, classes: tuple[type[Any], type[Any]] | None = None
) -> None:
    """The gateway until SIGTERM or SIGINT; readings not yet sent stay in the outbox.

    `classes`: bleak's scanner and client classes to use instead of the real radio's."""
    from edge.agent import Agent
    from edge.clock import Clock, SystemClock
    from edge.outbox import Outbox
    from edge.sinks import open_sink

    scanner_class, client_class = classes or (None, None)
    clock: Clock | None = None
    if classes is not None:  # a simulated radio lives on this host's clock, synced or not
        clock = SystemClock(read_flag=False)
    try:
        outbox = Outbox(config.gateway.outbox, config.gateway.outbox_limit)
    except OutboxError as err:
        raise EdgeError(str(err)) from None
    sink = open_sink(config.gateway.sink)
    try:
        agent = Agent(
            config,
            outbox,
            sink,
            scanner_class=scanner_class,
            client_class=client_class,
            clock=clock,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.stop)
        await agent.run()
    finally:
        outbox.close()
        sink.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge", description="Livability edge gateway (ThermoBeacon over BLE)"
    )
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code, text = args.edge(args)
    except (EdgeError, OSError) as err:
        print(f"edge: error: {err}", file=sys.stderr)
        return 1
    if text:
        print(text)
    return int(code)
