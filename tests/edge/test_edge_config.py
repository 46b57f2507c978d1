"""Gateway configuration (TOML), the reference's properties import, the outbox (a real SQLite
file) and the `livability edge status|import-properties` commands (the installed CLI in a
subprocess). Nothing is faked."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, load, parse, properties_to_toml, room_types
from edge.outbox import Note, Outbox
from tests.edge.support import START

LIVABILITY = Path(sys.executable).parent / "livability"

GOOD = """
[gateway]
interval = 300
sink = "http://127.0.0.1:8080/"
outbox = "state/outbox.sqlite"
outbox_limit = 1000
batch_size = 50
send_every = 600

[[sensors]]
kind = "thermobeacon"
mac = "a4:c1:38:0a:1b:2c"
home_id = 42
location = [51.87833, -0.41472]
room = "bedroom"

[[sensors]]
mac = "A4:C1:38:0A:1B:2D"
home_id = 42
location = "51.87833,-0.41472"
"""

# The reference PoC's sensor_reader.properties layout (configparser, keys prefixed by section).
PROPERTIES = """
[ws07_thermo_beacon]
ws07_thermo_beacon.mac_address = 1A:11:00:00:F7:70
ws07_thermo_beacon.tx_char_uuid = 0000fff5-0000-1000-8000-00805f9b34fb
ws07_thermo_beacon.rx_char_uuid = 0000fff3-0000-1000-8000-00805F9B34FB
ws07_thermo_beacon.table = sensor_thermo_beacon
ws07_thermo_beacon.location = 51.87833,-0.41472
"""


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIVABILITY), "edge", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_a_good_configuration_loads(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(GOOD)
    config = load(path)
    assert config.gateway.interval == 300
    assert config.gateway.outbox == tmp_path / "state" / "outbox.sqlite"
    assert [(s.address, s.home_id, s.room, s.latitude) for s in config.sensors] == [
        ("A4:C1:38:0A:1B:2C", 42, "bedroom", 51.87833),
        ("A4:C1:38:0A:1B:2D", 42, None, 51.87833),
    ]
    assert config.sensors[0].wkt == "POINT(-0.41472 51.87833)"


def test_a_room_is_sent_as_the_contracts_room_type(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(edited('home_id = 42\nlocation = "51.87833,-0.41472"\nroom = " Bathroom"'))
    assert [s.room for s in load(path).sensors] == ["bedroom", "bathroom"]
    assert room_types() == ("bedroom", "living", "kitchen", "bathroom", "other")


def edited(change: str, old: str = 'home_id = 42\nlocation = "51.87833,-0.41472"') -> str:
    assert old in GOOD
    return GOOD.replace(old, change)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            edited('home_id = "x"\nlocation = "51.87833,-0.41472"'),
            "sensors[1] (A4:C1:38:0A:1B:2D): home_id: 'x' is not a whole number from 1",
        ),
        (
            edited('location = "51.87833,-0.41472"'),
            "sensors[1] (A4:C1:38:0A:1B:2D): home_id: missing",
        ),
        (
            edited('home_id = 42\nlocation = "91,0"'),
            "sensors[1] (A4:C1:38:0A:1B:2D): location: latitude 91.0 is outside -90..90",
        ),
        (
            edited('home_id = 42\nlocation = "north"'),
            "sensors[1] (A4:C1:38:0A:1B:2D): location: 'north' is not 'latitude,longitude'",
        ),
        (
            edited("home_id = 42\nlocation = [1.0]"),
            "sensors[1] (A4:C1:38:0A:1B:2D): location: [1.0] is not [latitude, longitude]",
        ),
        (
            GOOD.replace('mac = "A4:C1:38:0A:1B:2D"', 'mac = "A4:C1:38:0A:1B"'),
            "sensors[1] (A4:C1:38:0A:1B): mac: 'A4:C1:38:0A:1B' is not a MAC address",
        ),
        (
            GOOD.replace('mac = "A4:C1:38:0A:1B:2D"', 'mac = "A4:C1:38:0A:1B:2C"'),
            "sensors[1] (A4:C1:38:0A:1B:2C): mac: already used by sensors[0]",
        ),
        (
            GOOD.replace('kind = "thermobeacon"', 'kind = "govee"'),
            "sensors[0] (a4:c1:38:0a:1b:2c): kind: 'govee' is not supported (thermobeacon)",
        ),
        (
            GOOD.replace('room = "bedroom"', 'room = "garage"'),
            "sensors[0] (a4:c1:38:0a:1b:2c): room: 'garage' is not one of bedroom, living, "
            "kitchen, bathroom, other",
        ),
        (
            GOOD.replace('room = "bedroom"', "room = 3"),
            "sensors[0] (a4:c1:38:0a:1b:2c): room: 3 is not one of bedroom, living, kitchen, "
            "bathroom, other",
        ),
        (
            GOOD.replace('room = "bedroom"', 'colour = "red"'),
            "sensors[0] (a4:c1:38:0a:1b:2c): unknown key(s) ['colour']",
        ),
        (GOOD.replace("interval = 300", "interval = 0"), "gateway: interval: 0 is not a whole"),
        (
            GOOD.replace('sink = "http://127.0.0.1:8080/"', 'sink = "ftp://x"'),
            "gateway: sink: 'ftp://x' is not an http(s):// URL or 'pubsub'",
        ),
        (
            GOOD.replace("batch_size = 50", "batch_size = true"),
            "gateway: batch_size: True is not a whole number",
        ),
        (
            GOOD.split("[[sensors]]", maxsplit=1)[0],
            "sensors: at least one [[sensors]] entry is needed",
        ),
    ],
    ids=[
        "home id text",
        "home id missing",
        "latitude",
        "location text",
        "location short",
        "mac",
        "mac twice",
        "kind",
        "room type",
        "room number",
        "unknown key",
        "interval",
        "sink",
        "batch size bool",
        "no sensors",
    ],
)
def test_a_bad_configuration_names_the_sensor_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(tomllib.loads(text))
    assert str(caught.value).startswith(message), str(caught.value)


def test_unreadable_or_broken_files_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[gateway\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not TOML"):
        load(broken)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load(tmp_path / "missing.toml")


def test_reference_properties_become_a_configuration() -> None:
    toml = properties_to_toml(PROPERTIES, home_id=7)
    config = parse(tomllib.loads(toml))
    assert [(s.kind, s.address, s.home_id, s.latitude, s.longitude) for s in config.sensors] == [
        ("thermobeacon", "1A:11:00:00:F7:70", 7, 51.87833, -0.41472)
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("table = sensor_thermo_beacon", "table = weather_data"), "[ws07_thermo_beacon]: "
         "ws07_thermo_beacon.table: 'weather_data' is not sensor_thermo_beacon"),
        (("location = 51.87833,-0.41472", "location = 51.87833"), "[ws07_thermo_beacon]: "
         "ws07_thermo_beacon.location: [51.87833] is not [latitude, longitude]"),
        (("ws07_thermo_beacon.mac_address = 1A:11:00:00:F7:70\n", ""), "[ws07_thermo_beacon]: "
         "ws07_thermo_beacon.mac_address: missing"),
        (("fff5-", "fff4-"), "[ws07_thermo_beacon]: ws07_thermo_beacon.tx_char_uuid: "
         "'0000fff4-0000-1000-8000-00805f9b34fb' is not 0000fff5"),
        (("[ws07_thermo_beacon]", "[dummy_sensor]"), "[dummy_sensor]: kind: 'dummy_sensor' is "
         "not a supported sensor"),
    ],
    ids=["table", "location", "mac missing", "characteristic", "kind"],
)  # fmt: skip
def test_bad_properties_name_the_section_and_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        properties_to_toml(PROPERTIES.replace(*change), home_id=7)
    assert str(caught.value).startswith(message), str(caught.value)


def test_cli_import_properties_writes_a_configuration_that_loads(tmp_path: Path) -> None:
    source = tmp_path / "sensor_reader.properties"
    source.write_text(PROPERTIES)
    target = tmp_path / "gateway.toml"
    result = run_cli("import-properties", str(source), "--home-id", "7", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert load(target).sensors[0].home_id == 7
    bad = run_cli("import-properties", str(source), "--home-id", "0")
    assert bad.returncode == 2
    assert "'0' is not a home id" in bad.stderr
    broken = tmp_path / "broken.properties"
    broken.write_text(PROPERTIES.replace("table = sensor_thermo_beacon", "table = x"))
    failed = run_cli("import-properties", str(broken), "--home-id", "7")
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0
    assert "ws07_thermo_beacon.table: 'x' is not sensor_thermo_beacon" in failed.stderr


# --- the outbox ---


def reading(minute: int, mac: int = 0xA4C1380A1B2C, battery: int | None = 90) -> dict[str, Any]:
    moment = START + timedelta(minutes=minute)
    return {
        "day": moment.date().isoformat(),
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "data": {"mac": mac, "home_id": 42, "temperature": 20.5, "humidity": 50.0},
        "battery": battery,
    }


def test_the_outbox_keeps_each_reading_once_until_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox:
        assert outbox.put("sensor_thermo_beacon", [reading(0), reading(10)], START) == 2
        # The same readings again (a retry after a crash) and one new one.
        assert outbox.put("sensor_thermo_beacon", [reading(10), reading(20)], START) == 1
        first = outbox.batch(2)
        outbox.ack(first, START + timedelta(minutes=30))
    with Outbox(path) as reopened:  # what was committed is there after a restart
        assert reopened.depth() == 1
        (left,) = reopened.batch(10)
        assert left.row["timestamp"] == "2025-01-06T00:20:00.000000Z"
        assert left.row["row_id"] == left.row_id
        status = reopened.status()
    assert (status.depth, status.sent, status.evicted) == (1, 2, 0)
    assert status.last_send == START + timedelta(minutes=30)
    journal = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert journal == ("wal",)


def test_a_full_outbox_evicts_the_oldest_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.outbox")
    with Outbox(tmp_path / "outbox.sqlite", limit=3) as outbox:
        outbox.put("sensor_thermo_beacon", [reading(m) for m in (0, 10, 20)], START)
        outbox.put("sensor_thermo_beacon", [reading(m) for m in (30, 40)], START)
        kept = [p.row["timestamp"][11:16] for p in outbox.batch(10)]
        status = outbox.status()
    assert kept == ["00:20", "00:30", "00:40"]
    assert status.evicted == 2
    (record,) = [r for r in caplog.records if r.name == "edge.outbox"]
    assert record.getMessage() == "outbox full: oldest readings evicted"
    assert record.__dict__["evicted"] == 2


def test_a_reading_that_breaks_the_contract_is_refused_whole(tmp_path: Path) -> None:
    from schemas.validation import RowError

    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        with pytest.raises(RowError, match="battery: 101 is outside"):
            outbox.put("sensor_thermo_beacon", [reading(0), reading(10, battery=101)], START)
        assert outbox.depth() == 0


def test_cli_status_shows_depth_sends_evictions_and_each_sensor(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(GOOD)
    missing = run_cli("status", "--config", str(tmp_path / "gateway.toml"))
    assert missing.returncode == 1
    assert "no outbox yet" in missing.stderr
    config = load(tmp_path / "gateway.toml")
    with Outbox(config.gateway.outbox, limit=2) as outbox:
        outbox.put(
            "sensor_thermo_beacon",
            [reading(0), reading(10), reading(20)],
            START,
            [Note(0xA4C1380A1B2C, START + timedelta(minutes=20), 20.5, 50.0, 90)],
        )
        outbox.ack(outbox.batch(1), START + timedelta(minutes=25))
    result = run_cli("status", "--config", str(tmp_path / "gateway.toml"), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert {k: status[k] for k in ("depth", "sent", "evicted", "last_successful_send")} == {
        "depth": 1,
        "sent": 1,
        "evicted": 1,
        "last_successful_send": "2025-01-06T00:25:00+00:00",
    }
    assert status["sensors"][0] == {
        "mac": "A4:C1:38:0A:1B:2C",
        "home_id": 42,
        "room": "bedroom",
        "last_reading": "2025-01-06T00:20:00+00:00",
        "temperature": 20.5,
        "humidity": 50.0,
        "battery": 90,
        "last_heard": "2025-01-06T00:00:00+00:00",
        "counts": {},
    }
    assert status["sensors"][1]["last_reading"] is None
    text = run_cli("status", "--config", str(tmp_path / "gateway.toml"))
    assert "1 reading(s) pending" in text.stdout
    assert "battery 90 %" in text.stdout
