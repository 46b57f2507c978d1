"""Forged and outlying adverts: the payload MAC checked against the sender's address, the
window's estimate (the median of an agreeing strict majority, `edge.window`), what is
refused counted in the outbox and shown by `edge status`, logged at most once a minute.

The agent runs on real advertisement bytes (public captures, see test_edge_decoder.py)
delivered through bleak's `BLEDevice`/`AdvertisementData` at the library boundary, on
virtual time, with a real SQLite outbox; `edge status` runs as the installed CLI.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import Config
from edge.thermobeacon import Advert, decode
from edge.window import SAMPLES, Contested, Estimate, Summary, Throttle, estimate
from livability.sim.radio import VirtualTimeLoop, virtual_clock
from tests.edge.support import RecordingSink, Simulation, gateway, sensor
from tests.edge.test_edge_decoder import HA_MFR_48, THEENGS_1
from tests.edge.test_edge_transport import (
    SENSOR_A,
    STRANGER,
    Emission,
    NoClient,
    at,
    scanner_replaying,
    variant,
)

LIVABILITY = Path(sys.executable).parent / "livability"
MAC_A = 0x70F70000111A
REAL = decode(*THEENGS_1)  # 31.3125 °C, 70.75 %RH, 3160 mV
assert isinstance(REAL, Advert)


def summary(*values: tuple[float, float]) -> Summary:
    window = Summary()
    for temperature, humidity in values:
        window.add(
            Advert(0x10, MAC_A, temperature, humidity, 3000, 100, 1000, False), random.Random(1)
        )
    return window


# --- the estimate ---


def test_a_minority_of_outliers_does_not_move_the_reading() -> None:
    found = estimate(summary((20.0, 50.0), (85.0, 0.0), (20.0, 50.0), (85.0, 0.0), (20.0625, 50.0)))
    assert found == Estimate(20.0, 50.0, 100, agreeing=3, sampled=5, heard=5)


def test_a_window_split_evenly_gives_no_reading_rather_than_one_nobody_sent() -> None:
    found = estimate(summary(*[(20.0, 50.0)] * 3, *[(84.9375, 0.0)] * 3))
    assert found == Contested(largest=3, sampled=6, heard=6)
    assert estimate(Summary()) is None


def test_a_room_that_really_changes_within_a_window_still_gives_a_reading() -> None:
    ramp = [(20.0 + k / 16, 50.0 + k / 4) for k in range(25)]  # +1.5 °C, +6 %RH in a window
    found = estimate(summary(*ramp))
    assert isinstance(found, Estimate)
    assert (found.temperature, found.humidity) == (20.75, 53.0)
    assert found.agreeing > len(ramp) / 2


def test_humidity_disagreement_alone_is_an_outlier_too() -> None:
    found = estimate(summary((21.0, 40.0), (21.0, 40.0), (21.0, 41.0), (21.0, 100.0)))
    assert found == Estimate(21.0, 40.0, 100, agreeing=3, sampled=4, heard=4)


def test_a_window_keeps_a_bounded_sample_whatever_the_advert_rate() -> None:
    window = Summary()
    rng = random.Random(3)
    for k in range(10_000):
        window.add(Advert(0x10, MAC_A, 20.0 + (k % 2) / 16, 50.0, 3000, 100, k, False), rng)
    assert (len(window.temperatures), len(window.humidities), window.heard) == (
        SAMPLES,
        SAMPLES,
        10_000,
    )
    found = estimate(window)
    assert isinstance(found, Estimate)
    assert found.temperature in (20.0, 20.03125, 20.0625)
    assert (found.sampled, found.heard) == (SAMPLES, 10_000)


def test_the_log_throttle_lets_one_line_a_minute_through_and_counts_the_rest() -> None:
    now = [0.0]
    throttle = Throttle(60.0, lambda: now[0])
    assert throttle("a") == 0
    assert [throttle("a") for _ in range(5)] == [None] * 5
    assert throttle("b") == 0  # another sensor or reason has its own line
    now[0] = 61.0
    assert throttle("a") == 5


# --- the agent on real advert bytes ---


def run(tmp_path: Path, loop: VirtualTimeLoop, emissions: list[Emission]) -> Simulation:
    clock = virtual_clock(loop, at(0))
    config = Config(gateway(tmp_path, send_every=0), (sensor(SENSOR_A, 1),))
    sim = Simulation(config, RecordingSink(), scanner_replaying(emissions, clock), NoClient, loop)
    sim.run(until=at(15))
    return sim


FORGED = variant(THEENGS_1, temperature=84.9375, humidity=0.0)
OTHER_MAC = {HA_MFR_48[0]: HA_MFR_48[1]}  # a real capture of another sensor (44:5D:...)


def test_forged_adverts_from_the_sensors_address_with_another_mac_are_refused(
    tmp_path: Path, loop: VirtualTimeLoop, caplog: pytest.LogCaptureFixture
) -> None:
    """The probe's case: 4 forged packets against 3 real. The forged ones carry a payload
    that is not the sender's: refused, counted, and logged once, not four times."""
    caplog.set_level(logging.WARNING, logger="edge.agent")
    emissions: list[Emission] = [(at(1 + k), SENSOR_A, dict([THEENGS_1])) for k in range(3)]
    emissions += [(at(1.5 + k / 60), SENSOR_A, OTHER_MAC) for k in range(4)]  # a second apart
    sim = run(tmp_path, loop, emissions)
    rows, counters = sim.agent.sink.rows, sim.agent.counters
    state = sim.outbox.sensor(MAC_A)
    sim.close()
    assert [(r["data"]["temperature"], r["data"]["humidity"]) for r in rows] == [(31.3125, 70.75)]
    assert (counters.refused, counters.adverts, counters.outliers) == (4, 3, 0)
    assert state is not None
    assert state.counts == {"refused": 4}
    refused = [r for r in caplog.records if r.getMessage().startswith("advert refused")]
    assert len(refused) == 1
    assert (refused[0].__dict__["payload_mac"], refused[0].__dict__["sender"]) == (
        "44:5D:00:00:01:8B",
        SENSOR_A,
    )


def test_an_advert_claiming_our_sensor_from_another_address_is_refused(
    tmp_path: Path, loop: VirtualTimeLoop
) -> None:
    emissions: list[Emission] = [
        (at(1), SENSOR_A, dict([THEENGS_1])),
        (at(2), STRANGER, FORGED),  # the payload says 70:F7:...:1A; the sender is not it
        (at(3), STRANGER, FORGED),
    ]
    sim = run(tmp_path, loop, emissions)
    rows, counters = sim.agent.sink.rows, sim.agent.counters
    sim.close()
    assert [r["data"]["temperature"] for r in rows] == [31.3125]
    assert counters.refused == 2


def test_a_full_spoof_in_the_minority_is_left_out_and_counted(
    tmp_path: Path, loop: VirtualTimeLoop
) -> None:
    """Address and payload MAC both forged: only the majority rule protects the value."""
    emissions: list[Emission] = [(at(1 + k), SENSOR_A, dict([THEENGS_1])) for k in range(3)]
    emissions += [(at(1.5 + k), SENSOR_A, FORGED) for k in range(2)]
    sim = run(tmp_path, loop, emissions)
    rows, counters = sim.agent.sink.rows, sim.agent.counters
    sim.close()
    assert [(r["data"]["temperature"], r["data"]["humidity"]) for r in rows] == [(31.3125, 70.75)]
    assert (counters.outliers, counters.contested, counters.refused) == (2, 0, 0)


def test_a_full_spoof_as_loud_as_the_sensor_gives_no_reading_and_says_so(
    tmp_path: Path, loop: VirtualTimeLoop
) -> None:
    emissions: list[Emission] = [(at(1 + k), SENSOR_A, dict([THEENGS_1])) for k in range(3)]
    emissions += [(at(1.5 + k), SENSOR_A, FORGED) for k in range(3)]
    sim = run(tmp_path, loop, emissions)
    rows, counters = sim.agent.sink.rows, sim.agent.counters
    config_path = tmp_path / "gateway.toml"
    config_path.write_text(
        f'[gateway]\noutbox = "{sim.outbox.path}"\n\n[[sensors]]\nmac = "{SENSOR_A}"\n'
        "home_id = 1\nlocation = [51.87833, -0.41472]\n"
    )
    sim.close()
    assert rows == []
    assert counters.contested == 1
    status = subprocess.run(
        [str(LIVABILITY), "edge", "status", "--config", str(config_path), "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["sensors"][0]["counts"] == {"contested": 1}
