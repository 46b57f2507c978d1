"""The one place the poller speaks to OpenWeatherMap: current weather, by coordinates, over HTTP.

`OpenWeatherClient` calls `/data/2.5/weather?lat=..&lon=..&units=metric&appid=..` through one
`requests.Session` with connect/read timeouts, paced to the plan's calls per minute.

Failures, by family: 401 (key rejected) is a `KeyRejectedError`, so the tick stops after that
one call: every other call would fail the same way, and a retry storm would only burn the
quota. 429 backs off (`Retry-After`, else exponential) a few times, then is a
`RateLimitedError`. 404 (whose `cod` is the string "404"), other HTTP errors, timeouts and
bodies that are not a JSON object are a `LocationError` with the reason. The API key never
reaches a log line or an exception message: requests puts the URL, `appid=` included, in its
errors, so every message from the transport is scrubbed, and urllib3's own debug log of the
URL is filtered while a client is open.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from livability.weather.errors import KeyRejectedError, LocationError, RateLimitedError
from schemas.validation import shown

if TYPE_CHECKING:
    import requests

    from livability.weather.locations import Location

log = logging.getLogger(__name__)

OWM_BASE_URL = "https://api.openweathermap.org"
CURRENT_PATH = "/data/2.5/weather"
FREE_TIER_CALLS_PER_MINUTE = 60  # openweathermap.org/price, the free plan
DEFAULT_TIMEOUT = (3.05, 10.0)  # connect, read (seconds)
MAX_429_RETRIES = 2
MAX_BACKOFF = 10.0  # a tick is short: a longer wait is better spent in the next one
_SCRUBBED = "***"


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
