"""Django: the Jinja2 backend with OPTIONS["environment"], checked with Django's test Client.

Each case runs django_site.py in a subprocess: settings.configure() is once per process, and other
tests in this run must not inherit these settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from assetpipe.manifest import Manifest

SCRIPT = Path(__file__).with_name("django_site.py")


def get(site: Path, settings: dict[str, Any], *urls: str, base_url_env: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("ASSETPIPE_BASE_URL", "DJANGO_SETTINGS_MODULE")}
    if base_url_env is not None:
        env["ASSETPIPE_BASE_URL"] = base_url_env
    done = subprocess.run(
        [sys.executable, str(SCRIPT), json.dumps(settings), str(site / "templates"), *urls],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_environment_callable_gives_every_template_the_helpers(site: Path, manifest: Manifest) -> None:
    page = get(site, {"ASSETPIPE_MANIFEST": str(site / "dist" / "manifest.json")}, "/")["/"]
    assert page["status"] == 200
    html = page["body"]
    assert f'<link rel="stylesheet" href="{manifest.url("css/app.css")}"' in html
    assert html.count('<link rel="modulepreload"') == 3
    assert f'<script type="module" src="{manifest.url("js/main.js")}"' in html
    assert f'<img src="{manifest.url("img/logo.svg")}" alt="logo">' in html


def test_the_manifest_defaults_to_static_root(site: Path, manifest: Manifest) -> None:
    page = get(site, {"STATIC_ROOT": str(site / "dist")}, "/")["/"]
    assert manifest.url("css/app.css") in page["body"]


def test_base_url_setting_and_variable_override_the_manifest(site: Path) -> None:
    manifest = str(site / "dist" / "manifest.json")
    by_setting = get(site, {"ASSETPIPE_MANIFEST": manifest, "ASSETPIPE_BASE_URL": "https://a.example/"}, "/")
    by_variable = get(site, {"ASSETPIPE_MANIFEST": manifest}, "/", base_url_env="https://b.example/")
    assert 'href="https://a.example/css/app.' in by_setting["/"]["body"]
    assert 'href="https://b.example/css/app.' in by_variable["/"]["body"]


def test_no_manifest_setting_and_no_static_root_is_improperly_configured(site: Path) -> None:
    page = get(site, {}, "/")["/"]
    assert page["error"] == (
        "ImproperlyConfigured: assetpipe needs ASSETPIPE_MANIFEST (or STATIC_ROOT) in settings"
    )


def test_a_missing_manifest_is_a_manifest_error_naming_its_path(site: Path) -> None:
    missing = site / "nowhere" / "manifest.json"
    page = get(site, {"ASSETPIPE_MANIFEST": str(missing)}, "/")["/"]
    assert page["error"].startswith(f"ManifestError: {missing}: manifest not found")
