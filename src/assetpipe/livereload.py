"""Live reload: a Server-Sent Events server on loopback that tells open pages what each rebuild changed.

``watch --live-reload`` starts one. It answers two paths and nothing else: the client script (a file of
this package, read once at start) and the event stream. It never serves files from disk. Because any web
page the developer opens can make the browser talk to loopback, it answers only requests whose ``Host``
is a loopback name (a DNS-rebinding page has its own name there) and, when the browser sends an
``Origin``, only pages on a loopback origin.

Events (``event: name`` + one JSON ``data:`` line):
``hello``   on connect: ``{"server": id, "builds": n, "error": message | null}``
``build``   a good rebuild: ``{"builds": n, "changes": [Change...], "reload": bool}``
``failed``  a failed rebuild: ``{"builds": n, "message": "css/app.css:3:1: ..."}``
"""

from __future__ import annotations

import ipaddress
import json
import queue
import re
import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import SplitResult, urlsplit

from assetpipe.errors import AssetpipeError
from assetpipe.manifest import Manifest

#: The port livereload servers have used since 2011; browser extensions aside, nothing else claims it.
DEFAULT_PORT = 35729
DEFAULT_HOST = "127.0.0.1"
CLIENT_PATH = "/assetpipe-live-reload.js"
EVENTS_PATH = "/events"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
#: Seconds between keep-alive comments: a stream to a closed tab fails on the next write and ends.
_KEEPALIVE = 15.0


@dataclass(frozen=True, slots=True)
class Change:
    """One logical path whose served bytes changed: its new URL (None: removed) and the URL it had."""

    logical_path: str
    url: str | None
    previous_url: str | None
    kind: str  # "stylesheet" or "other": what the client may swap in place
    hash: str | None
    integrity: str | None


def _kind(content_type: str) -> str:
    return "stylesheet" if content_type.split(";", 1)[0].strip().lower() == "text/css" else "other"


def changes(previous: Manifest | None, current: Manifest) -> tuple[Change, ...]:
    """What a page needs to hear about, by logical path: added, removed, or new bytes (new hash)."""
    before = previous.assets if previous is not None else {}
    result = []
    for name in sorted(set(before) | set(current.assets)):
        old, new = before.get(name), current.assets.get(name)
        if old is not None and new is not None and (old.path, old.hash) == (new.path, new.hash):
            continue  # same bytes under the same name (its encodings may differ: nothing to reload)
        kind = _kind((new or old).content_type)  # type: ignore[union-attr]
        result.append(
            Change(
                logical_path=name,
                url=current.url(name) if new is not None else None,
                previous_url=previous.url(name) if previous is not None and old is not None else None,
                kind=kind,
                hash=new.hash if new is not None else None,
                integrity=new.integrity if new is not None else None,
            )
        )
    return tuple(result)


def client_script() -> bytes:
    """The browser side, shipped as package data (live_reload.js)."""
    return files("assetpipe").joinpath("live_reload.js").read_bytes()


_LOOPBACK_HOST = re.compile(r"(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?", re.IGNORECASE)


def is_loopback_host(host: str) -> bool:
    """``Host`` header value -> whether it names loopback (``localhost:5000``, ``[::1]:8000``...)."""
    return _LOOPBACK_HOST.fullmatch(host.strip()) is not None


def is_loopback_origin(origin: str) -> bool:
    """``Origin`` header value -> whether the page is on a loopback origin (any port, http or https)."""
    parts = _origin(origin)
    return parts is not None and parts.hostname in LOOPBACK_NAMES


def _origin(origin: str) -> SplitResult | None:
    """An ``Origin`` as scheme://host[:port] (no user, path or query), or None if it is anything else."""
    try:
        parts = urlsplit(origin.strip())
        parts.port  # noqa: B018 (raises ValueError for a malformed port)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return parts


def _is_ip_host(host: str) -> bool:
    """``192.168.1.5:35729`` or ``[fe80::1]:35729``: an address and an optional port, no name."""
    if host.startswith("["):
        end = host.find("]")
        name, port = (host[1:end], host[end + 1 :]) if end > 0 else ("", "")
        port = port.removeprefix(":") if port.startswith(":") else ("x" if port else "")
    else:
        name, _, port = host.partition(":")
    return (not port or port.isdigit()) and _is_ip_literal(name)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _event(name: str, data: Mapping[str, Any]) -> bytes:
    # One data line: json.dumps never writes a raw newline, so a message cannot end the event early.
    return f"event: {name}\ndata: {json.dumps(data, sort_keys=True)}\n\n".encode()


@dataclass(slots=True)
class Broadcaster:
    """The state every stream starts from and the queues of the streams now open; thread-safe."""

    server: str = field(default_factory=lambda: secrets.token_hex(8))
    builds: int = 0
    error: str | None = None
    closed: bool = False
    _streams: list[queue.Queue[bytes | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def built(self, changed: tuple[Change, ...], *, reload: bool = False) -> None:
        """Announce a good build: the overlay goes, stylesheets are swapped or the page reloads."""
        with self._lock:
            self.builds += 1
            self.error = None
            payload = {"builds": self.builds, "changes": [asdict(c) for c in changed], "reload": reload}
            self._send(_event("build", payload))

    def failed(self, message: str) -> None:
        """Announce a failed build: pages show ``message`` until the next good one."""
        with self._lock:
            self.builds += 1
            self.error = message
            self._send(_event("failed", {"builds": self.builds, "message": message}))

    def subscribe(self) -> tuple[bytes, queue.Queue[bytes | None]]:
        """A new stream: its hello event and the queue later events arrive on (None: the server closes)."""
        stream: queue.Queue[bytes | None] = queue.Queue()
        with self._lock:
            hello = _event("hello", {"server": self.server, "builds": self.builds, "error": self.error})
            if self.closed:
                stream.put(None)
            else:
                self._streams.append(stream)
        return hello, stream

    def unsubscribe(self, stream: queue.Queue[bytes | None]) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def close(self) -> None:
        """End every open stream (they return at once) and refuse new ones."""
        with self._lock:
            self.closed = True
            for stream in self._streams:
                stream.put(None)
            self._streams.clear()

    def _send(self, event: bytes) -> None:
        for stream in self._streams:
            stream.put(event)


class _Handler(BaseHTTPRequestHandler):
    server: LiveReloadServer
    protocol_version = "HTTP/1.1"
    server_version = "assetpipe-live-reload"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the watcher's terminal is for rebuild lines

    def do_GET(self) -> None:
        origin = self.headers.get("Origin")
        if not self.server.host_allowed(self.headers.get("Host", "")):
            self._refuse(403, "Host is not a loopback name")
            return
        if origin is not None and not self.server.origin_allowed(origin):
            self._refuse(403, "Origin is not a loopback page")
            return
        path = urlsplit(self.path).path
        if path == CLIENT_PATH:
            self._client()
        elif path == EVENTS_PATH:
            self._events(origin)
        else:
            self._refuse(404, "not found")

    def do_POST(self) -> None:
        self._refuse(405, "method not allowed")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _refuse(self, status: int, reason: str) -> None:
        body = (reason + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _client(self) -> None:
        body = self.server.script
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _events(self, origin: str | None) -> None:
        hello, stream = self.server.broadcaster.subscribe()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            if origin is not None:
                # The page is on another loopback port: EventSource is a CORS request.
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(hello)
            self.wfile.flush()
            for event in _events(stream):
                self.wfile.write(event)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the tab closed or navigated away
        finally:
            self.server.broadcaster.unsubscribe(stream)


def _events(stream: queue.Queue[bytes | None]) -> Iterator[bytes]:
    """The stream's events until the server closes, with a keep-alive comment when there is no news."""
    while True:
        try:
            event = stream.get(timeout=_KEEPALIVE)
        except queue.Empty:
            yield b": keep-alive\n\n"
            continue
        if event is None:
            return
        yield event


class LiveReloadServer(ThreadingHTTPServer):
    """The SSE server; ``start()`` serves on a daemon thread, ``close()`` ends streams and the socket."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.broadcaster = Broadcaster()
        self.script = client_script()
        # An explicit non-loopback bind (a phone on the LAN) also answers requests addressed to an IP
        # literal: a DNS-rebinding page always arrives under a name, never under an address.
        self.lan = host.strip("[]") not in ("127.0.0.1", "::1", "localhost")
        self.address_family = _family(host)
        try:
            super().__init__((host.strip("[]"), port), _Handler)
        except OSError as exc:
            raise AssetpipeError(
                f"cannot serve live reload on {host}:{port}: {exc.strerror or exc}",
                hint="pass --live-reload-port with a free port",
            ) from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """Where pages load the client script from."""
        host = str(self.server_address[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{CLIENT_PATH}"

    def host_allowed(self, host: str) -> bool:
        if is_loopback_host(host):
            return True
        if not self.lan:
            return False
        return _is_ip_host(host.strip())

    def origin_allowed(self, origin: str) -> bool:
        parts = _origin(origin)
        if parts is None or parts.hostname is None:
            return False
        return parts.hostname in LOOPBACK_NAMES or (self.lan and _is_ip_literal(parts.hostname))

    def start(self) -> LiveReloadServer:
        # A short poll: close() (on Ctrl-C) waits for the serving loop to notice.
        serve = lambda: self.serve_forever(poll_interval=0.05)  # noqa: E731
        self._thread = threading.Thread(target=serve, name="assetpipe-live-reload", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop: open streams end, the listening socket closes; safe to call twice."""
        self.broadcaster.close()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@dataclass(slots=True)
class Announcer:
    """What watch calls after each build: it diffs the manifest against the last one it announced."""

    broadcaster: Broadcaster
    previous: Manifest | None = None

    def built(self, manifest: Manifest) -> tuple[Change, ...]:
        # Without a manifest to compare with (OUT had none, and the builds so far failed), nothing can be
        # named, and open pages were rendered from no manifest this watcher knows: they reload.
        changed = changes(self.previous, manifest) if self.previous is not None else ()
        reload = self.previous is None and self.broadcaster.builds > 0
        self.previous = manifest
        self.broadcaster.built(changed, reload=reload)
        return changed

    def failed(self, message: str) -> None:
        self.broadcaster.failed(message)


__all__ = [
    "CLIENT_PATH",
    "DEFAULT_PORT",
    "EVENTS_PATH",
    "Announcer",
    "Broadcaster",
    "Change",
    "LiveReloadServer",
    "changes",
    "client_script",
    "is_loopback_host",
    "is_loopback_origin",
]
