"""Live reload end to end: headless Chromium on the example site, `assetpipe watch --live-reload` running as
a real subprocess over a copy of its assets, the pages served by the example Flask app.

What the page does is read from the page itself: a computed style, a marker set in `window` (which a
navigation would wipe), the overlay's text and children. Waits are generous; the CSS swap's latency is
printed for the record, not asserted.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assetpipe.jinja import install

from .snippets.support import free_port, require
from .snippets.test_browser_e2e import CHROMIUM_ARGS, EXAMPLE, require_playwright

pytestmark = pytest.mark.server

WAIT_MS = 10_000
ASSETPIPE = [sys.executable, "-m", "assetpipe"]


def example_app(manifest_path: Path, live_reload_port: int) -> Any:
    spec = importlib.util.spec_from_file_location("example_site_app_live", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.create_app({"ASSETPIPE_MANIFEST": str(manifest_path), "ASSETPIPE_AUTO_RELOAD": True})
    # What `debug` will do in the integration: live_reload_tag() loads the watcher's client.
    install(
        app.jinja_env, manifest_path, auto_reload=True, live_reload=True, live_reload_port=live_reload_port
    )
    return app


@contextmanager
def serving(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


class Watcher:
    """`assetpipe watch --live-reload` in a subprocess; its stderr collected on a thread."""

    def __init__(self, src: Path, out: Path, cache: Path, port: int, compress: bool) -> None:
        argv = [*ASSETPIPE, "watch", "-s", str(src), "-o", str(out), "--cache-dir", str(cache)]
        argv += ["--live-reload", "--live-reload-port", str(port), "--gzip-backend", "zlib"]
        argv += ["--compress"] if compress else []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, prefix: str, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while sum(line.startswith(prefix) for line in self.lines) < count:
            assert self.process.poll() is None, self.lines
            assert time.monotonic() < deadline, f"no {prefix!r} line: {self.lines}"
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(WAIT_MS / 1000)
        self.reader.join(5)
        return code


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compress"])
def test_css_swaps_in_place_js_reloads_errors_overlay_and_a_restarted_watcher_reloads(
    tmp_path: Path, compress: bool
) -> None:
    chromium = require("chromium")
    sync_playwright = require_playwright()
    src = tmp_path / "assets"
    shutil.copytree(EXAMPLE / "assets", src)
    out, cache = tmp_path / "dist", tmp_path / "cache"
    port = free_port()
    watcher = Watcher(src, out, cache, port, compress)
    problems: list[str] = []
    try:
        watcher.wait_for_line("live reload on")
        watcher.wait_for_line("built ")
        with serving(example_app(out / "manifest.json", port)) as origin, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
                navigations: list[str] = []
                page.on("framenavigated", lambda frame: navigations.append(frame.url))

                def connected() -> Any:
                    return page.expect_response(lambda r: r.url.endswith("/events") and r.status == 200)

                with connected():
                    page.goto(origin + "/")
                page.wait_for_function("document.querySelector('#greeting').textContent.startsWith('Hello')")
                assert page.evaluate("getComputedStyle(document.body).color") == "rgb(29, 35, 48)"
                page.evaluate("window.marker = 'kept'")
                loads = len(navigations)

                # A stylesheet (imported by app.css) changes: the <link> is swapped, the page stays.
                theme = src / "css/theme.css"
                started = time.monotonic()
                theme.write_text(theme.read_text().replace("--text: #1d2330", "--text: #aa0011"))
                page.wait_for_function(
                    "getComputedStyle(document.body).color === 'rgb(170, 0, 17)'", timeout=WAIT_MS
                )
                print(f"css swap ({'compress' if compress else 'plain'}): {time.monotonic() - started:.3f}s")
                assert page.evaluate("window.marker") == "kept"
                assert len(navigations) == loads
                sheets = page.evaluate(
                    "[...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.getAttribute('href'))"
                )
                assert len(sheets) == 1 and sheets[0] in page.content()

                # A JS module changes: the page reloads (the marker is gone) and runs the new code.
                greet = src / "js/lib/greet.js"
                with connected(), page.expect_navigation(timeout=WAIT_MS):
                    greet.write_text(greet.read_text().replace("Hello, ", "Howdy, "))
                page.wait_for_function("document.querySelector('#greeting').textContent.startsWith('Howdy')")
                assert page.evaluate("window.marker") is None

                # A broken file: the overlay shows the error as text, markup and all, until it is fixed.
                app_css = src / "css/app.css"
                good = app_css.read_text()
                app_css.write_text(good + '\n.x { background: url("<img src=x onerror=alert(1)>.png"); }\n')
                overlay = page.wait_for_selector("#assetpipe-live-reload-error", timeout=WAIT_MS)
                assert overlay is not None
                text = overlay.text_content() or ""
                assert "css/app.css" in text and "<img src=x onerror=alert(1)>.png" in text
                assert (
                    page.evaluate("document.querySelector('#assetpipe-live-reload-error').children.length")
                    == 0
                )
                app_css.write_text(good)
                page.wait_for_selector("#assetpipe-live-reload-error", state="detached", timeout=WAIT_MS)
                assert page.evaluate("getComputedStyle(document.body).color") == "rgb(170, 0, 17)"

                # The watcher stops cleanly on SIGTERM; a new one on the same port makes the page reload.
                page.evaluate("window.marker = 'before restart'")
                assert watcher.stop() == 0
                assert watcher.lines[-1] == "stopped"
                with page.expect_navigation(timeout=WAIT_MS):
                    watcher = Watcher(src, out, cache, port, compress)
                assert page.evaluate("window.marker") is None
            finally:
                browser.close()
    finally:
        if watcher.process.poll() is None:
            assert watcher.stop(signal.SIGINT) == 0
    assert problems == []
    assert not any(line.startswith("Traceback") for line in watcher.lines), watcher.lines
