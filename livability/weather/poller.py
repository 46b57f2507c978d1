"""The weather poller: OpenWeatherMap current weather → `weather_data` rows → the publisher.

One tick (Cloud Scheduler calls `functions/weather.py::meteodata_event` every 10 minutes, or
`livability weather poll` once):

1. Locations: the configured ones (`LIVABILITY_WEATHER_LOCATIONS`), else the distinct home
   locations in the warehouse snapped to a grid (`LIVABILITY_WEATHER_GRID` degrees), so the
   homes of one neighbourhood share a call. The list is cached in the bucket
   (`state/weather/locations.json`) and recomputed every `LOCATIONS_MAX_AGE`: at a million
   homes a scan per tick would cost more than the rest of the pipeline.
2. One call per location to `/data/2.5/weather?lat=..&lon=..&units=metric&appid=..` through
   one `requests.Session` with connect/read timeouts, paced to the plan's calls per minute.
3. Each body becomes a `weather_data` row mapped as the reference poller did (its archived
   rows show the result): `main.temp`, `main.humidity`, `main.pressure`, `wind.deg`,
   `wind.speed`, `sys.sunrise`, `sys.sunset`, `clouds.all`, `weather[0].description`, and the
   polled point as `POINT(lon lat)`. `dt`, the observation time, goes to `timestamp` and
   `observed_at`, so a re-poll of the same observation is the same row and has the same
   `row_id`.
4. A (location, `dt`) already sent (state in `state/weather/sent.json`) is skipped: OWM
   updates at most every 10 minutes. The state is saved only after the publisher accepted
   the rows; a crash in between re-publishes rows whose ids collapse them into one.

Failures, by family: 401 (key rejected) stops the tick after that one call: every other call
would fail the same way, and a retry storm would only burn the quota. 429 backs off
(`Retry-After`, else exponential) a few times, then ends the tick, the remaining locations
reported as not polled. 404 (whose `cod` is the string "404"), other HTTP errors, timeouts,
bodies that are not JSON or miss `dt`, and values outside the contract each fail their
location with a logged reason; the other locations are still polled. The API key never
reaches a log line or an exception message: requests puts the URL, `appid=` included, in its
errors, so every message from the transport is scrubbed, and urllib3's own debug log of the
URL is filtered while a client is open.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, quote_plus

from livability.ports import BackendError, ObjectNotFoundError
from schemas import registry
from schemas.geo import PointError, parse_point, point_wkt
from schemas.validation import RowError, shown, validate_row

if TYPE_CHECKING:
    import requests

    from livability.ports import Bucket, Publisher, Warehouse
    from livability.settings import Settings

log = logging.getLogger(__name__)

TABLE = "weather_data"
OWM_BASE_URL = "https://api.openweathermap.org"
CURRENT_PATH = "/data/2.5/weather"
SENT_KEY = "state/weather/sent.json"
LOCATIONS_KEY = "state/weather/locations.json"
LOCATIONS_MAX_AGE = timedelta(hours=6)
# Home locations come from the readings of the last days: two partitions, not the table.
LOCATION_DAYS = 2
DEFAULT_GRID = 0.1  # degrees: about 11 km north-south; a home is at most ~8 km from its point
FREE_TIER_CALLS_PER_MINUTE = 60  # openweathermap.org/price, the free plan
DEFAULT_TIMEOUT = (3.05, 10.0)  # connect, read (seconds)
MAX_429_RETRIES = 2
# Seconds of calls per tick: the function's timeout (60 s) less a read timeout and the publish.
DEFAULT_BUDGET = 45.0
MAX_BACKOFF = 10.0  # a tick is short: a longer wait is better spent in the next one
SECRET_TIMEOUT = 10.0
_SCRUBBED = "***"

_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?$")
_SECRET = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")
_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s*$")


class WeatherConfigError(ValueError):
    """A weather setting the poller cannot use; the message names the variable and value."""


class SecretError(BackendError):
    """Secret Manager did not give the API key (unreachable, missing, or not allowed)."""


class LocationError(Exception):
    """One location could not be polled; the message is the reason, without the key."""


class KeyRejectedError(LocationError):
    """OpenWeatherMap refused the API key (401): no other call can succeed."""


class RateLimitedError(LocationError):
    """OpenWeatherMap kept answering 429 through the backoff."""


# --- Locations ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Location:
    """A point polled for weather, in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude {self.lat!r} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude {self.lon!r} is outside -180..180")

    def __str__(self) -> str:
        return f"{self.lat!r},{self.lon!r}"

    @property
    def wkt(self) -> str:
        """As the contract's GEOGRAPHY columns take it: longitude first."""
        return point_wkt(self.lon, self.lat)


def parse_locations(
    text: str, variable: str = "LIVABILITY_WEATHER_LOCATIONS"
) -> tuple[Location, ...]:
    """`lat,lon;lat,lon` → locations, each once, in the order given."""
    found: list[Location] = []
    for index, part in enumerate(text.split(";")):
        if not part.strip():
            continue
        match = _PAIR.match(part)
        if match is None:
            raise WeatherConfigError(
                f"{variable}: location {index + 1} {part.strip()!r} is not 'lat,lon' in degrees"
            )
        try:
            location = Location(float(match[1]) + 0.0, float(match[2]) + 0.0)
        except ValueError as err:
            raise WeatherConfigError(
                f"{variable}: location {index + 1} {part.strip()!r}: {err}"
            ) from None
        if location not in found:
            found.append(location)
    if not found:
        raise WeatherConfigError(f"{variable}: {text!r} names no location ('lat,lon;lat,lon')")
    return tuple(found)


def snap(lat: float, lon: float, grid: float) -> Location:
    """The grid point nearest to (lat, lon): homes of one cell share a call."""
    # round() twice: 519 * 0.1 is 51.900000000000006, which would make a new location.
    return Location(
        round(min(90.0, max(-90.0, round(lat / grid) * grid)), 6) + 0.0,
        round(min(180.0, max(-180.0, round(lon / grid) * grid)), 6) + 0.0,
    )


def _location_sql(dialect: str, dataset: str) -> str:
    # DISTINCT on text: BigQuery cannot group GEOGRAPHY; DuckDB stores it as WKT text already.
    # The raw table, not the _dedup view: duplicates do not change a DISTINCT.
    column = "ST_ASTEXT(data.location)" if dialect == "bigquery" else "data.location"
    return (  # the dataset name is validated by Settings; values are parameters
        f"SELECT DISTINCT {column} AS location FROM {dataset}.sensor_thermo_beacon "  # noqa: S608
        "WHERE day BETWEEN @first_day AND @last_day AND data.location IS NOT NULL"
    )


def home_locations(
    warehouse: Warehouse, *, dialect: str, grid: float, today: date
) -> tuple[Location, ...]:
    """The distinct home locations of the last `LOCATION_DAYS` days, snapped to `grid`."""
    table = warehouse.query(
        _location_sql(dialect, warehouse.dataset),
        {"first_day": today - timedelta(days=LOCATION_DAYS - 1), "last_day": today},
    )
    points: set[Location] = set()
    for text in table.column("location").to_pylist():
        try:
            lon, lat = parse_point(text)
        except PointError:
            log.warning("home location is not a WKT point; skipped", extra={"value": shown(text)})
            continue
        points.add(snap(lat, lon, grid))
    return tuple(sorted(points))


def cached_home_locations(
    bucket: Bucket,
    compute: Callable[[], tuple[Location, ...]],
    *,
    grid: float,
    now: datetime,
    max_age: timedelta = LOCATIONS_MAX_AGE,
) -> tuple[Location, ...]:
    """`compute()`'s locations, kept in the bucket and recomputed when stale or damaged."""
    try:
        cached = json.loads(bucket.get(LOCATIONS_KEY))
        computed_at = datetime.fromisoformat(cached["computed_at"])
        if cached["grid"] == grid and timedelta(0) <= now - computed_at < max_age:
            return tuple(Location(float(lat), float(lon)) for lat, lon in cached["locations"])
    except ObjectNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as err:  # damaged: recompute and overwrite it
        log.warning(
            "cached weather locations unreadable; recomputing",
            extra={"key": LOCATIONS_KEY, "reason": f"{type(err).__name__}: {shown(str(err))}"},
        )
    locations = compute()
    body = {
        "computed_at": now.isoformat(),
        "grid": grid,
        "locations": [[p.lat, p.lon] for p in locations],
    }
    bucket.put(LOCATIONS_KEY, json.dumps(body).encode(), "application/json")
    return locations


# --- Settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeatherSettings:
    """The poller's own settings; read once by its entry point (`from_env`)."""

    api_key_secret: str | None = None  # projects/P/secrets/S/versions/V
    api_key: str | None = field(default=None, repr=False)  # local runs; never printed
    locations: tuple[Location, ...] | None = None  # None: the homes in the warehouse
    grid: float = DEFAULT_GRID
    base_url: str = OWM_BASE_URL
    calls_per_minute: int = FREE_TIER_CALLS_PER_MINUTE
    budget_seconds: float = DEFAULT_BUDGET
    secret_emulator: str | None = None  # SECRET_MANAGER_EMULATOR_HOST: http://HOST:PORT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WeatherSettings:
        """OPENWEATHER_API_KEY_SECRET, OPENWEATHER_API_KEY, LIVABILITY_WEATHER_LOCATIONS,
        LIVABILITY_WEATHER_GRID, LIVABILITY_WEATHER_BUDGET_S, OPENWEATHER_BASE_URL,
        OPENWEATHER_CALLS_PER_MINUTE, SECRET_MANAGER_EMULATOR_HOST."""
        secret = environ.get("OPENWEATHER_API_KEY_SECRET") or None
        if secret is not None and not _SECRET.match(secret):
            raise WeatherConfigError(
                f"OPENWEATHER_API_KEY_SECRET: {secret!r} is not "
                "projects/PROJECT/secrets/SECRET/versions/VERSION"
            )
        locations = environ.get("LIVABILITY_WEATHER_LOCATIONS") or None
        return cls(
            api_key_secret=secret,
            api_key=(environ.get("OPENWEATHER_API_KEY") or "").strip() or None,
            locations=parse_locations(locations) if locations else None,
            grid=_number(environ, "LIVABILITY_WEATHER_GRID", DEFAULT_GRID, 1e-4, 10.0),
            base_url=base_url(environ.get("OPENWEATHER_BASE_URL") or OWM_BASE_URL),
            calls_per_minute=int(
                _number(environ, "OPENWEATHER_CALLS_PER_MINUTE", FREE_TIER_CALLS_PER_MINUTE, 1, 1e6)
            ),
            budget_seconds=_number(environ, "LIVABILITY_WEATHER_BUDGET_S", DEFAULT_BUDGET, 1, 3600),
            secret_emulator=_emulator(environ.get("SECRET_MANAGER_EMULATOR_HOST")),
        )


def base_url(text: str, variable: str = "OPENWEATHER_BASE_URL") -> str:
    if not _BASE_URL.match(text):
        raise WeatherConfigError(f"{variable}: {text!r} is not http(s)://HOST[:PORT]")
    return text.rstrip("/")


def _number(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN fails too
        raise WeatherConfigError(f"{name}: {text!r} is not a number from {low:g} to {high:g}")
    return value


def _emulator(value: str | None) -> str | None:
    if not value:
        return None
    url = value if value.startswith(("http://", "https://")) else f"http://{value}"
    return base_url(url, "SECRET_MANAGER_EMULATOR_HOST")


def api_key(config: WeatherSettings, *, client: Any = None) -> str:
    """The OpenWeatherMap key: from Secret Manager when a secret is named, else the variable."""
    if config.api_key_secret is not None:
        return read_secret(config.api_key_secret, emulator=config.secret_emulator, client=client)
    if config.api_key is not None:
        return config.api_key
    raise WeatherConfigError(
        "OPENWEATHER_API_KEY_SECRET: not set, and no OPENWEATHER_API_KEY either "
        "(a Secret Manager version name, or the key itself for local runs)"
    )


def read_secret(name: str, *, emulator: str | None = None, client: Any = None) -> str:
    """The payload of a Secret Manager version, as text. Errors name the secret, never its value."""
    import requests
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError

    try:
        if client is None:
            client = _secret_client(emulator)
        response = client.access_secret_version(name=name, timeout=SECRET_TIMEOUT)
    # The REST transport lets requests' own errors through (a refused connection, say).
    except (exceptions.GoogleAPIError, GoogleAuthError, requests.RequestException) as err:
        kind = type(err).__name__
        raise SecretError(f"cannot read secret {name}: {kind}: {_api_message(err)}") from None
    try:
        key = bytes(response.payload.data).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretError(f"secret {name} is not UTF-8 text") from None
    if not key:
        raise SecretError(f"secret {name} is empty")
    return key


def _secret_client(emulator: str | None) -> Any:
    from google.cloud import secretmanager

    if emulator is None:
        return secretmanager.SecretManagerServiceClient()
    from google.auth.credentials import AnonymousCredentials

    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator},
    )


def _api_message(err: BaseException) -> str:
    message = getattr(err, "message", None)
    return shown(str(message if message is not None else err))


# --- The OpenWeatherMap client -----------------------------------------------------------------


def _scrub(text: str, key: str) -> str:
    """`text` without `key`, raw or as a URL quotes it (a key is hex today; be sure anyway)."""
    for form in sorted({key, quote(key, safe=""), quote_plus(key)}, key=len, reverse=True):
        text = text.replace(form, _SCRUBBED)
    return text


class _RedactKey(logging.Filter):
    """Replaces the key in records of a logger that writes URLs (urllib3 at DEBUG)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self._key = key

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        scrubbed = _scrub(text, self._key)
        if scrubbed != text:
            record.msg, record.args = scrubbed, None
        return True


_URL_LOGGERS = ("urllib3.connectionpool",)


class OpenWeatherClient:
    """Current weather by coordinates; one Session, timeouts, pacing and 429 backoff."""

    def __init__(
        self,
        key: str,
        *,
        base_url: str = OWM_BASE_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        calls_per_minute: int = FREE_TIER_CALLS_PER_MINUTE,
        max_429_retries: int = MAX_429_RETRIES,
        max_backoff: float = MAX_BACKOFF,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        if not key or not key.strip():
            raise ValueError("the OpenWeatherMap API key is empty")
        self._key = key
        self._url = base_url.rstrip("/") + CURRENT_PATH
        self.timeout = timeout
        self._interval = 60.0 / calls_per_minute
        self._max_429_retries = max_429_retries
        self._max_backoff = max_backoff
        self._session = session or requests.Session()
        self._clock, self._sleep = clock, sleep
        self._next_call = -math.inf
        self.calls = 0
        self._filter = _RedactKey(key)
        for name in _URL_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def __enter__(self) -> OpenWeatherClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        for name in _URL_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    def scrub(self, text: str) -> str:
        """`text` without the key (requests quotes the URL, `appid=` included, in errors)."""
        return _scrub(text, self._key)

    def current(self, location: Location) -> dict[str, Any]:
        """The current-weather body for `location`, or a `LocationError` with the reason."""
        import requests

        params = {
            "lat": repr(location.lat),
            "lon": repr(location.lon),
            "units": "metric",
            "appid": self._key,
        }
        for attempt in range(self._max_429_retries + 1):
            self._pace()
            self.calls += 1
            try:
                response = self._session.get(self._url, params=params, timeout=self.timeout)
            except requests.Timeout:
                raise LocationError(
                    f"no answer from OpenWeatherMap within {self.timeout[1]:g} s "
                    f"(connect {self.timeout[0]:g} s)"
                ) from None
            except requests.RequestException as err:  # every transport failure of the call
                raise LocationError(
                    f"request failed: {type(err).__name__}: {self.scrub(str(err))[:300]}"
                ) from None
            if response.status_code != 429:
                return self._body(response)
            wait = self._backoff(attempt, response)
            if attempt == self._max_429_retries:
                break
            log.warning(
                "OpenWeatherMap rate limit (429); backing off",
                extra={"location": str(location), "wait_s": wait, "attempt": attempt + 1},
            )
            self._sleep(wait)
        raise RateLimitedError(
            f"rate limited by OpenWeatherMap (429) after {self._max_429_retries + 1} calls "
            f"with backoff: {self._message(response)}"
        )

    def _pace(self) -> None:
        """At most `calls_per_minute`: the next call waits for its slot."""
        now = self._clock()
        if self._next_call > now:
            self._sleep(self._next_call - now)
            now = self._next_call
        self._next_call = now + self._interval

    def _backoff(self, attempt: int, response: requests.Response) -> float:
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isascii() and retry_after.isdigit():
            return min(float(retry_after), self._max_backoff)
        return min(max(self._interval, 1.0) * 2.0**attempt, self._max_backoff)

    def _message(self, response: requests.Response) -> str:
        """OpenWeatherMap's `message` (or the start of the body), scrubbed and bounded."""
        try:
            body = response.json()
        except ValueError:
            body = None
        text = body.get("message") if isinstance(body, dict) else None
        if not isinstance(text, str):
            text = response.text[:200]
        return shown(self.scrub(text))

    def _body(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise KeyRejectedError(
                f"OpenWeatherMap rejected the API key (401): {self._message(response)}; "
                "check the secret's latest version (a new key takes up to 2 hours to activate)"
            )
        if status != 200:
            cod = _cod(response)
            raise LocationError(
                f"OpenWeatherMap answered HTTP {status}{cod}: {self._message(response)}"
            )
        try:
            body = response.json()
        except ValueError:  # requests' JSONDecodeError, or bytes that are not UTF-8
            raise LocationError(
                f"malformed body: not JSON ({shown(self.scrub(response.text[:80]))})"
            ) from None
        if not isinstance(body, dict):
            raise LocationError(f"malformed body: {shown(body)} is not a JSON object")
        if "cod" in body and str(body["cod"]) != "200":  # the API mixes 200 and "200"
            raise LocationError(
                f"OpenWeatherMap answered cod {shown(body['cod'])}: "
                f"{shown(self.scrub(str(body.get('message', ''))))}"
            )
        return body


def _cod(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return f" (cod {shown(body['cod'])})" if isinstance(body, dict) and "cod" in body else ""


# --- Mapping -----------------------------------------------------------------------------------


def _object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LocationError(f"malformed body: {name}: {shown(value)} is not an object")
    return value


def _unix(value: Any, name: str) -> str | None:
    """A Unix time in seconds as ISO 8601 UTC; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LocationError(f"malformed body: {name}: {shown(value)} is not a Unix time")
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise LocationError(
            f"malformed body: {name}: {shown(value)} is not a representable Unix time"
        ) from None
    return moment.isoformat()


def to_row(body: Mapping[str, Any], location: Location) -> dict[str, Any]:
    """A current-weather body as a `weather_data` row (JSON form, not yet validated)."""
    observed = _unix(body.get("dt"), "dt")
    if observed is None:
        raise LocationError("malformed body: dt: required field is missing")
    main, wind, clouds, sun = (_object(body, n) for n in ("main", "wind", "clouds", "sys"))
    conditions = body.get("weather")
    description = None
    if isinstance(conditions, list) and conditions and isinstance(conditions[0], Mapping):
        description = conditions[0].get("description")
    elif conditions is not None and conditions != []:
        raise LocationError(f"malformed body: weather: {shown(conditions)} is not a list")
    return {
        "day": observed[:10],
        "timestamp": observed,
        "observed_at": observed,
        "data": {
            "temperature": main.get("temp"),
            "humidity": main.get("humidity"),
            "pressure": main.get("pressure"),
            "wind_direction": wind.get("deg"),
            "wind_speed": wind.get("speed"),
            "sunrise": _unix(sun.get("sunrise"), "sys.sunrise"),
            "sunset": _unix(sun.get("sunset"), "sys.sunset"),
            "clouds": clouds.get("all"),
            "description": description,
            "location": location.wkt,
        },
    }


# --- The tick ----------------------------------------------------------------------------------

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
    locations = sorted(locations, key=lambda p: state.last.get(str(p), -1))  # stable
    report = PollReport()
    rows: list[dict[str, Any]] = []
    sent: list[tuple[Location, int, str]] = []
    for index, location in enumerate(locations):
        if clock() >= deadline:
            reason = f"not polled: the tick's budget of {budget:g} s is spent; first next tick"
            report.results.extend(
                LocationResult(str(rest), "failed", reason=reason) for rest in locations[index:]
            )
            log.warning(reason, extra={"not_polled": len(locations) - index})
            break
        try:
            body = client.current(location)
            row = to_row(body, location)
            validate_row(table, row)
        except (KeyRejectedError, RateLimitedError) as err:
            report.results.append(LocationResult(str(location), "failed", reason=str(err)))
            if isinstance(err, KeyRejectedError):
                report.key_rejected = str(err)
            log.error(str(err), extra={"location": str(location)})  # noqa: TRY400 - no traceback
            report.results.extend(
                LocationResult(str(rest), "failed", reason=f"not polled: {err}")
                for rest in locations[index + 1 :]
            )
            break
        except (LocationError, RowError) as err:
            reason = str(err) if isinstance(err, LocationError) else f"contract: {err}"
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
