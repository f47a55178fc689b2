"""The HTML build report in headless Chromium: for the example site and for a real vendor tree, the page
shows the manifest's numbers, makes no network request, and is saved as a screenshot.

Screenshots go to $ASSETPIPE_ARTIFACTS (default: .test-artifacts/ at the repository root, git-ignored).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from assetpipe.budgets import parse_budgets
from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.report import size_report, write_html

from .snippets.support import require
from .snippets.test_browser_e2e import CHROMIUM_ARGS, EXAMPLE, require_playwright
from .test_vendor_trees import vendor_src  # noqa: F401 (the fixture: npm pack of Bootstrap, FA, htmx)

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]


def artifacts() -> Path:
    folder = Path(os.environ.get("ASSETPIPE_ARTIFACTS", ROOT / ".test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def served(entry: Any, encoding: str) -> int:
    sibling = entry.encodings.get(encoding)
    return int(sibling.size if sibling is not None else entry.size)


def open_report(page_file: Path, screenshot: Path, manifest: Manifest) -> tuple[dict[str, Any], float]:
    """Open the page; return what it shows (by data attributes) and how long the load took."""
    chromium = require("chromium")
    sync_playwright = require_playwright()
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on("request", lambda r: requests.append(r.url))
            started = time.monotonic()
            page.goto(page_file.as_uri(), wait_until="load")
            seconds = time.monotonic() - started
            shown = page.evaluate(
                """() => {
                const bytes = td => td.dataset.bytes === '' ? null : Number(td.dataset.bytes);
                const rows = sel => [...document.querySelectorAll(sel + ' tr[data-logical]')];
                const assets = {};
                for (const tr of rows('#assets')) {
                    const td = tr.querySelectorAll('td[data-bytes]');
                    assets[tr.dataset.logical] = [bytes(td[0]), bytes(td[1]), bytes(td[2])];
                }
                const totals = {};
                for (const tr of document.querySelectorAll('#totals tr[data-type]')) {
                    totals[tr.dataset.type] = [...tr.querySelectorAll('td[data-bytes]')].map(bytes);
                }
                const deltas = {};
                for (const tr of rows('#deltas')) deltas[tr.dataset.logical] = tr.dataset.status;
                const visible = [...document.querySelectorAll('.map')].filter(m => m.offsetHeight > 0);
                return {assets, totals, deltas, scripts: document.scripts.length,
                        rects: document.querySelectorAll('.map-raw svg rect:not(.dir)').length,
                        visibleMaps: visible.map(m => m.className),
                        overBudgets: document.querySelectorAll('#budgets tr[data-over=true]').length};
            }"""
            )
            page.click("label[for=by-br]")
            shown["afterSwitch"] = page.evaluate(
                "[...document.querySelectorAll('.map')].filter(m => m.offsetHeight > 0).map(m => m.className)"
            )
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    assert requests == [page_file.as_uri()], requests  # the page itself, nothing else
    return shown, seconds


def check_numbers(shown: dict[str, Any], manifest: Manifest) -> None:
    expected = {
        name: [e.size, e.encodings["br"].size if "br" in e.encodings else None,
               e.encodings["gzip"].size if "gzip" in e.encodings else None]
        for name, e in manifest.assets.items()
    }  # fmt: skip
    assert shown["assets"] == expected
    assets = manifest.assets.values()
    assert shown["totals"]["total"] == [
        sum(e.size for e in assets),
        sum(served(e, "br") for e in assets),
        sum(served(e, "gzip") for e in assets),
    ]
    css = [e for e in assets if e.content_type.startswith("text/css")]
    assert shown["totals"]["text/css"] == [
        sum(e.size for e in css),
        sum(served(e, "br") for e in css),
        sum(served(e, "gzip") for e in css),
    ]
    assert shown["scripts"] == 0
    assert shown["visibleMaps"] == ["map map-raw"]
    assert shown["afterSwitch"] == ["map map-br"]
    assert shown["rects"] == sum(1 for e in assets if e.size > 0)


def test_the_report_of_the_example_site_shows_the_manifests_numbers_and_the_comparison(
    tmp_path: Path,
) -> None:
    src = tmp_path / "assets"
    shutil.copytree(EXAMPLE / "assets", src)
    config = Config(source=src, output=tmp_path / "dist", cache_dir=tmp_path / "cache", gzip_backend="zlib")
    old = build(config).manifest
    (src / "css/theme.css").write_text((src / "css/theme.css").read_text() + "\n.new { color: red; }\n")
    (src / "js/lib/extra.js").write_text("export const extra = 1;\n")
    (src / "img/pattern.svg").unlink()
    (src / "css/app.css").write_text(
        (src / "css/app.css").read_text().replace('url( "../img/pattern.svg" )', "none")
    )
    manifest = build(config).manifest
    budgets = parse_budgets({"css/**": "100 B", "total": "1 MB br"}, "assetpipe.toml")
    page_file = write_html(size_report(manifest, old, budgets), tmp_path / "report.html")

    shown, _ = open_report(page_file, artifacts() / "report-example-site.png", manifest)
    check_numbers(shown, manifest)
    assert shown["deltas"] == {
        "css/app.css": "shrank",
        "css/theme.css": "grew",
        "img/pattern.svg": "removed",
        "js/lib/extra.js": "added",
    }
    assert shown["overBudgets"] == 1  # css/** is over 100 B; the whole build is under 1 MB br


def test_the_report_of_a_real_vendor_tree_opens_quickly_and_shows_every_file(
    tmp_path: Path,
    vendor_src: Path,  # noqa: F811
) -> None:
    # gzip only (zlib): brotli 11 over 2,400 files takes minutes here; the example site covers br.
    config = Config(
        source=vendor_src,
        output=tmp_path / "dist",
        cache_dir=tmp_path / "cache",
        gzip_backend="zlib",
        brotli=False,
    )
    manifest = build(config).manifest
    page_file = write_html(size_report(manifest), tmp_path / "report.html")
    shown, seconds = open_report(page_file, artifacts() / "report-vendor-tree.png", manifest)
    check_numbers(shown, manifest)
    print(
        f"vendor report: {len(manifest.assets)} files, {page_file.stat().st_size} bytes, loaded in {seconds:.2f}s"
    )
