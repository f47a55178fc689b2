"""The build report from manifests: comparison by logical path, the terminal table, the page's safety."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.budgets import parse_budgets
from assetpipe.manifest import Encoding, Manifest, ManifestEntry
from assetpipe.report import deltas, load_previous, render_html, size_report, squarify, table
from tests.conftest import write_tree


def entry(
    path: str, size: int, content_type: str = "text/css", br: int | None = None, hash: str = "a"
) -> ManifestEntry:
    encodings = {"br": Encoding(path + ".br", br)} if br is not None else {}
    return ManifestEntry(path, hash * 12, "sha384-x", size, content_type, encodings=encodings)


OLD = Manifest(
    "/static/",
    {
        "css/app.css": entry("css/app.aaaaaaaaaaaa.css", 1000, br=300),
        "css/same.css": entry("css/same.aaaaaaaaaaaa.css", 500),
        "js/gone.js": entry("js/gone.aaaaaaaaaaaa.js", 700, "text/javascript"),
        "js/small.js": entry("js/small.aaaaaaaaaaaa.js", 900, "text/javascript"),
        "js/edit.js": entry("js/edit.aaaaaaaaaaaa.js", 100, "text/javascript"),
    },
)
NEW = Manifest(
    "/static/",
    {
        "css/app.css": entry("css/app.bbbbbbbbbbbb.css", 1500, br=400, hash="b"),
        "css/same.css": entry("css/same.aaaaaaaaaaaa.css", 500),
        "img/new.svg": entry("img/new.cccccccccccc.svg", 50, "image/svg+xml", hash="c"),
        "js/small.js": entry("js/small.dddddddddddd.js", 400, "text/javascript", hash="d"),
        "js/edit.js": entry("js/edit.eeeeeeeeeeee.js", 100, "text/javascript", hash="e"),
    },
)


def test_the_comparison_is_by_logical_path_and_leaves_unchanged_files_out() -> None:
    assert {d.logical_path: d.status for d in deltas(OLD, NEW)} == {
        "css/app.css": "grew",
        "img/new.svg": "added",
        "js/edit.js": "changed",
        "js/gone.js": "removed",
        "js/small.js": "shrank",
    }
    app = next(d for d in deltas(OLD, NEW) if d.logical_path == "css/app.css")
    assert (app.change("raw"), app.change("br"), app.change("gzip")) == (500, 100, 500)


def test_a_new_sibling_alone_is_a_change() -> None:
    compressed = Manifest("/static/", {"css/same.css": entry("css/same.aaaaaaaaaaaa.css", 500, br=200)})
    (delta,) = deltas(Manifest("/static/", {"css/same.css": OLD.assets["css/same.css"]}), compressed)
    assert (delta.status, delta.change("br")) == ("changed", -300)


def test_totals_count_a_file_without_a_sibling_at_its_raw_size() -> None:
    report = size_report(NEW)
    assert (report.totals.files, report.totals.raw, report.totals.br) == (5, 2550, 1450)
    assert report.by_type["text/css"].br == 400 + 500


def test_the_table_after_a_build_lists_what_changed_largest_change_first_then_the_totals() -> None:
    assert table(size_report(NEW, OLD)) == [
        "changed files        raw         br       gzip",
        "js/gone.js         700 B      700 B      700 B  removed",
        "css/app.css       1.5 kB      400 B     1.5 kB  +500 B (grew)",
        "js/small.js        400 B      400 B      400 B  -500 B (shrank)",
        "img/new.svg         50 B       50 B       50 B  added",
        "js/edit.js         100 B      100 B      100 B  ±0 B (changed)",
        "total             2.5 kB     1.4 kB     2.5 kB  5 files, -650 B raw, -1.1 kB br",
    ]


def test_the_table_without_an_older_manifest_lists_the_largest_files_and_says_how_many_more() -> None:
    lines = table(size_report(NEW), rows=2)
    assert lines[0].startswith("largest files")
    assert [line.split()[0] for line in lines[1:3]] == ["css/app.css", "css/same.css"]
    assert lines[3] == "... and 3 more"


def test_the_table_marks_budgets() -> None:
    budgets = parse_budgets({"css/**": "1 kB br", "js/**": "each 500 B", "img/**": "1 kB"}, "t")
    lines = table(size_report(NEW, budgets=budgets))[-3:]
    assert lines == [
        "budget css/** (1 kB br): 900 B br: ok",
        "budget js/** (each 500 B): largest 400 B: ok",
        "budget img/** (1 kB): 50 B: ok",
    ]
    over = table(size_report(NEW, budgets=parse_budgets({"css/**": "500 B br"}, "t")))[-1]
    assert over == "budget css/** (500 B br): 900 B br: OVER"
    unmeasured = size_report(Manifest("/static/", {"a.css": entry("a.css", 9)}), budgets=budgets[:1])
    assert table(unmeasured)[-1] == "budget css/** (1 kB br): not measured (no br siblings)"


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>.css'


def test_the_page_escapes_every_name_and_loads_nothing() -> None:
    manifest = Manifest("/static/<b>", {HOSTILE: entry("x.css", 10), "dir</title>/a.css": entry("y.css", 10)})
    page = render_html(size_report(manifest, manifest, parse_budgets({HOSTILE: "1 B"}, "t")))
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"" in page
    assert "http://" not in page and "https://" not in page


def test_the_page_is_the_same_bytes_for_the_same_manifests() -> None:
    assert render_html(size_report(NEW, OLD)) == render_html(size_report(NEW, OLD))


def test_an_empty_manifest_renders() -> None:
    page = render_html(size_report(Manifest("/static/", {})))
    assert "0 files" in page


@pytest.mark.parametrize("weights", [[5.0], [6, 6, 4, 3, 2, 2, 1], [100, 1, 1, 1, 0.5], [1.0] * 50])
def test_squarify_tiles_the_whole_rectangle_without_leaving_it(weights: list[float]) -> None:
    rects = squarify(weights, (10.0, 20.0, 300.0, 200.0))
    assert len(rects) == len(weights)
    assert sum(w * h for _, _, w, h in rects) == pytest.approx(300 * 200)
    for (x, y, w, h), weight in zip(rects, weights, strict=True):
        assert 10 - 1e-6 <= x and x + w <= 310 + 1e-6 and 20 - 1e-6 <= y and y + h <= 220 + 1e-6
        assert w * h == pytest.approx(300 * 200 * weight / sum(weights))


def test_load_previous_is_none_without_a_manifest(tmp_path: Path) -> None:
    assert load_previous(tmp_path) is None


# -- the commands ----------------------------------------------------------------------------------------


def assetpipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assetpipe", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_build_report_prints_what_the_build_changed_on_stdout(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a { color: red; }\n", "js/app.js": "export {};\n"})
    first = assetpipe("build", "-s", "src", "-o", "out", "--no-compress", "--report", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0].startswith("largest files")
    write_tree(tmp_path / "src", {"css/app.css": "a { color: blue; }\n"})
    second = assetpipe("build", "-s", "src", "-o", "out", "--no-compress", "--report", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        "changed files        raw         br       gzip",
        "css/app.css         19 B       19 B       19 B  +1 B (grew)",
        "total               30 B       30 B       30 B  2 files, +1 B raw, +1 B br",
    ]


def test_report_writes_the_page_and_compares_with_an_older_manifest(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a { color: red; }\n"})
    assert assetpipe("build", "-s", "src", "-o", "out", "--no-compress", cwd=tmp_path).returncode == 0
    (tmp_path / "old.json").write_bytes((tmp_path / "out/manifest.json").read_bytes())
    write_tree(tmp_path / "src", {"css/app.css": "a { color: blue; }\n", "img/x.svg": "<svg/>"})
    assert assetpipe("build", "-s", "src", "-o", "out", "--no-compress", cwd=tmp_path).returncode == 0
    result = assetpipe(
        "report", "-o", "out", "--html", "r/report.html", "--against", "old.json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "img/x.svg" in result.stdout and "added" in result.stdout
    assert result.stderr == "wrote r/report.html\n"
    page = (tmp_path / "r/report.html").read_text()
    assert 'data-logical="img/x.svg" data-status="added"' in page


def test_report_without_a_build_is_one_line_naming_the_manifest(tmp_path: Path) -> None:
    result = assetpipe("report", "-o", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: nowhere/manifest.json: manifest not found (run 'assetpipe build' first)\n"


def test_report_marks_the_budgets_of_the_config_file(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a { color: red; }\n"})
    assert assetpipe("build", "-s", "src", "-o", "out", "--no-compress", cwd=tmp_path).returncode == 0
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\n[budgets]\n"css/**" = "10 B"\n')
    result = assetpipe("report", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "budget css/** (10 B): 18 B: OVER"


def test_an_unchanged_manifest_is_no_change() -> None:
    same = replace(NEW)
    assert deltas(NEW, same) == ()
    assert "(no file changed)" in table(size_report(NEW, same))
