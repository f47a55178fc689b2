"""example_site/asgi.py (FastAPI) over a fresh build of example_site/assets: TestClient, then uvicorn on
a loopback port with Chromium loading the page (SRI, modulepreload, the .br siblings)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assetpipe.manifest import Manifest

from .dist import sri
from .servers import uvicorn_server
from .test_example_site import CHROMIUM, EXAMPLE, built

__all__ = ["built"]  # the fixture, shared with the Flask example's tests


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_site_asgi", EXAMPLE / "asgi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app(built: Manifest, tmp_path: Path) -> FastAPI:
    fastapi_app: FastAPI = load_example().create_app(tmp_path / "dist", auto_reload=False)
    return fastapi_app


def test_the_flask_templates_render_unchanged_with_tags_and_links(app: FastAPI, built: Manifest) -> None:
    client = TestClient(app)
    for page in ("/", "/about/"):
        html = client.get(page).text
        assert f'<link rel="stylesheet" href="{built.url("css/app.css")}"' in html
        assert f'<script type="module" src="{built.url("js/main.js")}"' in html
        assert f'src="{built.url("img/logo.svg")}"' in html
        assert 'href="http://testserver/about/"' in html  # url_for, Starlette's flavour


def test_every_integrity_in_the_page_matches_the_bytes_served(app: FastAPI) -> None:
    client = TestClient(app)
    pairs = re.findall(r'(?:href|src)="([^"]+)" integrity="([^"]+)"', client.get("/").text)
    assert len(pairs) >= 3
    for url, integrity in pairs:
        response = client.get(url, headers={"Accept-Encoding": "br"})
        assert response.headers["cache-control"].endswith("immutable"), url
        assert sri(response.content) == integrity, url


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with uvicorn_server(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.server
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_chromium_runs_the_page_served_by_uvicorn(server: str, built: Manifest) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    encodings: dict[str, str | None] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
            page.on("response", lambda r: encodings.update({r.url: r.headers.get("content-encoding")}))
            page.goto(server + "/")
            page.wait_for_function("document.querySelector('#greeting').textContent.startsWith('Hello')")
        finally:
            browser.close()
    assert errors == []
    assert encodings[server + built.url("js/main.js")] == (
        "br" if "br" in built.entry("js/main.js").encodings else None
    )
