"""Simulated homes: six archetypes, each a range of physical parameters and habits that a
home draws from, deterministically from the seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from livability.sim.sites import SITES, Site

__all__ = ["ARCHETYPES", "ROOMS", "Home", "make_home", "make_homes"]

ARCHETYPES: Final[tuple[str, ...]] = (
    "insulated heated flat",
    "cold damp house",
    "typical semi",
    "overheated new-build",
    "poorly ventilated flat",
    "draughty period house",
)

# Ranges each home draws its parameters from. Thermal terms are in K/h so the model needs no
# heat capacity: tau is the time constant of heat loss (fabric + ventilation), heater and gains
# are the warming rates they give. Moisture sources are g/h of water vapour released indoors.
_PARAMETER_NAMES: Final[tuple[str, ...]] = (
    "tau_hours",
    "heater_k_per_hour",
    "internal_gain_k_per_hour",
    "solar_gain_k_per_hour",
    "setpoint_c",
    "setback_c",
    "volume_m3",
    "air_changes_per_hour",
    "moisture_buffer",
    "occupant_moisture_g_per_hour",
    "cooking_moisture_g_per_hour",
    "shower_moisture_g",
    "laundry_moisture_g_per_hour",
    "wind_sensitivity",
)
# Columns in the order of _PARAMETER_NAMES:
#  tau h  heater K/h  gains K/h  solar K/h  setpoint C  setback C  volume m3
#  air changes/h  buffer  people g/h  cooking g/h  shower g  laundry g/h  wind sensitivity
# People's vapour covers breathing, washing up and plants: BS 5250 puts a household's total at
# 7-14 kg/day.
_ARCHETYPE_RANGES: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    # Well insulated, steady 20-21 C, moderate moisture: the platform's best case.
    "insulated heated flat": (
        (35, 50), (1.5, 2.5), (0.12, 0.2), (0.2, 0.5), (20.6, 21.4), (19.2, 19.8), (120, 180),
        (0.45, 0.65), (2, 3), (110, 170), (150, 300), (150, 300), (0, 20), (0, 0.1),
    ),
    # Leaky and barely heated, little ventilation, laundry dried indoors: cold and damp.
    "cold damp house": (
        (9, 13), (1.2, 1.8), (0.1, 0.2), (0.1, 0.3), (16.5, 17.5), (14, 15.5), (180, 250),
        (0.2, 0.35), (2, 3), (150, 220), (300, 500), (200, 350), (40, 90), (0.1, 0.3),
    ),
    "typical semi": (
        (18, 28), (2.0, 3.0), (0.12, 0.2), (0.2, 0.4), (19.5, 21), (16, 17.5), (200, 280),
        (0.4, 0.6), (2, 3), (150, 220), (200, 400), (200, 350), (0, 60), (0.1, 0.2),
    ),
    # Airtight, heating left on high, mechanical ventilation: too warm and too dry.
    "overheated new-build": (
        (50, 80), (1.5, 2.5), (0.15, 0.25), (0.4, 0.8), (25, 27), (24, 25), (180, 260),
        (0.6, 0.9), (1.5, 2.5), (80, 120), (100, 200), (100, 200), (0, 0), (0, 0.05),
    ),
    # Warm, but moisture has nowhere to go.
    "poorly ventilated flat": (
        (30, 45), (1.5, 2.5), (0.2, 0.3), (0.2, 0.4), (21, 22.5), (19, 20), (110, 140),
        (0.15, 0.25), (1.5, 2.5), (120, 170), (250, 450), (250, 400), (20, 60), (0, 0.05),
    ),
    # Big heater, big losses: warm when the heating runs, cold soon after; wind makes it worse.
    "draughty period house": (
        (5, 8), (3, 5), (0.1, 0.2), (0.2, 0.4), (20, 21.5), (14, 16), (300, 400),
        (1.2, 1.8), (2, 3), (120, 200), (200, 400), (200, 350), (0, 40), (0.3, 0.6),
    ),
}  # fmt: skip
# The room type a home's one sensor is configured with (the contract's `room`). The indoor
# model is one well-mixed zone where people live: a living room or a bedroom, never a wet room,
# whose showers' peaks and recovery a one-zone model does not produce.
ROOMS: Final[tuple[str, ...]] = ("living", "bedroom")
# When the heating runs at its setpoint (local solar hours); every home shifts these a little.
_HEATING_WINDOWS: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    "insulated heated flat": ((6.0, 9.5), (16.0, 23.0)),
    "cold damp house": ((6.5, 9.0), (16.5, 22.5)),
    "typical semi": ((6.5, 8.5), (16.5, 22.5)),
    "overheated new-build": ((5.5, 23.5),),
    "poorly ventilated flat": ((6.0, 9.5), (15.5, 23.5)),
    "draughty period house": ((6.0, 9.5), (16.0, 23.0)),
}


@dataclass(frozen=True)
class Home:
    """One home with one ThermoBeacon, and the physics that drive its readings."""

    home_id: int
    mac: int
    archetype: str
    site: Site
    tau_hours: float
    heater_k_per_hour: float
    internal_gain_k_per_hour: float
    solar_gain_k_per_hour: float
    setpoint_c: float
    setback_c: float
    volume_m3: float
    air_changes_per_hour: float
    moisture_buffer: float  # furnishings soak up and release vapour: slows humidity changes
    occupant_moisture_g_per_hour: float
    cooking_moisture_g_per_hour: float
    shower_moisture_g: float
    laundry_moisture_g_per_hour: float  # clothes dried indoors
    wind_sensitivity: float  # extra infiltration per 5 m/s of wind
    heating_windows: tuple[tuple[float, float], ...]
    away_on_weekdays: bool
    sensor_temperature_offset_c: float
    sensor_humidity_offset_rh: float
    dropout_rate: float  # share of readings lost to BLE
    outage_hours: float  # one gateway outage per simulated period; 0 for none
    room: str = "living"  # the sensor's room type, as the gateway is configured (ROOMS)


def make_home(home_id: int, archetype: str, site: Site, seed: int, mac: int | None = None) -> Home:
    """One home of ``archetype`` at ``site``, its parameters drawn from the archetype's ranges."""
    ranges = _ARCHETYPE_RANGES.get(archetype)
    if ranges is None:
        raise ValueError(f"archetype must be one of {ARCHETYPES}, got {archetype!r}")
    rng = random.Random(f"{seed}:{home_id}:home")  # noqa: S311 - simulation, not crypto
    params = {
        name: rng.uniform(lo, hi) for name, (lo, hi) in zip(_PARAMETER_NAMES, ranges, strict=True)
    }
    windows = tuple(
        (on + rng.gauss(0, 0.3), off + rng.gauss(0, 0.3)) for on, off in _HEATING_WINDOWS[archetype]
    )
    drawn_mac = rng.getrandbits(48)
    # Its own stream: the room leaves every other parameter of the home as it was.
    room = random.Random(f"{seed}:{home_id}:room").choice(ROOMS)  # noqa: S311 - simulation
    return Home(
        home_id=home_id,
        mac=drawn_mac if mac is None else mac,
        archetype=archetype,
        site=site,
        heating_windows=windows,
        away_on_weekdays=rng.random() < 0.5,
        sensor_temperature_offset_c=rng.uniform(-0.2, 0.2),
        sensor_humidity_offset_rh=rng.uniform(-1.5, 1.5),
        dropout_rate=0.0 if rng.random() < 0.5 else rng.uniform(0.002, 0.03),
        outage_hours=0.0 if rng.random() < 0.65 else rng.uniform(2.0, 12.0),
        room=room,
        **params,
    )


def make_homes(count: int, seed: int, first_id: int = 1) -> list[Home]:
    """Homes `first_id`.. (count of them); archetypes cycle so any four span good and bad
    homes; unique MACs."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    rng = random.Random(f"{seed}:homes")  # noqa: S311 - simulation, not crypto
    sites = list(SITES)
    rng.shuffle(sites)
    homes: list[Home] = []
    macs: set[int] = set()
    for index in range(count):
        home = make_home(
            first_id + index, ARCHETYPES[index % len(ARCHETYPES)], sites[index % len(sites)], seed
        )
        while home.mac in macs:  # a 48-bit collision is unlikely, but the contract is unique
            home = make_home(home.home_id, home.archetype, home.site, seed, rng.getrandbits(48))
        macs.add(home.mac)
        homes.append(home)
    return homes
