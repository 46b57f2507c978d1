"""The fleet check: per home and sensor, is it reporting, how well, and how is its battery.

Runs `livability.fleet.sql` through the Warehouse port, so the same figures come from DuckDB
and BigQuery. `check` gives a `FleetReport`; `livability fleet` prints it, the hourly
function `functions/fleet_health.py` logs its summary (`summary_fields`), which the stack's
log-based metric of silent homes counts.

Thresholds, and why:
- A gateway is silent when its home's last reading is older than `SILENT_HOURS` (3 h): a
  gateway sends every 1-6 hours (`send_every`), so a healthy one is never quiet that long,
  and three hours still leaves the day to fix it before a day's coverage is lost.
- A battery is low below `LOW_BATTERY_PERCENT` (20 %): the gateway's estimate from the
  advertised voltage (`edge.thermobeacon.battery_percent`) is 20 % at 2450 mV, the knee of
  the coin cell's curve below which the level reads 0 and the sensor soon stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from livability.fleet import sql
from livability.ports import ParamValue, Warehouse

SILENT_HOURS: Final = 3
LOW_BATTERY_PERCENT: Final = 20
WINDOW_DAYS: Final = 7  # the default period: coverage over 7 days needs 7 days of readings
MAX_LOOKBACK_DAYS: Final = 92  # `since` at most a quarter back: the partitions read stay bounded
MAX_ROWS: Final = 10_000  # sensor rows returned (problems first); the summary counts them all


class FleetError(ValueError):
    """A period the check cannot read; the message names the value."""


@dataclass(frozen=True)
class SensorHealth:
    """One sensor of one home, as the fleet query sees it."""

    home_id: int
    mac: int
    last_reading: datetime
    home_last_reading: datetime
    coverage_24h: float
    coverage_7d: float
    battery: int | None  # percent, the latest reading that carried one
    battery_trend: float | None  # percent per day over the last 7 days
    gateway_silent: bool
    battery_low: bool

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("last_reading", "home_last_reading"):
            out[key] = out[key].isoformat()
        return out


@dataclass(frozen=True)
class FleetReport:
    """The fleet at `now`, from readings since `since`."""

    now: datetime
    since: datetime
    homes: int
    sensors: int
    silent_gateways: int
    low_battery_sensors: int
    dead_letters: Mapping[str, int]  # by reason class
    rows: tuple[SensorHealth, ...]  # problems first, at most MAX_ROWS
    truncated: bool

    @property
    def dead_letter_total(self) -> int:
        return sum(self.dead_letters.values())

    def summary(self) -> str:
        return (
            f"{self.homes} home(s); silent gateways (> {SILENT_HOURS} h): "
            f"{self.silent_gateways}; sensors below {LOW_BATTERY_PERCENT} % battery: "
            f"{self.low_battery_sensors}; dead letters: {self.dead_letter_total}"
        )

    def problems(self) -> dict[int, str]:
        """A short problem per home of the listed rows (`max_rows`, problems first): its
        gateway silent since when, its sensors below the battery threshold."""
        out: dict[int, list[str]] = {}
        for row in self.rows:
            said = out.setdefault(row.home_id, [])
            silent = f"gateway silent since {row.home_last_reading:%Y-%m-%d %H:%M} UTC"
            if row.gateway_silent and silent not in said:
                said.insert(0, silent)
            if row.battery_low:
                said.append(f"a sensor at {row.battery} % battery")
        return {home: "; ".join(said) for home, said in out.items() if said}

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "since": self.since.isoformat(),
            "silent_hours": SILENT_HOURS,
            "low_battery_percent": LOW_BATTERY_PERCENT,
            "homes": self.homes,
            "sensors": self.sensors,
            "silent_gateways": self.silent_gateways,
            "low_battery_sensors": self.low_battery_sensors,
            "dead_letters": dict(self.dead_letters),
            "sensor_rows": [r.to_json() for r in self.rows],
            "truncated": self.truncated,
        }


def period(now: datetime, since: datetime | None) -> datetime:
    """The period's start: `since`, or WINDOW_DAYS before `now`; checked against the bounds."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise FleetError(f"now: {now!r} is a naive datetime; pass it in UTC")
    start = since if since is not None else now - timedelta(days=WINDOW_DAYS)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start >= now:
        raise FleetError(f"since: {start.isoformat()} is not before now ({now.isoformat()})")
    if now - start > timedelta(days=MAX_LOOKBACK_DAYS):
        raise FleetError(
            f"since: {start.isoformat()} is more than {MAX_LOOKBACK_DAYS} days before "
            f"{now.isoformat()}"
        )
    return start


def _params(now: datetime, since: datetime) -> dict[str, ParamValue]:
    """The readings' parameters (the dead letters' query takes the first four)."""
    return {
        "now": now,
        "since": since,
        "first_day": since.date(),
        "last_day": now.date(),
        "now_s": int(now.timestamp()),
        "silent_before": now - timedelta(hours=SILENT_HOURS),
        "low_battery": LOW_BATTERY_PERCENT,
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sensor(row: dict[str, Any]) -> SensorHealth:
    trend = row["battery_trend"]
    return SensorHealth(
        home_id=int(row["home_id"]),
        mac=int(row["mac"]),
        last_reading=_utc(row["last_reading"]),
        home_last_reading=_utc(row["home_last_reading"]),
        coverage_24h=round(float(row["coverage_24h"]), 4),
        coverage_7d=round(float(row["coverage_7d"]), 4),
        battery=None if row["battery"] is None else int(row["battery"]),
        battery_trend=None if trend is None else round(float(trend), 2),
        gateway_silent=bool(row["gateway_silent"]),
        battery_low=bool(row["battery_low"]),
    )


def check(
    warehouse: Warehouse,
    now: datetime,
    since: datetime | None = None,
    *,
    max_rows: int = MAX_ROWS,
) -> FleetReport:
    """The fleet's health at `now` from the readings and dead letters since `since`.

    `max_rows=0` skips the per-sensor rows (the hourly check needs only the counts)."""
    if not 0 <= max_rows <= MAX_ROWS:
        raise FleetError(f"max_rows: {max_rows} is not between 0 and {MAX_ROWS}")
    start = period(now, since).astimezone(UTC)
    now = now.astimezone(UTC)
    params = _params(now, start)
    dialect, dataset = warehouse.dialect, warehouse.dataset
    (summary,) = warehouse.query(sql.summary_query(dataset, dialect), params).to_pylist() or [{}]
    rows: tuple[SensorHealth, ...] = ()
    if max_rows:
        found = warehouse.query(
            sql.sensors_query(dataset, dialect), {**params, "max_rows": max_rows}
        ).to_pylist()
        rows = tuple(_sensor(r) for r in found)
    period_params = {k: params[k] for k in ("now", "since", "first_day", "last_day")}
    letters = warehouse.query(
        sql.dead_letters_query(dataset, dialect), {**period_params, "max_rows": MAX_ROWS}
    ).to_pylist()
    sensors = int(summary.get("sensors") or 0)
    return FleetReport(
        now=now,
        since=start,
        homes=int(summary.get("homes") or 0),
        sensors=sensors,
        silent_gateways=int(summary.get("silent_gateways") or 0),
        low_battery_sensors=int(summary.get("low_battery_sensors") or 0),
        dead_letters={str(r["reason"]): int(r["dead_letters"]) for r in letters},
        rows=rows,
        truncated=bool(max_rows) and sensors > len(rows),
    )
