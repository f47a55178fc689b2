"""Budgets: parsing what people write, measuring served bytes, and a build over budget failing before publish."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.budgets import Budget, BudgetExceeded, enforce, measure, parse_budget, parse_budgets
from assetpipe.config import Config, load_budgets, load_config
from assetpipe.errors import ConfigError
from assetpipe.manifest import Encoding, ManifestEntry
from assetpipe.pipeline import build
from tests.conftest import write_tree


@pytest.mark.parametrize(
    ("spec", "limit", "encoding", "each"),
    [
        ("150 kB br", 150_000, "br", False),
        ("150kB br", 150_000, "br", False),
        ("1.5 MB gzip", 1_500_000, "gzip", False),
        ("2 KiB gz", 2048, "gzip", False),
        ("1 MiB", 1024**2, None, False),
        ("500", 500, None, False),
        ("500 B raw", 500, None, False),
        ("40000 br", 40_000, "br", False),
        ("each 50 kB", 50_000, None, True),
        ("EACH 1 kb BR", 1000, "br", True),
    ],
)
def test_a_budget_reads_as_written(spec: str, limit: int, encoding: str | None, each: bool) -> None:
    budget = parse_budget("js/**", spec, "assetpipe.toml")
    assert (budget.limit, budget.encoding, budget.each, budget.spec) == (limit, encoding, each, spec)


@pytest.mark.parametrize(
    "spec", ["", "kB", "150 kB brotli", "150 GB", "-1 kB", "150 kB br gzip", "1e3", "ten kB"]
)
def test_an_unreadable_budget_names_the_pattern_and_the_file(spec: str) -> None:
    with pytest.raises(ConfigError, match=r"assetpipe.toml: budget 'js/\*\*': cannot read"):
        parse_budget("js/**", spec, "assetpipe.toml")


def test_a_budget_that_is_not_a_string_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        parse_budgets({"js/**": 150}, "assetpipe.toml")


def entry(size: int, br: int | None = None) -> ManifestEntry:
    encodings = {"br": Encoding("x.br", br)} if br is not None else {}
    return ManifestEntry("x", "0" * 12, "sha384-x", size, "text/javascript", encodings=encodings)


ASSETS = {
    "js/app.js": entry(100_000, 30_000),
    "js/vendor.js": entry(200_000, 60_000),
    "css/app.css": entry(5000),
}


def test_a_budget_counts_the_matching_files_together_as_served() -> None:
    (result,) = measure([parse_budget("js/**", "80 kB br", "t")], ASSETS)
    assert (result.size, result.over) == (90_000, True)
    assert result.offenders == (("js/vendor.js", 60_000), ("js/app.js", 30_000))


def test_a_file_without_a_sibling_counts_with_its_raw_size() -> None:
    (result,) = measure([parse_budget("total", "1 MB br", "t")], ASSETS)
    assert result.size == 30_000 + 60_000 + 5000


def test_each_limits_every_file_on_its_own() -> None:
    (result,) = measure([parse_budget("js/*.js", "each 150 kB", "t")], ASSETS)
    assert (result.size, result.over, result.offenders) == (200_000, True, (("js/vendor.js", 200_000),))


def test_a_budget_in_an_encoding_the_build_did_not_write_is_not_judged() -> None:
    (result,) = measure([parse_budget("js/**", "1 kB br", "t")], ASSETS, encodings=["gzip"])
    assert not result.measured and not result.over


def test_enforce_names_every_budget_over_and_the_largest_files() -> None:
    budgets = parse_budgets({"js/**": "80 kB br", "css/**": "each 1 kB", "total": "10 MB"}, "t")
    with pytest.raises(BudgetExceeded) as caught:
        enforce(budgets, ASSETS, where="assetpipe.toml")
    assert str(caught.value) == (
        "assetpipe.toml: budget 'js/**' (80 kB br) exceeded: 90.0 kB br "
        "(js/vendor.js 60.0 kB, js/app.js 30.0 kB); "
        "budget 'css/**' (each 1 kB) exceeded: 1 file over it (css/app.css 5.0 kB)"
    )


# -- config and the build ----------------------------------------------------------------------------


def test_budgets_are_read_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text(
        'source = "src"\noutput = "out"\n[budgets]\n"js/**" = "150 kB br"\ntotal = "each 1 MB"\n'
    )
    config = load_config(None, tmp_path)
    assert config.budgets == (
        Budget("js/**", 150_000, "br", False, "150 kB br"),
        Budget("total", 1_000_000, None, True, "each 1 MB"),
    )
    assert load_budgets(None, tmp_path) == config.budgets
    assert load_budgets(None, tmp_path / "nowhere") == ()


def test_a_bad_budget_in_the_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\n[budgets]\n"js/**" = "lots"\n')
    with pytest.raises(ConfigError, match=r"assetpipe.toml: budget 'js/\*\*': cannot read 'lots'"):
        load_config(None, tmp_path)


def test_a_build_over_budget_fails_and_leaves_the_previous_manifest_untouched(tmp_path: Path) -> None:
    src = write_tree(
        tmp_path / "src", {"js/app.js": "export const a = 1;\n", "robots.txt": "User-agent: *\n"}
    )
    config = Config(
        source=src, output=tmp_path / "out", compress=False, budgets=parse_budgets({"js/**": "1 kB"}, "t")
    )
    build(config)
    before = (tmp_path / "out/manifest.json").read_bytes()
    robots = (tmp_path / "out/robots.txt").read_bytes()
    write_tree(
        src, {"js/app.js": "export const a = 1;\n" + "// padding\n" * 200, "robots.txt": "Disallow: /\n"}
    )
    with pytest.raises(
        BudgetExceeded, match=r"budget 'js/\*\*' \(1 kB\) exceeded: 2.2 kB \(js/app.js 2.2 kB\)"
    ):
        build(config)
    assert (tmp_path / "out/manifest.json").read_bytes() == before
    assert (tmp_path / "out/robots.txt").read_bytes() == robots  # the staged unhashed file was not swapped in
    assert not (tmp_path / "out/.assetpipe/staging").exists()
    # Raising the budget makes the same tree build.
    build(replace(config, budgets=parse_budgets({"js/**": "3 kB"}, "t")))
    assert (tmp_path / "out/manifest.json").read_bytes() != before


def test_a_tightened_budget_fails_even_a_build_with_nothing_to_write(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"js/app.js": "export const a = 1;\n" * 100})
    config = Config(source=src, output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache")
    build(config)
    with pytest.raises(BudgetExceeded):
        build(replace(config, budgets=parse_budgets({"total": "100 B"}, "t")))


def test_br_budgets_wait_for_the_siblings_and_then_judge_them(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"js/app.js": "export const a = 1;\n" * 200})  # 4 kB, br far smaller
    budgets = parse_budgets({"js/**": "1 kB br"}, "t")
    config = Config(source=src, output=tmp_path / "out", budgets=budgets, gzip_backend="zlib")
    build(config, defer_compression=True)  # watch's first pass: no siblings yet, nothing to judge
    build(replace(config, compress=False))  # compression off: a br budget is not judged on raw bytes
    report = build(config)
    assert report.manifest.assets["js/app.js"].encodings["br"].size < 1000
    with pytest.raises(BudgetExceeded, match=r"js/app\.js"):
        build(replace(config, budgets=parse_budgets({"js/**": "10 B br"}, "t")))


def test_the_cli_fails_a_build_over_budget_with_one_line_and_exit_1(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"js/app.js": "export const a = 1;\n" * 100})
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\n[budgets]\ntotal = "1 kB"\n')
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", "build", "--no-compress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "error: assetpipe.toml: budget 'total' (1 kB) exceeded: 2.0 kB (js/app.js 2.0 kB)\n"  # as typed from cwd
    )
    assert not (tmp_path / "out/manifest.json").exists()


def test_watch_reports_a_rebuild_over_budget_and_keeps_the_last_good_manifest(tmp_path: Path) -> None:
    from collections.abc import Iterator

    from assetpipe.watch import watch_loop

    src = write_tree(tmp_path / "src", {"js/app.js": "export const a = 1;\n"})
    config = Config(
        source=src, output=tmp_path / "out", compress=False, budgets=parse_budgets({"js/**": "1 kB"}, "t")
    )
    lines: list[str] = []
    kept: list[bytes] = []

    def edits() -> Iterator[list[str]]:
        kept.append((tmp_path / "out/manifest.json").read_bytes())
        (src / "js/app.js").write_text("export const a = 1;\n" * 100)
        yield ["js/app.js"]

    watch_loop(config, edits(), lines.append)
    assert lines[-1] == "error: budget 'js/**' (1 kB) exceeded: 2.0 kB (js/app.js 2.0 kB)"
    assert (tmp_path / "out/manifest.json").read_bytes() == kept[0]
