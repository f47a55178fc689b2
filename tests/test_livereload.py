"""Live reload's server side: what a rebuild announces, and who the SSE server answers (real sockets)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.livereload import (
    CLIENT_PATH,
    EVENTS_PATH,
    Announcer,
    LiveReloadServer,
    changes,
    client_script,
    is_loopback_host,
    is_loopback_origin,
)
from assetpipe.manifest import Encoding, Manifest, ManifestEntry
from assetpipe.watch import watch_loop
from tests.conftest import write_tree

CSS = ManifestEntry("css/app.111111111111.css", "1" * 12, "sha384-a", 10, "text/css; charset=utf-8")
JS = ManifestEntry("js/app.222222222222.js", "2" * 12, "sha384-b", 20, "text/javascript; charset=utf-8")


def manifest(**assets: ManifestEntry) -> Manifest:
    return Manifest(
        "/static/", {name.replace("_", "/", 1).replace("_", "."): e for name, e in assets.items()}
    )


# -- what a rebuild announces ----------------------------------------------------------------------------


def test_a_changed_stylesheet_is_announced_with_its_new_and_previous_url_hash_and_integrity() -> None:
    new_css = replace(CSS, path="css/app.333333333333.css", hash="3" * 12, integrity="sha384-c")
    (change,) = changes(manifest(css_app_css=CSS, js_app_js=JS), manifest(css_app_css=new_css, js_app_js=JS))
    assert change.logical_path == "css/app.css"
    assert change.url == "/static/css/app.333333333333.css"
    assert change.previous_url == "/static/css/app.111111111111.css"
    assert (change.kind, change.hash, change.integrity) == ("stylesheet", "3" * 12, "sha384-c")


def test_added_and_removed_files_are_announced_and_a_script_is_not_a_stylesheet() -> None:
    announced = changes(manifest(css_app_css=CSS), manifest(js_app_js=JS))
    assert [(c.logical_path, c.url, c.previous_url, c.kind) for c in announced] == [
        ("css/app.css", None, "/static/css/app.111111111111.css", "stylesheet"),
        ("js/app.js", "/static/js/app.222222222222.js", None, "other"),
    ]


def test_new_siblings_alone_are_not_a_change() -> None:
    compressed = replace(CSS, encodings={"br": Encoding(CSS.path + ".br", 5)})
    assert changes(manifest(css_app_css=CSS), manifest(css_app_css=compressed)) == ()


def test_an_unhashed_file_with_new_bytes_is_a_change_under_the_same_url() -> None:
    robots = ManifestEntry("robots.txt", "a" * 12, "sha384-a", 1, "text/plain", immutable=False)
    (change,) = changes(
        Manifest("/static/", {"robots.txt": robots}),
        Manifest("/static/", {"robots.txt": replace(robots, hash="b" * 12)}),
    )
    assert change.url == change.previous_url == "/static/robots.txt"


# -- the loopback guards ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1:35729", "[::1]:8000", "[::1]", "LOCALHOST:1"]
)
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    ["", "evil.example", "evil.example:35729", "127.0.0.1.evil.example", "localhost.evil:1", "[::2]:1"],
)
def test_other_hosts_are_refused(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    "origin", ["http://localhost:5000", "http://127.0.0.1", "https://[::1]:8443", "http://localhost"]
)
def test_loopback_origins_are_accepted(origin: str) -> None:
    assert is_loopback_origin(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "http://evil.example",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example:5000",
        "file://",
        "ftp://localhost",
        "http://localhost:99999",
        "http://user@evil.example",
        "http://[::1]@evil.example",
        "http://localhost@evil.example",
        "http://localhost:5000/path",
        "http://localhost.",
    ],
)
def test_other_origins_are_refused(origin: str) -> None:
    assert not is_loopback_origin(origin)


# -- the server ------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LiveReloadServer]:
    live = LiveReloadServer("127.0.0.1", 0).start()
    try:
        yield live
    finally:
        live.close()


def get(
    server: LiveReloadServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, headers=headers or {})
    return conn.getresponse()


def read_event(response: http.client.HTTPResponse) -> tuple[str, dict[str, object]]:
    """The next event on an open stream (keep-alive comments skipped)."""
    name, data = "", ""
    while True:
        line = response.fp.readline().decode()
        if line == "":
            raise EOFError("the stream ended")
        if line == "\n":
            if name:
                return name, json.loads(data)
            continue
        field, _, value = line.rstrip("\n").partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data = value


def test_the_client_script_is_the_package_file() -> None:
    assert b"EventSource" in client_script()


def test_the_server_serves_the_client_script_to_a_loopback_page(server: LiveReloadServer) -> None:
    response = get(server, CLIENT_PATH)
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/javascript; charset=utf-8"
    assert response.read() == client_script()
    assert server.url == f"http://127.0.0.1:{server.port}{CLIENT_PATH}"


@pytest.mark.parametrize(
    "path", ["/", "/manifest.json", "/../pyproject.toml", "/events/x", "/live_reload.js"]
)
def test_the_server_serves_no_other_path(server: LiveReloadServer, path: str) -> None:
    assert get(server, path).status == 404


def test_the_server_refuses_writes(server: LiveReloadServer) -> None:
    assert get(server, EVENTS_PATH, method="POST").status == 405


def test_a_request_for_a_non_loopback_host_is_refused_as_dns_rebinding(server: LiveReloadServer) -> None:
    for path in (CLIENT_PATH, EVENTS_PATH):
        response = get(server, path, {"Host": f"rebind.evil.example:{server.port}"})
        assert response.status == 403
        assert b"Host" in response.read()


def test_a_page_on_another_origin_gets_no_events(server: LiveReloadServer) -> None:
    response = get(server, EVENTS_PATH, {"Origin": "http://evil.example"})
    assert response.status == 403
    assert response.getheader("Access-Control-Allow-Origin") is None


def test_a_loopback_page_gets_hello_then_each_build_and_failure(server: LiveReloadServer) -> None:
    response = get(server, EVENTS_PATH, {"Origin": "http://localhost:5000"})
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.getheader("Access-Control-Allow-Origin") == "http://localhost:5000"
    name, hello = read_event(response)
    assert name == "hello"
    assert hello == {"server": server.broadcaster.server, "builds": 0, "error": None}

    announcer = Announcer(server.broadcaster)
    announcer.built(manifest(css_app_css=CSS))  # the first build: nothing to compare with
    assert read_event(response) == ("build", {"builds": 1, "changes": [], "reload": False})
    announcer.failed("css/app.css:3:1: broken reference '<img src=x onerror=alert(1)>'")
    assert read_event(response) == (
        "failed",
        {"builds": 2, "message": "css/app.css:3:1: broken reference '<img src=x onerror=alert(1)>'"},
    )
    announcer.built(manifest(css_app_css=replace(CSS, path="css/app.444444444444.css", hash="4" * 12)))
    name, data = read_event(response)
    assert name == "build"
    assert data["builds"] == 3
    assert [c["url"] for c in data["changes"]] == ["/static/css/app.444444444444.css"]  # type: ignore[union-attr]


def test_a_page_connecting_after_a_failed_build_hears_the_error_at_once(server: LiveReloadServer) -> None:
    server.broadcaster.failed("js/app.js:1:8: broken reference './missing.js'")
    name, hello = read_event(get(server, EVENTS_PATH))
    assert (name, hello["error"], hello["builds"]) == (
        "hello",
        "js/app.js:1:8: broken reference './missing.js'",
        1,
    )


def test_a_message_with_newlines_stays_one_event(server: LiveReloadServer) -> None:
    response = get(server, EVENTS_PATH)
    read_event(response)
    server.broadcaster.failed("line one\n\nevent: build\ndata: {}")
    assert read_event(response) == ("failed", {"builds": 1, "message": "line one\n\nevent: build\ndata: {}"})


def test_closing_the_server_ends_open_streams_and_frees_the_port() -> None:
    live = LiveReloadServer("127.0.0.1", 0).start()
    port = live.port
    response = get(live, EVENTS_PATH)
    read_event(response)
    live.close()
    with pytest.raises(EOFError):
        read_event(response)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_server_bound_beyond_loopback_also_answers_ip_literals_but_never_names() -> None:
    live = LiveReloadServer("0.0.0.0", 0)
    try:
        assert live.host_allowed("192.168.1.5:35729") and live.host_allowed("[fe80::1]:35729")
        assert live.origin_allowed("http://192.168.1.5:8000")
        assert not live.host_allowed("rebind.evil.example:35729")
        assert not live.host_allowed("192.168.1.5:port")
        assert not live.origin_allowed("http://evil.example")
    finally:
        live.close()
    loopback = LiveReloadServer("127.0.0.1", 0)
    try:
        assert not loopback.host_allowed("192.168.1.5:35729")
        assert not loopback.origin_allowed("http://192.168.1.5:8000")
    finally:
        loopback.close()


def test_a_build_after_builds_that_failed_with_nothing_to_compare_with_reloads_open_pages() -> None:
    from assetpipe.livereload import Broadcaster

    broadcaster = Broadcaster()
    announcer = Announcer(broadcaster)
    _, stream = broadcaster.subscribe()
    announcer.failed("css/app.css:1:1: broken")
    announcer.built(manifest(css_app_css=CSS))
    stream.get_nowait()
    assert b'"reload": true' in (stream.get_nowait() or b"")


def test_a_port_in_use_is_one_clear_error(server: LiveReloadServer) -> None:
    from assetpipe.errors import AssetpipeError

    with pytest.raises(AssetpipeError, match=f"cannot serve live reload on 127.0.0.1:{server.port}"):
        LiveReloadServer("127.0.0.1", server.port)


# -- watch tells the announcer -------------------------------------------------------------------------


class Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def built(self, manifest: Manifest) -> None:
        self.events.append(("built", sorted(manifest.assets)))

    def failed(self, message: str) -> None:
        self.events.append(("failed", message))


@pytest.mark.parametrize("compress", [False, True])
def test_watch_loop_tells_the_listener_of_each_build_once_and_of_each_error(
    tmp_path: Path, compress: bool
) -> None:
    src = write_tree(tmp_path / "src", {"css/app.css": "a { color: red; }\n" * 40})
    config = Config(source=src, output=tmp_path / "out", compress=compress, cache_dir=tmp_path / "cache")
    heard = Heard()

    def edits() -> Iterator[list[str]]:
        (src / "css/app.css").write_text('a { background: url("missing.png"); }\n')
        yield ["css/app.css"]
        (src / "css/app.css").write_text("a { color: blue; }\n" * 40)
        yield ["css/app.css"]

    watch_loop(config, edits(), lambda line: None, listener=heard)
    assert heard.events[0] == ("built", ["css/app.css"])
    assert heard.events[1][0] == "failed"
    assert "missing.png" in str(heard.events[1][1])
    assert heard.events[2] == ("built", ["css/app.css"])
    assert len(heard.events) == 3  # the compression pass announces nothing more


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_watch_command_closes_open_streams_and_the_port_on_a_signal(tmp_path: Path, sig: int) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a { color: red; }\n"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "assetpipe", "watch", "-s", "src", "-o", "out", "--live-reload"]
    process = subprocess.Popen(
        [*argv, "--live-reload-port", str(port)], cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    # A hang (a line that never comes) becomes a failure, not a stuck suite.
    killer = threading.Timer(60, process.kill)
    killer.start()
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline() for _ in range(3)]
        assert (
            lines[1]
            == f"live reload on http://127.0.0.1:{port}/assetpipe-live-reload.js (live_reload_tag() loads it)\n"
        )
        assert lines[2].startswith("built 1 files")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", EVENTS_PATH, headers={"Origin": "http://localhost:8000"})
        response = conn.getresponse()
        assert read_event(response)[0] == "hello"
        process.send_signal(sig)
        # An announcement made just before the signal may still reach the client; after it, the stream
        # must end.
        with pytest.raises(EOFError):
            for _ in range(3):
                read_event(response)
        assert process.wait(10) == 0
        assert process.stderr.read().splitlines() == ["stopped"]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        killer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
