"""example_site/app.py, over its own freshly built example_site/assets: Flask test client and Chromium."""

from __future__ import annotations

import importlib.util
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from werkzeug.serving import make_server

from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build

from .dist import sri

EXAMPLE = Path(__file__).resolve().parents[2] / "example_site"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_site_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Manifest:
    """example_site/assets built into tmp_path/dist (never into the checkout's example_site/dist)."""
    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    config = Config(
        source=EXAMPLE / "assets",
        output=tmp_path / "dist",
        base_url="/static/",
        gzip_backend="zlib",
        cache_dir=tmp_path / "cache",
        importmap_packages=("nanoid",),  # as example_site/assetpipe.toml
        node_modules=EXAMPLE / "node_modules",
    )
    return build(config).manifest


@pytest.fixture
def app(built: Manifest, tmp_path: Path) -> Flask:
    flask_app: Flask = load_example().create_app(
        {"ASSETPIPE_MANIFEST": str(tmp_path / "dist" / "manifest.json")}
    )
    return flask_app


def test_pages_load_css_and_js_through_asset_tag_and_the_logo_through_asset(
    app: Flask, built: Manifest
) -> None:
    client = app.test_client()
    for page in ("/", "/about/"):
        html = client.get(page).get_data(as_text=True)
        assert f'<link rel="stylesheet" href="{built.url("css/app.css")}"' in html
        assert f'<script type="module" src="{built.url("js/main.js")}"' in html
        assert f'src="{built.url("img/logo.svg")}"' in html
        assert html.count('rel="modulepreload"') >= len(built.entry("js/main.js").imports)


def test_every_integrity_in_the_page_matches_the_bytes_served(app: Flask) -> None:
    client = app.test_client()
    pairs = re.findall(r'(?:href|src)="([^"]+)" integrity="([^"]+)"', client.get("/").get_data(as_text=True))
    assert pairs
    for url, integrity in pairs:
        assert sri(client.get(url).get_data()) == integrity, url


def test_static_serves_hashed_files_immutable_and_precompressed(app: Flask, built: Manifest) -> None:
    entry = built.entry("css/app.css")
    response = app.test_client().get(built.url("css/app.css"), headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Type"] == entry.content_type
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["Vary"] == "Accept-Encoding"
    assert ("br" in entry.encodings) == (response.headers.get("Content-Encoding") == "br")


def test_static_serves_neither_the_manifest_nor_bookkeeping(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/static/manifest.json").status_code == 404
    assert client.get("/static/.assetpipe/lock").status_code == 404


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join()


@pytest.mark.server
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_chromium_runs_the_page_with_sri_and_modulepreload(server: str, built: Manifest) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
            page.on("request", lambda req: requested.append(req.url))
            page.goto(server + "/")
            page.wait_for_function("document.querySelector('#greeting').textContent.startsWith('Hello')")
            page.click("#more")
            page.wait_for_selector("#details:not([hidden])")
        finally:
            browser.close()
    assert errors == []
    for name in built.entry("js/main.js").imports:
        assert requested.count(server + built.url(name)) == 1, name
