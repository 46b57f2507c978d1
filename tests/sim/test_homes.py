"""Behaviour of the demo simulator: contract, determinism, physics that a demo relies on."""

from __future__ import annotations

import itertools
import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from livability.sim import (
    ARCHETYPES,
    ROOMS,
    SITES,
    Home,
    Site,
    make_home,
    make_homes,
    sensor_rows,
    weather_rows,
)
from schemas import ROW_ID, registry

SCHEMAS = Path(__file__).parents[2] / "schemas"
LUTON = next(site for site in SITES if site.name == "Luton")
WINTER = datetime(2024, 12, 1, tzinfo=UTC)
DAYS = 14
SEED = 7
READINGS_PER_DAY = 144
# The OpenWeatherMap observation this simulator imitates (Luton, 1 December 2024).
REAL_WEATHER_ROW: dict[str, Any] = {
    "day": "2024-12-01",
    "timestamp": "2024-12-01T00:00:01.335Z",
    "data": {
        "temperature": 11.08,
        "humidity": 93.0,
        "pressure": 1019.0,
        "wind_direction": 170.0,
        "wind_speed": 5.66,
        "sunrise": "2024-12-01T07:47:22Z",
        "sunset": "2024-12-01T15:54:40Z",
        "clouds": 100.0,
        "description": "overcast clouds",
        "location": "POINT(-0.41472 51.87833)",
    },
}
DESCRIPTIONS = {
    "clear sky",
    "few clouds",
    "scattered clouds",
    "broken clouds",
    "overcast clouds",
    "light rain",
    "moderate rain",
}


def _fields(table: str) -> tuple[set[str], set[str]]:
    """Top-level and ``data`` field names of a schema file that a sender fills.

    Left out: the columns the platform fills itself (the derived top-level `home_id`, the
    `row_id` key), which a sender's copy may only repeat, and the source-only columns
    (`_source_only`).
    """
    schema = json.loads((SCHEMAS / f"{table}.json").read_text())
    data = next(field for field in schema if field["name"] == "data")
    platform = {*registry()[table].derived, ROW_ID}
    top = {field["name"] for field in schema} - platform - _source_only(table)
    return top, {field["name"] for field in data["fields"]}


def _source_only(table: str) -> set[str]:
    """Top-level columns only the real source fills: NULLABLE and out of the row id.

    Such a column (sensor `battery` from the edge gateway, weather `observed_at` from the
    poller, both schema version 3) describes how one copy of a row was obtained, not the row
    itself: the table's `identity` keeps it out of the row id and its mode lets it be NULL,
    as in every row stored before it existed. The simulator, like those older rows and the
    archived reference payload, does not fill it, so the field check leaves it out. Derived
    from the contract, so a later column of this kind needs no change here.
    """
    schema = registry()[table]
    return {
        field.name
        for field in schema.fields
        if field.name in schema.identity_excludes and field.mode == "NULLABLE"
    }


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


@pytest.fixture(scope="module")
def weather() -> list[dict[str, Any]]:
    return weather_rows(LUTON, WINTER, DAYS, SEED)


@pytest.fixture(scope="module")
def homes() -> list[Home]:
    return make_homes(12, SEED)


@pytest.fixture(scope="module")
def luton_archetypes(weather: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A fortnight of readings from one home of each archetype in Luton in December."""
    return {
        archetype: sensor_rows(
            make_home(index + 1, archetype, LUTON, SEED), weather, WINTER, DAYS, SEED
        )
        for index, archetype in enumerate(ARCHETYPES)
    }


def _mean(rows: list[dict[str, Any]], field: str) -> float:
    return statistics.fmean(row["data"][field] for row in rows)


# --- Contract --------------------------------------------------------------------------------


def test_weather_rows_have_the_schema_fields(weather: list[dict[str, Any]]) -> None:
    top, data = _fields("weather_data")
    optional = _source_only("weather_data")
    assert set(REAL_WEATHER_ROW) == top, "the reference payload itself must match the schema"
    assert set(REAL_WEATHER_ROW["data"]) == data
    for row in weather:
        assert set(row) - optional == top, row
        assert set(row["data"]) == data, row


def test_sensor_rows_have_the_schema_fields(
    luton_archetypes: dict[str, list[dict[str, Any]]],
) -> None:
    top, data = _fields("sensor_thermo_beacon")
    optional = _source_only("sensor_thermo_beacon")
    for rows in luton_archetypes.values():
        for row in rows:
            assert set(row) - optional == top, row
            assert set(row["data"]) == data, row


def test_weather_row_looks_like_the_real_payload(weather: list[dict[str, Any]]) -> None:
    first = weather[0]
    assert first["day"] == REAL_WEATHER_ROW["day"]
    assert first["data"]["location"] == REAL_WEATHER_ROW["data"]["location"]
    for field, value in first["data"].items():
        assert type(value) is type(REAL_WEATHER_ROW["data"][field]), field
    # Millisecond timestamps with a Z, like the poller's.
    assert len(first["timestamp"]) == len(REAL_WEATHER_ROW["timestamp"])
    assert first["timestamp"].endswith("Z")
    assert {row["data"]["description"] for row in weather} <= DESCRIPTIONS


def test_sunrise_and_sunset_match_the_real_ones_within_five_minutes(
    weather: list[dict[str, Any]],
) -> None:
    for field in ("sunrise", "sunset"):
        simulated = _parse(weather[0]["data"][field])
        real = _parse(REAL_WEATHER_ROW["data"][field])
        assert abs(simulated - real) < timedelta(minutes=5), (field, simulated, real)


def test_sensor_rows_carry_the_home(homes: list[Home]) -> None:
    home = homes[0]
    rows = sensor_rows(home, weather_rows(home.site, WINTER, 1, SEED), WINTER, 1, SEED)
    assert rows, "a day of readings"
    for row in rows:
        assert row["data"]["mac"] == home.mac
        assert row["data"]["home_id"] == home.home_id
        lon, lat = (float(x) for x in row["data"]["location"][6:-1].split())
        assert (lon, lat) == (home.site.longitude, home.site.latitude)
        assert row["day"] == _parse(row["timestamp"]).date().isoformat()
        assert row["room"] == home.room


def test_each_sensor_has_a_room_type_the_contract_accepts(homes: list[Home]) -> None:
    assert set(ROOMS) <= set(registry()["sensor_thermo_beacon"].values["room"])
    assert {home.room for home in homes} == set(ROOMS)  # 12 homes: both kinds of room
    again = make_homes(12, SEED)
    assert [h.room for h in again] == [h.room for h in homes]  # deterministic
    # The room has its own random stream: a home's physics are what they were without it.
    assert [h.tau_hours for h in homes[:3]] == [
        make_home(h.home_id, h.archetype, h.site, SEED).tau_hours for h in homes[:3]
    ]


def test_a_home_far_from_the_uk_lives_by_its_local_clock() -> None:
    """Tokyo (UTC+9): the heating of its evenings (16:30-22:30 local) is UTC's morning."""
    from scoring.zones import zone_at

    tokyo = next(site for site in SITES if site.name == "Tokyo")
    assert zone_at(tokyo.longitude, tokyo.latitude) == "Asia/Tokyo"
    home = make_home(1, "typical semi", tokyo, SEED)
    rows = sensor_rows(home, weather_rows(tokyo, WINTER, 3, SEED), WINTER, 3, SEED)
    zone = ZoneInfo("Asia/Tokyo")

    def mean_at(hours: range, local: bool) -> float:
        def hour(row: dict[str, Any]) -> int:
            at = _parse(row["timestamp"])
            return (at.astimezone(zone) if local else at).hour

        return statistics.fmean(r["data"]["temperature"] for r in rows if hour(r) in hours)

    # Warm local evenings, cool local small hours; the same hours of UTC's clock the other
    # way round (19-22 UTC is Tokyo's dawn, 02-05 UTC its midday).
    evening, small_hours = mean_at(range(19, 22), local=True), mean_at(range(2, 5), local=True)
    assert evening > small_hours + 0.5, (evening, small_hours)
    assert mean_at(range(19, 22), local=False) < mean_at(range(2, 5), local=False)


def test_values_stay_in_physical_ranges(
    weather: list[dict[str, Any]], luton_archetypes: dict[str, list[dict[str, Any]]]
) -> None:
    for row in weather:
        data = row["data"]
        assert -90 <= data["temperature"] <= 60, row
        assert 0 <= data["humidity"] <= 100, row
        assert 850 <= data["pressure"] <= 1090, row
        assert 0 <= data["wind_direction"] <= 360, row
        assert 0 <= data["wind_speed"] <= 120, row
        assert 0 <= data["clouds"] <= 100, row
    for rows in luton_archetypes.values():
        for row in rows:
            assert -40 <= row["data"]["temperature"] <= 85, row
            assert 0 <= row["data"]["humidity"] <= 100, row
            assert row["data"]["temperature"] == round(row["data"]["temperature"], 2)


# --- Time ------------------------------------------------------------------------------------


def test_weather_every_ten_minutes_with_seconds_of_jitter(
    weather: list[dict[str, Any]],
) -> None:
    assert len(weather) == DAYS * READINGS_PER_DAY
    times = [_parse(row["timestamp"]) for row in weather]
    assert times[0] >= WINTER
    for earlier, later in itertools.pairwise(times):
        assert abs((later - earlier) - timedelta(minutes=10)) < timedelta(seconds=5)


def test_weather_honours_every() -> None:
    hourly = weather_rows(LUTON, WINTER, 2, SEED, every=timedelta(hours=1))
    assert len(hourly) == 48


def test_sensor_readings_on_a_ten_minute_grid(
    luton_archetypes: dict[str, list[dict[str, Any]]],
) -> None:
    for rows in luton_archetypes.values():
        assert len(rows) <= DAYS * READINGS_PER_DAY
        for row in rows:
            offset = (_parse(row["timestamp"]) - WINTER).total_seconds()
            slot, late = divmod(offset, 600)
            assert 0 <= late < 5, row["timestamp"]
            assert 0 <= slot < DAYS * READINGS_PER_DAY
        stamps = [row["timestamp"] for row in rows]
        assert stamps == sorted(stamps)


def test_some_homes_lose_readings_but_none_go_dark(homes: list[Home]) -> None:
    days = 7
    weathers = {site: weather_rows(site, WINTER, days, SEED) for site in {h.site for h in homes}}
    coverage = [
        len(sensor_rows(home, weathers[home.site], WINTER, days, SEED)) / (days * READINGS_PER_DAY)
        for home in homes
    ]
    assert min(coverage) < 1.0, coverage
    assert max(coverage) == 1.0, coverage
    assert min(coverage) > 0.9, coverage


def test_naive_start_is_rejected(homes: list[Home], weather: list[dict[str, Any]]) -> None:
    naive = datetime(2024, 12, 1)  # naive on purpose
    with pytest.raises(ValueError, match="start"):
        weather_rows(LUTON, naive, 1, SEED)
    with pytest.raises(ValueError, match="start"):
        sensor_rows(homes[0], weather, naive, 1, SEED)


@pytest.mark.parametrize("days", [0, -1])
def test_days_must_be_positive(days: int) -> None:
    with pytest.raises(ValueError, match="days"):
        weather_rows(LUTON, WINTER, days, SEED)


def test_sensor_rows_need_weather(homes: list[Home]) -> None:
    with pytest.raises(ValueError, match="weather"):
        sensor_rows(homes[0], [], WINTER, 1, SEED)


# --- Determinism -----------------------------------------------------------------------------


def test_same_seed_same_rows_different_seed_different_rows(homes: list[Home]) -> None:
    assert make_homes(12, SEED) == homes
    assert make_homes(12, SEED + 1) != homes
    assert weather_rows(LUTON, WINTER, 2, SEED) == weather_rows(LUTON, WINTER, 2, SEED)
    assert weather_rows(LUTON, WINTER, 2, SEED) != weather_rows(LUTON, WINTER, 2, SEED + 1)
    home = homes[1]
    weather = weather_rows(home.site, WINTER, 2, SEED)
    first = sensor_rows(home, weather, WINTER, 2, SEED)
    assert sensor_rows(home, weather, WINTER, 2, SEED) == first
    assert sensor_rows(home, weather, WINTER, 2, SEED + 1) != first


# --- Homes -----------------------------------------------------------------------------------


def test_make_homes_numbers_cycles_archetypes_and_spreads_sites(homes: list[Home]) -> None:
    assert [home.home_id for home in homes] == list(range(1, 13))
    assert [home.archetype for home in homes] == [
        ARCHETYPES[i % len(ARCHETYPES)] for i in range(12)
    ]
    assert {home.site for home in homes} == set(SITES)
    macs = [home.mac for home in homes]
    assert len(set(macs)) == len(macs)
    assert all(0 <= mac < 2**48 for mac in macs)
    # Four homes already span the best and the worst archetype.
    assert {"insulated heated flat", "cold damp house"} <= {h.archetype for h in homes[:4]}


def test_homes_of_one_archetype_differ() -> None:
    first, second = (make_home(i, "typical semi", LUTON, SEED) for i in (1, 2))
    assert first.tau_hours != second.tau_hours
    assert first.mac != second.mac


def test_unknown_archetype_is_rejected() -> None:
    with pytest.raises(ValueError, match="archetype"):
        make_home(1, "castle", LUTON, SEED)


def test_sites_have_distinct_climates() -> None:
    assert len(SITES) >= 3
    assert len({site.name for site in SITES}) == len(SITES)
    july = datetime(2024, 7, 1, tzinfo=UTC)
    mean_july = {
        site.name: _mean(weather_rows(site, july, 7, SEED), "temperature") for site in SITES
    }
    assert mean_july["Madrid"] > mean_july["Luton"] + 3, mean_july
    assert _mean(weather_rows(Site("Oslo-ish", 59.9, 10.8), WINTER, 7, SEED), "temperature") < (
        _mean(weather_rows(Site("Madrid-ish", 40.4, -3.7), WINTER, 7, SEED), "temperature")
    )


# --- Physics ---------------------------------------------------------------------------------


def test_afternoons_are_warmer_than_pre_dawn(weather: list[dict[str, Any]]) -> None:
    # Luton is at solar time ~ UTC: coldest near dawn (~07:50), warmest ~15:00.
    by_hour: dict[int, list[float]] = {}
    for row in weather:
        by_hour.setdefault(_parse(row["timestamp"]).hour, []).append(row["data"]["temperature"])
    afternoon = statistics.fmean(by_hour[14] + by_hour[15])
    pre_dawn = statistics.fmean(by_hour[6] + by_hour[7])
    assert afternoon > pre_dawn + 1, (afternoon, pre_dawn)
    rh_afternoon = statistics.fmean(
        row["data"]["humidity"] for row in weather if _parse(row["timestamp"]).hour in (14, 15)
    )
    rh_night = statistics.fmean(
        row["data"]["humidity"] for row in weather if _parse(row["timestamp"]).hour in (6, 7)
    )
    assert rh_night > rh_afternoon, (rh_night, rh_afternoon)


def test_cold_damp_house_is_colder_and_damper_than_insulated_flat(
    luton_archetypes: dict[str, list[dict[str, Any]]],
) -> None:
    flat = luton_archetypes["insulated heated flat"]
    damp = luton_archetypes["cold damp house"]
    assert _mean(damp, "temperature") < _mean(flat, "temperature") - 3
    assert _mean(damp, "humidity") > _mean(flat, "humidity") + 15


@pytest.mark.parametrize(
    ("archetype", "temperature", "humidity"),
    [
        ("insulated heated flat", (19.5, 21.5), (30, 60)),
        ("cold damp house", (13, 17.5), (60, 95)),
        ("overheated new-build", (23.5, 27.5), (15, 40)),
        ("poorly ventilated flat", (19.5, 23), (55, 95)),
    ],
)
def test_archetype_means_in_a_luton_winter(
    luton_archetypes: dict[str, list[dict[str, Any]]],
    archetype: str,
    temperature: tuple[float, float],
    humidity: tuple[float, float],
) -> None:
    rows = luton_archetypes[archetype]
    mean_t, mean_rh = _mean(rows, "temperature"), _mean(rows, "humidity")
    assert temperature[0] <= mean_t <= temperature[1], (archetype, mean_t)
    assert humidity[0] <= mean_rh <= humidity[1], (archetype, mean_rh)


def test_draughty_house_swings_more_than_insulated_flat(
    luton_archetypes: dict[str, list[dict[str, Any]]],
) -> None:
    def spread(rows: list[dict[str, Any]]) -> float:
        return statistics.pstdev(float(row["data"]["temperature"]) for row in rows)

    draughty = spread(luton_archetypes["draughty period house"])
    assert draughty > 2 * spread(luton_archetypes["insulated heated flat"])
