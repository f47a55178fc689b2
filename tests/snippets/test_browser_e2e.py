"""End to end: headless Chromium on example_site's pages, served by real nginx with the build's own snippet.

The pages are the example Flask app's HTML rendered to static files, so every asset URL and integrity in
them comes from the manifest, and nginx alone serves both the pages and the build. The proof is in what
the browser saw (statuses, encodings, SRI and console errors) and in nginx's access log (how often each
hashed file was actually fetched): a second visit must come entirely from the browser's cache.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.snippets import FILE_NAMES

from .support import NGINX_BROTLI, check, free_port, nginx_conf_file, require, require_file, running

pytestmark = pytest.mark.server

EXAMPLE = Path(__file__).resolve().parents[2] / "example_site"
PAGES = {"/": "index.html", "/about/": "about/index.html"}
#: What a root sandbox and a quiet, offline test run need: no sandbox, no GPU, no calls home, no QUIC.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_playwright() -> Any:
    """playwright.sync_api.sync_playwright; missing, it skips outside CI and fails in CI, like the servers."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright is not installed (pip install playwright)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


def render_pages(manifest_path: Path, pages: Path) -> None:
    """Save what example_site/app.py answers for each page as a static file nginx can serve."""
    spec = importlib.util.spec_from_file_location("example_site_app_e2e", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    client = module.create_app({"ASSETPIPE_MANIFEST": str(manifest_path)}).test_client()
    for url, name in PAGES.items():
        response = client.get(url)
        assert response.status_code == 200, url
        (pages / name).parent.mkdir(parents=True, exist_ok=True)
        (pages / name).write_bytes(response.get_data())


def nginx_config(workdir: Path, port: int, pages: Path, snippet: Path) -> Path:
    """A minimal server: the pages at / (revalidated on every visit), the build through the snippet, and
    an access log of status and request URI, one line per request that reached nginx."""
    return nginx_conf_file(
        workdir,
        f"""    log_format requests '$status $request_uri';
    access_log {workdir}/access.log requests;
    server {{
        listen 127.0.0.1:{port};
        root {pages};
        location / {{
            add_header Cache-Control "no-cache";
        }}
        include {snippet};
    }}""",
    )


def logged(workdir: Path) -> list[tuple[int, str]]:
    lines = (workdir / "access.log").read_text().splitlines()
    return [(int(status), uri) for status, uri in (line.split(" ", 1) for line in lines)]


def test_chromium_loads_every_asset_br_encoded_with_sri_and_a_second_visit_fetches_no_hashed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nginx = require("nginx")
    require_file(NGINX_BROTLI, "libnginx-mod-http-brotli-static")
    chromium = require("chromium")
    sync_playwright = require_playwright()

    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    config = Config(
        source=EXAMPLE / "assets",
        output=tmp_path / "dist",
        snippets_dir=tmp_path / "snippets",
        gzip_backend="zlib",
        cache_dir=tmp_path / "cache",
        importmap_packages=("nanoid",),  # as example_site/assetpipe.toml: details.js imports "nanoid"
        node_modules=EXAMPLE / "node_modules",
    )
    manifest: Manifest = build(config).manifest
    pages = tmp_path / "pages"
    render_pages(tmp_path / "dist" / "manifest.json", pages)
    workdir = tmp_path / "nginx"
    workdir.mkdir()
    port = free_port()
    conf = nginx_config(workdir, port, pages, tmp_path / "snippets" / FILE_NAMES["nginx"])
    argv = [nginx, "-p", f"{workdir}/", "-c", str(conf), "-e", f"{workdir}/error.log"]
    check([*argv[:1], "-t", *argv[1:]])

    origin = f"http://127.0.0.1:{port}"
    problems: list[str] = []
    encodings: dict[str, str] = {}
    with running(argv, port, workdir), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))

            def seen(response: Any) -> None:
                if response.status >= 400:
                    problems.append(f"{response.status}: {response.url}")
                if response.url.startswith(origin + "/static/"):
                    encodings[response.url] = response.header_value("content-encoding") or ""

            page.on("response", seen)

            def visit_home() -> None:
                # JS ran (its imports passed SRI) and the lazily imported module did its work.
                page.wait_for_function("document.querySelector('#greeting').textContent.startsWith('Hello')")
                page.click("#more")
                page.wait_for_selector("#details:not([hidden])")
                page.wait_for_load_state("networkidle")

            page.goto(origin + "/")
            visit_home()
            first_visit = logged(workdir)
            # Normal navigations (a link, then a new visit to the home page), not a reload: a reload may
            # revalidate, while a visit must trust a year's `immutable`.
            page.click("nav a[href='/about/']")
            page.wait_for_url(origin + "/about/")
            page.wait_for_load_state("networkidle")
            page.goto(origin + "/")
            visit_home()
            assert page.evaluate("getComputedStyle(document.body).backgroundImage").startswith("url(")
        finally:
            browser.close()

    assert problems == []
    requests = logged(workdir)
    assert [r for r in requests if r[0] >= 400] == []
    fetched = Counter(uri for _, uri in requests)
    immutable = {manifest.url(name) for name, entry in manifest.assets.items() if entry.immutable}
    hashed = {uri: n for uri, n in fetched.items() if uri in immutable}
    for logical in ("css/app.css", "css/fonts.css", "js/main.js", "js/lib/details.js", "img/logo.svg",
                    "vendor/nanoid/index.browser.js"):  # fmt: skip
        assert manifest.url(logical) in hashed, logical
    # Each hashed file reached nginx exactly once, during the first visit; unhashed ones (favicon.ico,
    # no-cache) may be revalidated like the pages.
    assert hashed == {uri: 1 for uri in hashed}
    assert {uri for _, uri in first_visit if uri in immutable} == set(hashed)
    # The pages themselves went back to nginx: the later visits did happen, and over the network.
    assert fetched["/"] == 2 and fetched["/about/"] == 1
    # Every stylesheet and script the page loaded (the whole @import chain, every module, the lazy one)
    # arrived as its br sibling: the example's files are all past min_size, so each has one.
    # The vendored package (nanoid, through the import map) is published whole and the page loads only
    # what it imports, some of it too small for a sibling: those are checked on their own below.
    vendor = origin + "/static/vendor/"
    styles_and_scripts = {url for url in encodings if url.endswith((".css", ".js")) and not url.startswith(vendor)}
    css_and_js = {n for n in manifest.assets if n.endswith((".css", ".js")) and not n.startswith("vendor/")}
    assert styles_and_scripts == {origin + manifest.url(n) for n in css_and_js}
    assert all("br" in manifest.assets[n].encodings for n in css_and_js)
    assert {url: encodings[url] for url in styles_and_scripts} == dict.fromkeys(styles_and_scripts, "br")
    vendored = {n for n in manifest.assets if origin + manifest.url(n) in encodings and n.startswith("vendor/")}
    assert vendored == {"vendor/nanoid/index.browser.js", "vendor/nanoid/url-alphabet/index.js"}
    for name in vendored:
        assert encodings[origin + manifest.url(name)] == ("br" if "br" in manifest.assets[name].encodings else "")
