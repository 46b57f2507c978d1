"""One tick of the weather poller: locations → OpenWeatherMap → `weather_data` rows → publisher.

Cloud Scheduler calls `functions/weather.py::meteodata_event` every 10 minutes (or an operator
runs `livability weather poll` once); each run is one tick:

1. The locations (`select_locations`): the configured ones, else the homes' locations on a
   grid, cached in the bucket (`livability.weather.locations`).
2. The key (`livability.weather.secret`), then one call per location through one client
   (`livability.weather.client`), paced; the locations least recently sent go first, and no
   call starts once the tick's time budget is spent.
3. Each body becomes a `weather_data` row (`livability.weather.mapping`), checked by the
   contract.
4. A (location, `dt`) already sent (state in `SENT_KEY` in the bucket) is skipped: OWM
   updates at most every 10 minutes. The state is saved only after the publisher accepted
   the rows; a crash in between re-publishes rows whose ids collapse them into one.

A 401 or a 429 that outlasts the backoff ends the tick, the remaining locations reported as
not polled; any other failure of one location (HTTP error, timeout, malformed body, a value
outside the contract) fails that location with its reason, and the others are still polled.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from livability.ports import ObjectNotFoundError
from livability.weather.client import OpenWeatherClient
from livability.weather.errors import (
    BudgetSpentError,
    KeyRejectedError,
    LocationError,
    RateLimitedError,
)
from livability.weather.locations import Location, cached_home_locations, home_locations
from livability.weather.mapping import TABLE, to_row
from livability.weather.secret import api_key
from schemas import registry
from schemas.validation import RowError, shown, validate_row

if TYPE_CHECKING:
    import requests

    from livability.ports import Bucket, Publisher
    from livability.settings import Settings
    from livability.weather.settings import WeatherSettings

log = logging.getLogger(__name__)

SENT_KEY = "state/weather/sent.json"


Outcome = Literal["published", "skipped", "failed"]


@dataclass(frozen=True)
class LocationResult:
    location: str
    outcome: Outcome
    observed_at: str | None = None
    reason: str | None = None


@dataclass
class PollReport:
    """What one tick did, as the function answers it."""

    results: list[LocationResult] = field(default_factory=list)
    key_rejected: str | None = None  # the 401's reason

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def polled(self) -> int:
        """Locations whose call was answered with a body we used or skipped."""
        return self.count("published") + self.count("skipped")

    def to_json(self) -> dict[str, Any]:
        return {
            "locations": len(self.results),
            "polled": self.polled,
            "published": self.count("published"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "key_rejected": self.key_rejected,
            "failures": [
                {"location": r.location, "reason": r.reason}
                for r in self.results
                if r.outcome == "failed"
            ],
            "results": [{k: v for k, v in vars(r).items() if v is not None} for r in self.results],
        }


@dataclass
class SentState:
    """The last `dt` sent per location (Unix seconds), kept at `SENT_KEY` in the bucket."""

    last: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, bucket: Bucket) -> SentState:
        try:
            raw = json.loads(bucket.get(SENT_KEY))
        except ObjectNotFoundError:
            return cls()
        except ValueError as err:  # damaged: start afresh; the row ids absorb any re-send
            log.warning(
                "weather state unreadable; starting afresh",
                extra={"key": SENT_KEY, "reason": shown(str(err))},
            )
            return cls()
        if not isinstance(raw, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in raw.values()
        ):
            log.warning("weather state is not {location: dt}; starting afresh")
            return cls()
        return cls(dict(raw))

    def save(self, bucket: Bucket) -> None:
        bucket.put(SENT_KEY, json.dumps(self.last, sort_keys=True).encode(), "application/json")

    def sent(self, location: Location, dt: int) -> bool:
        """Whether this observation, or a later one, was sent for `location`."""
        last = self.last.get(str(location))
        return last is not None and dt <= last


def poll(
    client: OpenWeatherClient,
    publisher: Publisher,
    bucket: Bucket,
    locations: Sequence[Location],
    *,
    budget: float = math.inf,
    clock: Callable[[], float] = time.monotonic,
) -> PollReport:
    """One tick: call, map, skip what was sent, publish the rest, then record them as sent.

    The locations least recently sent go first, and no call starts after `budget` seconds:
    the rest wait for the next tick, where they come first. So a list longer than one tick
    allows (the plan's calls per minute, the function's timeout) is polled in turns, never
    with the same locations always left out.

    Raises only when a backend fails (publisher, bucket): the caller answers 500 and the next
    attempt re-publishes rows whose ids collapse them into one.
    """
    table = registry()[TABLE]
    state = SentState.load(bucket)
    deadline = clock() + budget
    client.start_tick(budget)
    locations = sorted(locations, key=lambda p: state.last.get(str(p), -1))  # stable
    report = PollReport()
    rows: list[dict[str, Any]] = []
    sent: list[tuple[Location, int, str]] = []
    for index, location in enumerate(locations):
        if clock() >= deadline:
            reason = f"not polled: the tick's budget of {budget:g} s is spent; first next tick"
            _not_polled(report, locations[index:], reason)
            break
        try:
            body = client.current(location)
            row = to_row(body, location)
            validate_row(table, row)
        except BudgetSpentError as err:
            _not_polled(report, locations[index:], client.scrub(str(err)))
            break
        except (KeyRejectedError, RateLimitedError) as err:
            _tick_ended(report, locations[index:], client.scrub(str(err)), err)
            break
        except (LocationError, RowError) as err:
            # Scrubbed once more whole: a value the contract quotes may hold a piece of the key.
            text = str(err) if isinstance(err, LocationError) else f"contract: {err}"
            reason = client.scrub(text)
            report.results.append(LocationResult(str(location), "failed", reason=reason))
            log.warning(
                "weather location failed", extra={"location": str(location), "reason": reason}
            )
            continue
        dt = int(body["dt"])
        if state.sent(location, dt):
            report.results.append(LocationResult(str(location), "skipped", row["observed_at"]))
            continue
        rows.append(row)
        sent.append((location, dt, row["observed_at"]))
    if rows:
        publisher.publish(TABLE, rows)
        for location, dt, observed in sent:
            state.last[str(location)] = dt
            report.results.append(LocationResult(str(location), "published", observed))
        state.save(bucket)
    order = {str(location): index for index, location in enumerate(locations)}
    report.results.sort(key=lambda result: order.get(result.location, len(order)))
    log.info(
        "weather poll",
        extra={
            "locations": len(locations),
            "published": report.count("published"),
            "skipped": report.count("skipped"),
            "failed": report.count("failed"),
            "calls": client.calls,
        },
    )
    return report


def _tick_ended(
    report: PollReport, locations: Sequence[Location], reason: str, err: LocationError
) -> None:
    """A failure that every call would meet (401, a 429 storm): the first location fails,
    the rest are not polled."""
    first, rest = locations[0], locations[1:]
    report.results.append(LocationResult(str(first), "failed", reason=reason))
    if isinstance(err, KeyRejectedError):
        report.key_rejected = reason
    log.error(reason, extra={"location": str(first)})
    report.results.extend(
        LocationResult(str(p), "failed", reason=f"not polled: {reason}") for p in rest
    )


def _not_polled(report: PollReport, rest: Sequence[Location], reason: str) -> None:
    report.results.extend(LocationResult(str(p), "failed", reason=reason) for p in rest)
    log.warning(reason, extra={"not_polled": len(rest)})


def select_locations(
    settings: Settings, config: WeatherSettings, bucket: Bucket, now: datetime
) -> tuple[Location, ...]:
    """The configured locations, else the warehouse's home locations (cached in the bucket)."""
    if config.locations is not None:
        return config.locations

    def compute() -> tuple[Location, ...]:
        warehouse = settings.open_warehouse()
        try:
            return home_locations(
                warehouse,
                dialect=settings.warehouse_url.kind,
                grid=config.grid,
                today=now.date(),
            )
        finally:
            warehouse.close()

    return cached_home_locations(bucket, compute, grid=config.grid, now=now)


def run_tick(
    settings: Settings,
    config: WeatherSettings,
    publisher: Publisher,
    *,
    now: datetime,
    secret_client: Any = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PollReport:
    """Select the locations, read the key, poll once and publish through `publisher`."""
    bucket = settings.open_bucket()
    try:
        locations = select_locations(settings, config, bucket, now)
        if not locations:
            log.warning(
                "no weather locations: set LIVABILITY_WEATHER_LOCATIONS or register homes "
                "with a location"
            )
            return PollReport()
        key = api_key(config, client=secret_client)
        with _client(key, config, session, sleep) as client:
            return poll(client, publisher, bucket, locations, budget=config.budget_seconds)
    finally:
        bucket.close()


@contextmanager
def _client(
    key: str,
    config: WeatherSettings,
    session: requests.Session | None,
    sleep: Callable[[float], None],
) -> Iterator[OpenWeatherClient]:
    client = OpenWeatherClient(
        key,
        base_url=config.base_url,
        calls_per_minute=config.calls_per_minute,
        session=session,
        sleep=sleep,
    )
    try:
        yield client
    finally:
        client.close()
