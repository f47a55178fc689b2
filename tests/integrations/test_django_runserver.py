"""DEBUG = True under ``manage.py runserver``: every asset a page names loads, before any collectstatic
and after one (and so with or without ``assetpipe watch`` writing a build), over real HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest

from .django_project import UNCOMPRESSED, _env, collectstatic, make_project
from .servers import START_SECONDS, free_port

#: DEBUG, and runserver's own static serving: whitenoise taken out of the middleware.
DEBUG = {
    "DEBUG": True,
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
}
REFERENCE = re.compile(r"""(?:href|src)="([^"]+)"|url\(([^)]+)\)|(?:import|from)\s*['"]([^'"]+)['"]""")


@pytest.fixture
def runserver(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = make_project(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=root,
        env=_env(root, {**UNCOMPRESSED, **DEBUG}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                urllib.request.urlopen(base + "/static/css/app.css", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode() if server.stderr else "runserver exited")
                if time.monotonic() > deadline:
                    pytest.fail("runserver did not start")
                time.sleep(0.1)
        yield root, base
    finally:
        server.terminate()
        server.wait(timeout=10)


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def crawl(page: str) -> dict[str, int]:
    """Status of every URL the page names, and of every URL those stylesheets and modules name."""
    status, html = fetch(page)
    assert status == 200, html
    seen: dict[str, int] = {}
    queue = [(page, html)]
    for base, text in queue:
        for match in REFERENCE.finditer(text):
            raw = next(g for g in match.groups() if g).strip("'\" ")
            url = urljoin(base, raw)
            if url in seen or not url.startswith(urljoin(page, "/static/")):
                continue
            seen[url], body = fetch(url)
            queue.append((url, body))
    return seen


def test_debug_pages_load_every_asset_before_any_collectstatic(runserver: tuple[Path, str]) -> None:
    root, base = runserver
    statuses = crawl(base + "/")
    assert base + "/static/css/app.css" in statuses  # source URLs: what runserver serves from the finders
    assert base + "/static/img/logo.svg" in statuses  # named by app.css
    assert base + "/static/js/c.js" in statuses  # imported by b.js
    assert set(statuses.values()) == {200}, statuses
    assert not (root / "staticfiles").exists()


def test_debug_pages_load_every_asset_after_a_collectstatic_too(runserver: tuple[Path, str]) -> None:
    root, base = runserver
    collectstatic(root, UNCOMPRESSED)
    statuses = crawl(base + "/")
    assert len(statuses) == 6
    assert set(statuses.values()) == {200}, statuses
    _, html = fetch(base + "/")
    assert 'integrity="' not in html  # a source file's bytes are not the built file's
