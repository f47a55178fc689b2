"""Headless Chromium across two origins: the page from one port, the build from another through the
generated nginx or Caddy snippet, the way README's CDN advice sets a site up.

Every stylesheet, module and web font must load with SRI and ``crossorigin``, br-encoded where it has a
sibling, and be fetched once although the page's ``Link`` header (``asset_link_header``) preloads it too.
The same page against a snippet rendered with ``cors=False`` must lose its styles, scripts and font: the
proof that the first run passed because of the CORS header.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assetpipe.config import Config
from assetpipe.hints import link_header, module_closure
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.snippets import render

from .support import SERVERS, free_port, public_tempdir, require
from .test_browser_e2e import CHROMIUM_ARGS, EXAMPLE, require_playwright

pytestmark = pytest.mark.server

#: What the page preloads through its Link header: its stylesheet, its module (and closure), its font.
PRELOADED = ["css/app.css", "js/main.js", "fonts/open-sans-700.woff2"]
#: What the home page fetches in CORS mode: the tags' stylesheet and modules (crossorigin) and the font.
CORS_MODE = [
    "css/app.css",
    "js/main.js",
    "js/lib/format.js",
    "js/lib/greet.js",
    "js/lib/strings.js",
    "fonts/open-sans-700.woff2",
]


def render_pages(manifest_path: Path, pages: Path, base_url: str) -> None:
    """The example app's home page, rendered with the assets' origin as base URL."""
    spec = importlib.util.spec_from_file_location("example_site_app_cors", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.create_app({"ASSETPIPE_MANIFEST": str(manifest_path), "ASSETPIPE_BASE_URL": base_url})
    response = app.test_client().get("/")
    assert response.status_code == 200
    pages.mkdir(parents=True, exist_ok=True)
    (pages / "index.html").write_bytes(response.get_data())


@contextlib.contextmanager
def page_server(body: bytes, link: str) -> Iterator[int]:
    """The page's origin: a stdlib server that answers / with ``body`` and the Link header."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Link", link)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Visit:
    """What the browser saw on one visit of the page."""

    problems: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    responses: dict[str, dict[str, str]] = field(default_factory=dict)  # url -> headers
    sent: dict[str, dict[str, str]] = field(default_factory=dict)  # url -> request headers
    greeting: str = ""
    fonts: list[str] = field(default_factory=list)
    stylesheets: int = 0


def visit(chromium: str, page_url: str, asset_origin: str) -> Visit:
    seen = Visit()
    sync_playwright = require_playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.on("console", lambda m: seen.problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: seen.problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: seen.problems.append(f"failed: {r.url} {r.failure}"))

            def on_request(request: Any) -> None:
                if request.url.startswith(asset_origin):
                    seen.requests[request.url] += 1

            def on_response(response: Any) -> None:
                if response.url.startswith(asset_origin):
                    seen.responses[response.url] = response.all_headers()
                    seen.sent[response.url] = response.request.all_headers()

            page.on("request", on_request)
            page.on("response", on_response)
            page.goto(page_url)
            page.wait_for_load_state("networkidle")
            with contextlib.suppress(Exception):
                page.wait_for_function(
                    "document.querySelector('#greeting').textContent.startsWith('Hello')", timeout=5000
                )
            seen.greeting = page.evaluate("document.querySelector('#greeting')?.textContent ?? ''")
            seen.fonts = page.evaluate(
                "document.fonts.ready.then(set => [...set].filter(f => f.status === 'loaded')"
                ".map(f => f.family + ' ' + f.weight))"
            )
            # Stylesheets whose rules the page can read loaded (and passed SRI), @import chain included.
            seen.stylesheets = page.evaluate(
                """() => {
                    let n = 0;
                    const walk = (sheet) => {
                        let rules;
                        try { rules = sheet.cssRules; } catch (e) { return; }
                        n += 1;
                        for (const rule of rules) if (rule.styleSheet) walk(rule.styleSheet);
                    };
                    for (const sheet of document.styleSheets) walk(sheet);
                    return n;
                }"""
            )
        finally:
            browser.close()
    return seen


@dataclass(frozen=True, slots=True)
class Site:
    manifest: Manifest
    out: Path
    work: Path


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    work = public_tempdir("assetpipe-cross-origin-")
    try:
        config = Config(
            source=EXAMPLE / "assets", output=work / "out", gzip_backend="zlib", cache_dir=work / "cache",
            importmap_packages=("nanoid",), node_modules=EXAMPLE / "node_modules",  # as the example's config
        )
        yield Site(build(config).manifest, work / "out", work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_visit(site: Site, server: str, cors: Any, name: str, body: bytes | None = None) -> tuple[Visit, str]:
    chromium = require("chromium")
    require_playwright()
    work = site.work / name
    work.mkdir()
    snippet = work / "assets.snippet"
    snippet.write_text(render(server, site.manifest, root=str(site.out), cors=cors))
    with SERVERS[server](work, [snippet]) as asset_port:
        asset_origin = f"http://127.0.0.1:{asset_port}"
        base_url = asset_origin + "/static/"
        render_pages(site.out / "manifest.json", work / "pages", base_url)
        link = link_header(site.manifest, PRELOADED, base_url=base_url)
        # localhost, not 127.0.0.1: another host as well as another port.
        page = (work / "pages" / "index.html").read_bytes() if body is None else body
        with page_server(page, link) as page_port:
            return visit(chromium, f"http://localhost:{page_port}/", asset_origin), base_url


@pytest.mark.parametrize("server", ["nginx", "caddy"])
def test_chromium_loads_styles_modules_and_fonts_cross_origin_with_sri_once_each(
    site: Site, server: str
) -> None:
    seen, base_url = run_visit(site, server, "*", f"{server}-cors")
    manifest = site.manifest

    assert seen.problems == []
    assert seen.greeting.startswith("Hello")  # main.js and its imports ran after SRI checks
    assert "Open Sans 700" in seen.fonts
    # app.css is readable from script: it was fetched in CORS mode and passed SRI. Its @import chain is
    # fetched without CORS (as CSS does), so it applies but is not readable, and needs no header.
    assert seen.stylesheets == 1

    def url(logical: str) -> str:
        return base_url + manifest.entry(logical).path

    cors_mode = [url(n) for n in CORS_MODE]
    for asset in cors_mode:
        headers = seen.responses[asset]
        assert headers["access-control-allow-origin"] == "*", asset
        # Requested in CORS mode from the page's origin: what crossorigin (and a font) makes a browser do.
        assert seen.sent[asset].get("origin", "").startswith("http://localhost:"), asset
        if asset.endswith((".css", ".js")):
            assert headers["content-encoding"] == "br", asset
    imported = [url(n) for n in ("css/layout.css", "css/theme.css", "css/fonts.css")]
    assert all(seen.responses[asset]["content-encoding"] == "br" for asset in imported)
    # Preloaded by the Link header (and the modules by the tags too), used by the page: fetched once each.
    assert {asset: seen.requests[asset] for asset in cors_mode + imported} == dict.fromkeys(
        cors_mode + imported, 1
    )


@pytest.mark.parametrize("server", ["nginx", "caddy"])
def test_without_the_cors_header_the_same_page_loses_its_styles_modules_and_font(
    site: Site, server: str
) -> None:
    seen, base_url = run_visit(site, server, False, f"{server}-no-cors")

    assert not seen.greeting.startswith("Hello")
    assert "Open Sans 700" not in seen.fonts
    assert seen.stylesheets == 0
    assert any("CORS" in problem or "Access-Control-Allow-Origin" in problem for problem in seen.problems)
    app_css = base_url + site.manifest.entry("css/app.css").path
    assert "access-control-allow-origin" not in seen.responses.get(app_css, {})


def test_chromium_preloads_from_the_link_header_alone_in_cors_mode(site: Site) -> None:
    # A page with no tags at all: every request below comes from the Link header.
    body = b"<!doctype html><html><head><title>hints</title></head><body></body></html>"
    seen, base_url = run_visit(site, "nginx", "*", "nginx-hints-only", body)
    manifest = site.manifest
    hinted = [
        "css/app.css",
        "js/main.js",
        *module_closure(manifest, "js/main.js"),
        "fonts/open-sans-700.woff2",
    ]
    urls = {base_url + manifest.entry(name).path for name in hinted}
    assert set(seen.requests) == urls
    for url in urls:
        assert seen.sent[url].get("origin", "").startswith("http://localhost:"), url  # crossorigin honoured
        assert seen.responses[url]["access-control-allow-origin"] == "*"
