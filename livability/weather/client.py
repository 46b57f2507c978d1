"""The one place the poller speaks to OpenWeatherMap: current weather, by coordinates, over HTTP.

`OpenWeatherClient` calls `/data/2.5/weather?lat=..&lon=..&units=metric&appid=..` through one
`requests.Session`, paced to the plan's calls per minute. A reply is evidence, not a fact:

- Time: one deadline per tick (`start_tick(budget)`). Every wait (pacing, a 429's backoff)
  that would end after it is not taken, and every read and write on the connection is bounded
  by the time left as well as by the read timeout (`_DeadlineSocket`), so neither a 429
  storm nor a body trickling a byte at a time can hold a tick past its deadline.
- Size: an answer is streamed and at most `BODY_LIMIT` bytes are read (an announced larger
  one is not read at all); no compression is asked for, none is undone.
- Redirects are never followed: the key is in the query, and another origin must not see it.
- The key: every string of a reply is scrubbed (`livability.weather.redact`) before anything
  is cut short, logged or returned; the parsed body comes back scrubbed; requests' own errors
  (which quote the URL) are scrubbed; urllib3's debug log of the URL is filtered while a
  client is open.

Failures, by family: 401 is a `KeyRejectedError` (the tick stops: every call would fail the
same way). 429 backs off (`Retry-After`, else exponential) a few times, then is a
`RateLimitedError`, also when its wait would pass the deadline. A pacing wait past the
deadline is a `BudgetSpentError`. Other HTTP answers (404's `cod` is the string "404"),
redirects, timeouts, answers too large and bodies that are not a JSON object are a
`LocationError` with the reason.
"""

from __future__ import annotations

import io
import json
import logging
import math
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from livability.weather.errors import (
    BudgetSpentError,
    KeyRejectedError,
    LocationError,
    RateLimitedError,
)
from livability.weather.redact import Scrubber
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
# A current-weather body is about 1 KB; 64 times that is no weather answer.
BODY_LIMIT = 64 * 1024
REASON_CHARS = 200  # of a page that is not OpenWeatherMap's JSON, kept in a reason


class _RedactKey(logging.Filter):
    """Replaces the key in records of a logger that writes URLs (urllib3 at DEBUG)."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        scrubbed = self._scrub(text)
        if scrubbed != text:
            record.msg, record.args = scrubbed, None
        return True


_URL_LOGGERS = ("urllib3.connectionpool",)


class _DeadlineSocket:
    """A connected socket whose every read and write waits at most the time left before
    `left()` reaches 0 (and at most its own timeout): a peer trickling bytes cannot hold
    it past the deadline. Everything else is the socket's own."""

    def __init__(self, sock: Any, left: Callable[[], float]) -> None:
        self._sock, self._left = sock, left
        self._timeout: float | None = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def _arm(self) -> None:
        left = self._left()
        if left <= 0:
            raise TimeoutError("the tick's deadline has passed")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return int(self._sock.recv_into(buffer, nbytes, flags))

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._arm()
        return bytes(self._sock.recv(size, flags))

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", *_: Any, **__: Any) -> Any:
        # http.client reads the answer through this file: its reads come back to recv_into.
        self._sock._io_refs += 1  # as socket.makefile does: close() waits for the file
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _deadline_session(session: requests.Session, left: Callable[[], float]) -> None:
    """Mount adapters whose connections are `_DeadlineSocket`s on `session`."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Plain(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = _DeadlineSocket(self.sock, left)

    class Secure(HTTPSConnection):
        def connect(self) -> None:
            super().connect()  # the TLS handshake: bounded by the connect and read timeouts
            self.sock = _DeadlineSocket(self.sock, left)

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = Secure

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": PlainPool, "https": SecurePool}

    for scheme in ("http://", "https://"):
        session.mount(scheme, Adapter(max_retries=0))


class OpenWeatherClient:
    """Current weather by coordinates; one Session, a deadline, pacing and 429 backoff."""

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
        self.scrub = Scrubber(key)
        self._url = base_url.rstrip("/") + CURRENT_PATH
        self.timeout = timeout
        self._interval = 60.0 / calls_per_minute
        self._max_429_retries = max_429_retries
        self._max_backoff = max_backoff
        self._session = session or requests.Session()
        _deadline_session(self._session, self.left)
        self._clock, self._sleep = clock, sleep
        self._next_call = -math.inf
        self.deadline = math.inf  # on `clock`; `start_tick` sets it
        self.calls = 0
        self._filter = _RedactKey(self.scrub)
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

    def start_tick(self, budget: float) -> None:
        """From now, `budget` seconds for every call, wait and read of this tick."""
        self.deadline = self._clock() + budget

    def left(self) -> float:
        """Seconds left before the tick's deadline."""
        return self.deadline - self._clock()

    def current(self, location: Location) -> dict[str, Any]:
        """The current-weather body for `location` (every string in it scrubbed of the key),
        or a `LocationError` with the reason."""
        params = {
            "lat": repr(location.lat),
            "lon": repr(location.lon),
            "units": "metric",
            "appid": self._key,
        }
        for attempt in range(self._max_429_retries + 1):
            self._pace()
            self.calls += 1
            status, headers, data = self._get(params)
            if status != 429:
                return self._body(status, data)
            wait = self._backoff(attempt, headers.get("Retry-After", ""))
            if attempt == self._max_429_retries:
                break
            if wait >= self.left():  # a wait to the deadline leaves no time for the call
                raise RateLimitedError(
                    f"rate limited by OpenWeatherMap (429); its wait of {wait:g} s would pass "
                    f"the tick's deadline: {self._message(data)}"
                )
            log.warning(
                "OpenWeatherMap rate limit (429); backing off",
                extra={"location": str(location), "wait_s": wait, "attempt": attempt + 1},
            )
            self._sleep(wait)
        raise RateLimitedError(
            f"rate limited by OpenWeatherMap (429) after {self._max_429_retries + 1} calls "
            f"with backoff: {self._message(data)}"
        )

    def _get(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """One GET: its status, headers and at most `BODY_LIMIT` bytes of body."""
        import requests
        import urllib3

        left = self.left()
        if left <= 0:
            raise BudgetSpentError("not polled: the tick's deadline has passed; first next tick")
        connect, read = (min(limit, left) for limit in self.timeout)
        try:
            response = self._session.get(
                self._url,
                params=params,
                timeout=(connect, read),
                stream=True,
                allow_redirects=False,
                headers={"Accept-Encoding": "identity"},
            )
            try:
                data = self._read(response)
            finally:
                response.close()
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            if self.left() <= 0:
                raise LocationError(
                    "no complete answer from OpenWeatherMap before the tick's deadline"
                ) from None
            raise LocationError(
                f"no answer from OpenWeatherMap within {self.timeout[1]:g} s "
                f"(connect {self.timeout[0]:g} s)"
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
            # Every other transport failure; requests quotes the URL, key included.
            raise LocationError(
                f"request failed: {type(err).__name__}: {self.scrub(str(err))[:300]}"
            ) from None
        return response.status_code, dict(response.headers), data

    def _read(self, response: requests.Response) -> bytes:
        announced = response.headers.get("Content-Length", "")
        if announced.isascii() and announced.isdigit() and int(announced) > BODY_LIMIT:
            raise LocationError(
                f"OpenWeatherMap answered HTTP {response.status_code} with "
                f"{shown(int(announced))} bytes: more than {BODY_LIMIT} bytes, not read"
            )
        data = bytes(response.raw.read(BODY_LIMIT + 1, decode_content=False))
        if len(data) > BODY_LIMIT:
            raise LocationError(
                f"OpenWeatherMap answered HTTP {response.status_code} with more than "
                f"{BODY_LIMIT} bytes: not read past them"
            )
        return data

    def _pace(self) -> None:
        """At most `calls_per_minute`: the next call waits for its slot, within the tick."""
        now = self._clock()
        if self._next_call > now:
            wait = self._next_call - now
            if wait >= self.deadline - now:
                raise BudgetSpentError(
                    f"not polled: the plan's pace ({wait:g} s to the next call) passes the "
                    "tick's deadline; first next tick"
                )
            self._sleep(wait)
            now = self._next_call
        self._next_call = now + self._interval

    def _backoff(self, attempt: int, retry_after: str) -> float:
        if retry_after.isascii() and retry_after.isdigit():
            return min(float(retry_after[:12]), self._max_backoff)
        return min(max(self._interval, 1.0) * 2.0**attempt, self._max_backoff)

    def _json(self, data: bytes) -> Any:
        """The body parsed and scrubbed; None when it is not JSON."""
        try:
            return self.scrub.value(json.loads(data))
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past parsing
            return None

    def _text(self, data: bytes, chars: int = REASON_CHARS) -> str:
        """The start of a body that is not JSON: scrubbed whole, then cut and shown."""
        return shown(self.scrub(data.decode("utf-8", "replace"))[:chars])

    def _message(self, data: bytes) -> str:
        """OpenWeatherMap's `message` (or the start of the body), scrubbed and bounded."""
        body = self._json(data)
        text = body.get("message") if isinstance(body, dict) else None
        return shown(text) if isinstance(text, str) else self._text(data)

    def _body(self, status: int, data: bytes) -> dict[str, Any]:
        if status == 401:
            raise KeyRejectedError(
                f"OpenWeatherMap rejected the API key (401): {self._message(data)}; "
                "check the secret's latest version (a new key takes up to 2 hours to activate)"
            )
        body = self._json(data)
        if 300 <= status < 400:
            raise LocationError(
                f"OpenWeatherMap answered HTTP {status}: a redirect, not followed (the key "
                "is in the query, and no other origin may see it)"
            )
        if status != 200:
            cod = f" (cod {shown(body['cod'])})" if isinstance(body, dict) and "cod" in body else ""
            raise LocationError(
                f"OpenWeatherMap answered HTTP {status}{cod}: {self._message(data)}"
            )
        if body is None:
            raise LocationError(f"malformed body: not JSON ({self._text(data, 80)})")
        if not isinstance(body, dict):
            raise LocationError(f"malformed body: {shown(body)} is not a JSON object")
        if "cod" in body and str(body["cod"]) != "200":  # the API mixes 200 and "200"
            raise LocationError(
                f"OpenWeatherMap answered cod {shown(body['cod'])}: "
                f"{shown(str(body.get('message', '')))}"
            )
        return body
