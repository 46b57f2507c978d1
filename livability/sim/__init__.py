"""The simulator and the demo. Never shipped in a function bundle or the edge image.

Simulated homes and weather, pure standard library and deterministic (the same arguments
always give the same rows): `sites` (where), `sun` and `air` (the physics both models share),
`weather` (outdoor observations), `homes` (archetypes and their parameters), `outdoor` and
`indoor` (a home's thermal and moisture model), `readings` (its ThermoBeacon's rows),
`timestamps` (argument checks and ISO times every row shares). Their public names are
re-exported here: `from livability.sim import make_homes, sensor_rows, weather_rows`.

Above them: `radio`, a simulated BLE radio for the gateway (bleak's classes at the library
boundary), and `demo`, the whole job on one machine (`livability demo`).
"""

from livability.sim.homes import ARCHETYPES, ROOMS, Home, make_home, make_homes
from livability.sim.readings import sensor_rows
from livability.sim.sites import SITES, Site
from livability.sim.weather import weather_rows

__all__ = [
    "ARCHETYPES",
    "ROOMS",
    "SITES",
    "Home",
    "Site",
    "make_home",
    "make_homes",
    "sensor_rows",
    "weather_rows",
]
