"""End to end with a real npm package: lit 3 (which imports @lit/reactive-element, lit-html and lit-element
by their bare names) vendored through ``importmap_packages``, a page that imports ``lit`` by its bare name,
served by real nginx with the build's snippet, loaded in headless Chromium.

The packages come from the npm registry (``npm install`` into a temporary project, through npm's own
cache); without npm or the network the test skips (and fails under CI=true, like a missing server).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment

from assetpipe.config import Config
from assetpipe.jinja import install
from assetpipe.pipeline import build
from assetpipe.snippets import FILE_NAMES

from .support import NGINX_BROTLI, check, free_port, require, require_file, running
from .test_browser_e2e import CHROMIUM_ARGS, logged, nginx_config, require_playwright

pytestmark = pytest.mark.server

APP = """import { LitElement, html, css } from "lit";

class HelloCard extends LitElement {
  static properties = { name: {} };
  static styles = css`p { color: rebeccapurple; }`;
  render() {
    return html`<p id="greeting">Hello, ${this.name}!</p>`;
  }
}
customElements.define("hello-card", HelloCard);
"""
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>lit through an import map</title><link rel="icon" href="data:,">
{{ importmap_tag() }}
{{ script }}
</head><body><hello-card name="assetpipe"></hello-card></body></html>
"""


def _sri(data: bytes) -> str:
    return base64.b64encode(hashlib.sha384(data).digest()).decode()


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lit 3 and its dependencies, installed from the npm registry by npm itself."""
    npm = shutil.which("npm")
    if npm is None:
        _skip_or_fail("npm is not installed")
    project = tmp_path_factory.mktemp("npm-project")
    (project / "package.json").write_text('{"name": "importmap-e2e", "private": true}\n')
    try:
        subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--loglevel=error", "lit@3"],
            cwd=project, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        _skip_or_fail(f"npm install lit@3 failed: {getattr(exc, 'stderr', b'')!r}")
    return project / "node_modules"


def test_chromium_renders_a_lit_component_imported_by_its_bare_name_and_refuses_a_tampered_vendor_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node_modules: Path
) -> None:
    nginx = require("nginx")
    require_file(NGINX_BROTLI, "libnginx-mod-http-brotli-static")
    chromium = require("chromium")
    sync_playwright = require_playwright()
    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)

    (tmp_path / "src" / "js").mkdir(parents=True)
    (tmp_path / "src" / "js" / "app.js").write_text(APP)
    config = Config(
        source=tmp_path / "src", output=tmp_path / "dist", snippets_dir=tmp_path / "snippets",
        gzip_backend="zlib", cache_dir=tmp_path / "cache", importmap_packages=("lit",),
        node_modules=node_modules,
        # Not needed by a browser: lit's development and Node builds (the exports never pick them).
        exclude=("vendor/**/development/", "vendor/**/node/"),
    )  # fmt: skip
    manifest = build(config).manifest
    assert manifest.importmap is not None
    for name in ("lit", "lit-html", "lit-element/lit-element.js", "@lit/reactive-element"):
        assert name in manifest.importmap.imports, name
    assert (tmp_path / "dist" / manifest.assets["js/app.js"].path).read_text() == APP  # still bare

    env = Environment(autoescape=True)
    helper = install(env, tmp_path / "dist" / "manifest.json")
    pages = tmp_path / "pages"
    pages.mkdir()
    template = env.from_string(PAGE)
    (pages / "index.html").write_text(template.render(script=helper.tag("js/app.js")))
    # No modulepreload here: only the import map's integrity stands between the page and a tampered file.
    bare_script = f'<script type="module" src="{helper.asset("js/app.js")}"></script>'
    (pages / "plain.html").write_text(template.render(script=bare_script))

    workdir = tmp_path / "nginx"
    workdir.mkdir()
    port = free_port()
    conf = nginx_config(workdir, port, pages, tmp_path / "snippets" / FILE_NAMES["nginx"])
    argv = [nginx, "-p", f"{workdir}/", "-c", str(conf), "-e", f"{workdir}/error.log"]
    check([*argv[:1], "-t", *argv[1:]])
    origin = f"http://127.0.0.1:{port}"
    greeting = "document.querySelector('hello-card')?.shadowRoot?.querySelector('#greeting')?.textContent"

    def visit(p: Any, path: str, problems: list[str], encodings: dict[str, str]) -> Any:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

        def seen(response: Any) -> None:
            if response.status >= 400:
                problems.append(f"{response.status}: {response.url}")
            if response.url.startswith(origin + "/static/"):
                encodings[response.url] = response.header_value("content-encoding") or ""

        page.on("response", seen)
        page.goto(origin + path)
        page.wait_for_load_state("networkidle")
        return browser, page

    with running(argv, port, workdir), sync_playwright() as p:
        problems: list[str] = []
        encodings: dict[str, str] = {}
        browser, page = visit(p, "/index.html", problems, encodings)
        try:
            page.wait_for_function(f"{greeting} === 'Hello, assetpipe!'")
            color = page.evaluate(
                "getComputedStyle(document.querySelector('hello-card').shadowRoot.querySelector('p')).color"
            )
        finally:
            browser.close()
        assert problems == []
        assert color == "rgb(102, 51, 153)"
        requests = logged(workdir)
        assert [r for r in requests if r[0] >= 400] == []
        fetched = Counter(uri for _, uri in requests if uri.startswith("/static/"))
        # Every module fetched once, each as its br sibling; the lit modules through the import map.
        assert fetched == dict.fromkeys(fetched, 1)
        lit_modules = {u for u in fetched if u.startswith("/static/vendor/")}
        assert {f"/static/{manifest.assets[n].path}" for n in ("vendor/lit/index.js",
                "vendor/lit-html/lit-html.js", "vendor/lit-element/lit-element.js",
                "vendor/@lit/reactive-element/reactive-element.js")} <= lit_modules  # fmt: skip
        # Each one with a br sibling came as br (a few of lit's are too small to have one).
        by_url = {f"{origin}/static/{e.path}": e for e in manifest.assets.values()}
        assert {u: e for u, e in encodings.items() if e != ("br" if "br" in by_url[u].encodings else "")} == {}
        assert len(encodings) == len(fetched) and "br" in encodings.values()

        # Tamper with lit-html's file in OUT: the import map's integrity refuses it, so nothing renders.
        tampered = tmp_path / "dist" / manifest.assets["vendor/lit-html/lit-html.js"].path
        tampered.write_bytes(tampered.read_bytes() + b"\n// tampered\n")
        for sibling in (".br", ".gz"):
            Path(f"{tampered}{sibling}").unlink(missing_ok=True)
        problems, encodings = [], {}
        browser, page = visit(p, "/plain.html", problems, encodings)
        try:
            # The module graph fails as a whole; importing lit again reports why.
            failure = page.evaluate("import('lit').then(() => 'loaded', (e) => String(e))")
            rendered = page.evaluate(greeting)
            for _ in range(100):  # the console event may trail the rejection: wait for it, not for a time
                if any("integrity" in problem for problem in problems):
                    break
                page.wait_for_timeout(50)
        finally:
            browser.close()
        assert rendered is None
        assert failure != "loaded", failure
        lit_html = f"{origin}/static/{manifest.assets['vendor/lit-html/lit-html.js'].path}"
        assert [p for p in problems if "integrity" in p] == [
            f"console: Failed to find a valid digest in the 'integrity' attribute for resource '{lit_html}'"
            f" with computed SHA-384 integrity '{_sri(tampered.read_bytes())}'. The resource has been blocked."
        ]
