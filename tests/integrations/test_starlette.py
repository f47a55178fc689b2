"""Starlette (and so FastAPI): install into Jinja2Templates, checked with Starlette's TestClient."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from assetpipe.integrations.starlette import install
from assetpipe.manifest import Manifest

from .dist import build_site, sri


def make_app(site: Path, templates: Jinja2Templates) -> Starlette:
    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    return Starlette(
        routes=[
            Route("/", page),
            Mount("/static", app=StaticFiles(directory=site / "dist"), name="static"),
        ]
    )


def test_templates_get_the_tags_and_urls(site: Path, manifest: Manifest) -> None:
    templates = Jinja2Templates(directory=site / "templates")
    install(templates, site / "dist" / "manifest.json")
    html = TestClient(make_app(site, templates)).get("/").text
    assert f'<link rel="stylesheet" href="{manifest.url("css/app.css")}"' in html
    assert html.count('<link rel="modulepreload"') == 3
    assert f'<script type="module" src="{manifest.url("js/main.js")}"' in html
    assert f'<img src="{manifest.url("img/logo.svg")}" alt="logo">' in html


def test_every_url_in_the_page_serves_bytes_matching_its_integrity(site: Path) -> None:
    templates = Jinja2Templates(directory=site / "templates")
    install(templates, site / "dist" / "manifest.json")
    client = TestClient(make_app(site, templates))
    pairs = re.findall(r'(?:href|src)="([^"]+)" integrity="([^"]+)"', client.get("/").text)
    assert len(pairs) == 5
    for url, integrity in pairs:
        assert sri(client.get(url).content) == integrity, url


def test_install_accepts_the_environment_itself(site: Path) -> None:
    templates = Jinja2Templates(directory=site / "templates")
    install(templates.env, site / "dist" / "manifest.json", base_url="https://cdn.example.com/")
    html = TestClient(make_app(site, templates)).get("/").text
    assert 'href="https://cdn.example.com/css/app.' in html


def test_templates_made_from_an_environment_see_rebuilds_with_auto_reload(
    site: Path, manifest: Manifest
) -> None:
    templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(site / "templates"), autoescape=True))
    install(templates, site / "dist" / "manifest.json", auto_reload=True)
    client = TestClient(make_app(site, templates))
    assert manifest.url("css/app.css") in client.get("/").text
    rebuilt = build_site(site, {"css/app.css": "a {}\n"})
    assert rebuilt.url("css/app.css") != manifest.url("css/app.css")
    assert rebuilt.url("css/app.css") in client.get("/").text
