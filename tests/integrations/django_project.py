"""Run the Django project in tests/integrations/djangoproject/ as its users do: manage.py commands and
requests through Django's test Client, each in a subprocess (settings are once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.conftest import write_tree

from .dist import SOURCES
from .docs import blocks

REPO = Path(__file__).resolve().parents[2]

PAGE = """{% load static assetpipe %}<!doctype html>
<title>t</title>
{% asset_tag "css/app.css" %}
{% asset_tag "js/main.js" nonce="n0nce" %}
<img src="{% asset 'img/logo.svg' %}" alt="logo">
<link rel="icon" href="{% static 'img/logo.svg' %}">
<meta name="integrity" content="{% asset_integrity 'css/app.css' %}">
"""
JINJA_PAGE = """<!doctype html>
{{ asset_tag('css/app.css') }}
{{ asset_tag('js/main.js') }}
<img src="{{ asset('img/logo.svg') }}" alt="logo">
"""
STATIC_UNKNOWN = "{% load static %}<link href=\"{% static 'css/ap.css' %}\">"
TAG_ATTRS = (
    """{% load assetpipe %}{% asset_tag "css/app.css" media="print" data_x=request.GET.x integrity=False %}"""
)
LIVE_RELOAD = """{% load assetpipe %}[{% live_reload_tag %}]"""
IMPORTMAP = """{% load assetpipe %}{% importmap_tag nonce="n0" %}
{% asset_tag "js/app.js" nonce="n0" %}"""
IMPORTMAP_ONLY = """{% load assetpipe %}[{% importmap_tag %}]"""
JINJA_IMPORTMAP = """{{ importmap_tag(nonce="n0") }}
{{ asset_tag("js/app.js", nonce="n0") }}"""
TAG_UNKNOWN = """{% load assetpipe %}{% asset "css/ap.css" %}|{% asset_integrity "css/ap.css" %}|{% asset_tag "css/ap.css" %}"""


def make_project(root: Path, sources: Mapping[str, str] | None = None) -> Path:
    """assets/ (the site fixture's sources), templates/ and jinja2/ under ``root``."""
    write_tree(root / "assets", dict(SOURCES if sources is None else sources))
    templates = {
        "page.html": PAGE,
        "static_unknown.html": STATIC_UNKNOWN,
        "docs.html": blocks("Django", "django")[0],
        "tag_attrs.html": TAG_ATTRS,
        "tag_unknown.html": TAG_UNKNOWN,
        "live_reload.html": LIVE_RELOAD,
        "importmap.html": IMPORTMAP,
        "importmap_only.html": IMPORTMAP_ONLY,
    }
    write_tree(root / "templates", templates)
    write_tree(root / "jinja2", {"jinja_page.html": JINJA_PAGE, "jinja_importmap.html": JINJA_IMPORTMAP})
    return root


def _env(root: Path, settings: Mapping[str, Any] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSETPIPE_", "DJANGO_"))}
    env.update(
        ASSETPIPE_TEST_ROOT=str(root),
        ASSETPIPE_TEST_SETTINGS=json.dumps(dict(settings or {})),
        DJANGO_SETTINGS_MODULE="tests.integrations.djangoproject.settings",
        PYTHONPATH=str(REPO),
    )
    return env


def manage(
    root: Path, *args: str, settings: Mapping[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """``manage.py <args>`` for the project under ``root`` (``python -m django`` is the same command)."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=root,
        env=_env(root, settings),
        capture_output=True,
        text=True,
        check=False,
    )


#: For tests about what is collected rather than how it is served: no siblings, a faster build.
UNCOMPRESSED = {"ASSETPIPE_BUILD": {"compress": False}}


def collectstatic(root: Path, settings: Mapping[str, Any] | None = None) -> str:
    """What Heroku-style platforms run on every deploy; returns its stdout, fails the test on error."""
    done = manage(root, "collectstatic", "--noinput", settings=settings)
    assert done.returncode == 0, done.stderr
    return done.stdout


def get(
    root: Path, *requests: str | dict[str, Any], settings: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """GET each request (a URL, or {"url", "headers", "admin"}) with Django's test Client."""
    wanted = [{"url": r} if isinstance(r, str) else r for r in requests]
    done = subprocess.run(
        [sys.executable, "-m", "tests.integrations.djangoproject.probe", json.dumps(wanted)],
        cwd=REPO,
        env=_env(root, settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
