"""A hostile OpenWeatherMap stand-in: a real HTTP server on 127.0.0.1 that misbehaves.

Each location's latitude picks a behaviour (`BEHAVIOURS`): bodies that echo the API key from
the query into `cod`, `main`, `dt`, `message` or the description, in upper case, or only a
fragment of it; an HTML error page that quotes the request URL, key included, across the
point where a reason is cut short; a body that trickles a byte at a time; a body far larger
than any weather answer (announced, or chunked without a length); a redirect to another
port with the key in its query; a reply without `main`; a 429 storm. Everything the server
receives is recorded (`requests`), and a second server (`elsewhere`) records whether a
redirect was followed. The key of a request is taken from its query, as the real API does,
so whatever the client sends is what comes back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.weather.owm_bodies import LUTON, TOO_MANY, luton

TRICKLE_BYTES = 400  # the body of a trickle: more than a tick lets through at its pace
HUGE_BYTES = 50 * 1024 * 1024  # the 50 MB answer


@dataclass
class Seen:
    """What the stand-in received: the path and query of each request, and who hung up."""

    requests: list[str] = field(default_factory=list)
    cut_short: list[str] = field(default_factory=list)  # bodies the client stopped reading
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, target: str) -> None:
        with self.lock:
            self.requests.append(target)


Reply = tuple[int, dict[str, str], bytes]


def _json(body: Any, status: int = 200, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def _page_quoting(url: str, cut: int) -> Reply:
    # An error page that quotes the request URL with the key across character `cut`: 200 (the
    # length a reason keeps of a page) or 60 (the length of a value shown in a message).
    head = "<html><body><h1>502 Bad Gateway</h1><p>while fetching " if cut > 100 else ""
    pad = max(0, cut - 10 - len(head) - url.index("appid=") - len("appid="))
    text = f"{head}{'.' * pad}{url}</p></body></html>"
    return 502, {"Content-Type": "text/html"}, text.encode()


# Latitude → behaviour; `key` is the key as the client sent it, `url` the request target.
BEHAVIOURS: dict[str, Callable[[str, str, int], Reply]] = {
    "cod": lambda key, url, _: _json({"cod": key, "message": "ok"}),
    "cod_number_message": lambda key, url, _: _json(
        {"cod": 400, "message": f"wrong parameter: appid={key}"}, 400
    ),
    "main": lambda key, url, _: _json(luton(main=key)),
    "dt": lambda key, url, _: _json(luton(dt=key)),
    "dt_number_text": lambda key, url, _: _json(luton(dt=f"{key}{key}")),
    "upper": lambda key, url, _: _json({"cod": "404", "message": f"no key {key.upper()}"}, 404),
    "fragment": lambda key, url, _: _json(
        {"cod": "404", "message": f"{'x' * 50} appid={key[:11]} and ={key[-9:]}"}, 404
    ),
    "description": lambda key, url, _: _json(
        luton(weather=[{"id": 803, "main": "Clouds", "description": f"clouds {key} and more"}])
    ),
    "long_description": lambda key, url, _: _json(
        luton(weather=[{"id": 803, "main": "Clouds", "description": "grey " * 190 + key}])
    ),
    "html_url": lambda key, url, _: _page_quoting(url, 200),
    "html_url_60": lambda key, url, _: _page_quoting(url, 60),
    "not_json": lambda key, url, _: (200, {}, f"{'#' * 70}{key}".encode()),
    "no_main": lambda key, url, _: _json({k: v for k, v in LUTON.items() if k != "main"}),
    "main_null": lambda key, url, _: _json(luton(main=None)),
    "storm": lambda key, url, _: _json(TOO_MANY, 429, **{"Retry-After": "2"}),
    "storm_long": lambda key, url, _: _json(TOO_MANY, 429, **{"Retry-After": "3600"}),
    "storm_bare": lambda key, url, _: _json(TOO_MANY, 429),
    "redirect": lambda key, url, other: (
        302,
        {"Location": f"http://127.0.0.1:{other}/data/2.5/weather?appid={key}"},
        b"",
    ),
    "ok": lambda key, url, _: _json(LUTON),
}
STREAMED = ("trickle", "huge", "huge_chunked")
LATITUDES = {name: float(i) for i, name in enumerate([*BEHAVIOURS, *STREAMED])}


def behaviour_of(latitude: float) -> str:
    for name, lat in LATITUDES.items():
        if lat == latitude:
            return name
    return "ok"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.add(self.path)
        query = parse_qs(urlsplit(self.path).query)
        key = query.get("appid", [""])[0]
        name = behaviour_of(float(query.get("lat", ["-1"])[0]))
        try:
            if name in STREAMED:
                self._stream(name, key)
                return
            status, headers, body = BEHAVIOURS[name](key, self.path, self.server.other_port)
            self.send_response(status)
            for header, value in headers.items():
                self.send_header(header, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client hung up, as it should on a hostile answer
            self.server.seen.cut_short.append(name)
            self.close_connection = True

    def _stream(self, name: str, key: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        chunked = name == "huge_chunked"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            size = TRICKLE_BYTES if name == "trickle" else HUGE_BYTES
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if name == "trickle":
            body = json.dumps(luton(name=key)).encode().ljust(TRICKLE_BYTES)
            for i in range(TRICKLE_BYTES):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(0.05)
            return
        block = (b'{"description": "' + key.encode() + b'"' + b" " * 65536)[:65536]
        for _ in range(HUGE_BYTES // len(block)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *_: Any) -> None:
        pass  # its access log would print the key: the stand-in's own output, not ours


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, seen: Seen, other_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen = seen
        self.other_port = other_port


@dataclass
class Hostile:
    url: str  # base URL of the stand-in
    seen: Seen  # what it received
    elsewhere: Seen  # what the other origin (a redirect's target) received


@contextmanager
def hostile_owm() -> Iterator[Hostile]:
    """The stand-in and a second server on another port; both stopped after."""
    elsewhere_seen, seen = Seen(), Seen()
    other = _Server(elsewhere_seen, 0)
    server = _Server(seen, other.server_port)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (server, other)]
    for thread in threads:
        thread.start()
    try:
        yield Hostile(f"http://127.0.0.1:{server.server_port}", seen, elsewhere_seen)
    finally:
        for s in (server, other):
            s.shutdown()
            s.server_close()


def fragments(key: str, shortest: int = 8) -> set[str]:
    """Every piece of `key` at least `shortest` characters long, as searched for in output."""
    return {key[i:j] for i in range(len(key)) for j in range(i + shortest, len(key) + 1)}


def leaks(text: str, key: str) -> list[str]:
    """The pieces of `key` (8 characters or more, any case) that `text` holds."""
    lowered = text.lower()
    return sorted(f for f in fragments(key.lower()) if f in lowered)
