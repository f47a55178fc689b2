"""clean: retention of recent builds, and build records."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import brotli
import pytest
from click.testing import CliRunner

from assetpipe.builds import build_id, builds_dir, load_builds, record_build
from assetpipe.clean import TEMP_MAX_AGE, clean
from assetpipe.cli import cli
from assetpipe.errors import ConfigError, LockBusy, ManifestError, OutputError
from assetpipe.files import TEMP_PREFIX
from assetpipe.lock import output_lock
from assetpipe.manifest import Encoding, Manifest, ManifestEntry
from assetpipe.verify import verify
from tests.support import make_unlistable_directory

NOW = 1_000_000.0
HOUR = 3600.0


def build(
    out: Path, files: Mapping[str, bytes], *, at: float | None, encodings: Iterable[str] = ("br", "gzip")
) -> Manifest:
    """Write ``files`` as a build would (hashed names, siblings, manifest last) and record it at ``at``."""
    assets: dict[str, ManifestEntry] = {}
    for logical, data in files.items():
        digest = hashlib.sha384(data).digest()
        stem, _, ext = logical.rpartition(".")
        path = f"{stem}.{digest.hex()[:12]}.{ext}"
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(data)
        encs: dict[str, Encoding] = {}
        for name in encodings:
            suffix, packed = (
                (".br", brotli.compress(data)) if name == "br" else (".gz", gzip.compress(data, mtime=0))
            )
            (out / (path + suffix)).write_bytes(packed)
            encs[name] = Encoding(path=path + suffix, size=len(packed))
        assets[logical] = ManifestEntry(
            path=path,
            hash=digest.hex()[:12],
            integrity="sha384-" + base64.b64encode(digest).decode("ascii"),
            size=len(data),
            content_type="text/plain",
            encodings=encs,
        )
    manifest = Manifest(base_url="/static/", assets=assets)
    out.mkdir(parents=True, exist_ok=True)
    if at is not None:
        record_build(out, manifest, now=at)
    manifest.write(out)
    return manifest


def generation(n: int) -> dict[str, bytes]:
    """The n-th version of a small site: app.css changes every time, logo.svg never."""
    return {"css/app.css": f"/* v{n} */ body {{ }}\n".encode() * 10, "img/logo.svg": b"<svg/>\n" * 10}


def files_of(manifest: Manifest, logical: str) -> set[str]:
    entry = manifest.entry(logical)
    return {entry.path, *(e.path for e in entry.encodings.values())}


def on_disk(out: Path) -> set[str]:
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and ".assetpipe" not in p.relative_to(out).parts and p.name != "manifest.json"
    }


def test_clean_keeps_the_newest_builds_and_removes_older_files_with_their_siblings(tmp_path: Path) -> None:
    ms = [build(tmp_path, generation(i), at=NOW - (5 - i) * HOUR) for i in range(5)]
    report = clean(tmp_path, keep=3, age=HOUR, now=NOW)
    gone = files_of(ms[0], "css/app.css") | files_of(ms[1], "css/app.css")
    assert report.removed == sorted(gone)
    assert len(gone) == 6  # each file with its .br and .gz
    assert on_disk(tmp_path) == set().union(*(m.output_files() for m in ms[2:]))
    assert verify(tmp_path).ok


def test_clean_keeps_any_build_younger_than_age_beyond_the_newest_n(tmp_path: Path) -> None:
    ms = [build(tmp_path, generation(i), at=NOW - 50 * 60 + i * 60) for i in range(5)]
    report = clean(tmp_path, keep=1, age=HOUR, now=NOW)
    assert report.removed == []
    assert on_disk(tmp_path) == set().union(*(m.output_files() for m in ms))


def test_a_build_is_kept_by_either_rule_and_dropped_only_by_both(tmp_path: Path) -> None:
    old = build(tmp_path, generation(0), at=NOW - 3 * HOUR)
    young = build(tmp_path, generation(1), at=NOW - 10 * 60)
    newest = build(tmp_path, generation(2), at=NOW - 5 * 60)
    report = clean(tmp_path, keep=1, age=HOUR, now=NOW)
    assert report.kept_builds == [build_id(newest), build_id(young)]
    assert report.removed_builds == [build_id(old)]
    assert report.removed == sorted(files_of(old, "css/app.css"))


def test_files_a_kept_build_shares_with_a_dropped_one_stay(tmp_path: Path) -> None:
    old = build(tmp_path, generation(0), at=NOW - 5 * HOUR)
    new = build(tmp_path, generation(1), at=NOW - 4 * HOUR)
    clean(tmp_path, keep=1, age=0, now=NOW)
    assert files_of(old, "img/logo.svg") == files_of(new, "img/logo.svg")
    assert files_of(new, "img/logo.svg") <= on_disk(tmp_path)


def test_clean_never_removes_what_the_current_manifest_references(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW - 5 * HOUR)
    build(tmp_path, generation(1), at=NOW - 4 * HOUR)
    # The current manifest has no record at all (as after a crash between manifest and record).
    current = build(tmp_path, generation(2), at=None)
    report = clean(tmp_path, keep=0, age=0, now=NOW)
    assert on_disk(tmp_path) == current.output_files()
    assert len(report.removed_builds) == 2
    assert verify(tmp_path).ok


def test_the_current_build_keeps_its_record_whatever_the_rule_says(tmp_path: Path) -> None:
    current = build(tmp_path, generation(0), at=NOW - 5 * HOUR)
    report = clean(tmp_path, keep=0, age=0, now=NOW)
    assert report.kept_builds == [build_id(current)]
    assert [r.id for r in load_builds(tmp_path)] == [build_id(current)]


def test_files_no_build_ever_referenced_are_removed(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW)
    (tmp_path / "css" / "leftover.0123456789ab.css").write_bytes(b"from a killed build")
    report = clean(tmp_path, now=NOW)
    assert report.removed == ["css/leftover.0123456789ab.css"]


def test_dry_run_lists_what_would_go_and_removes_nothing(tmp_path: Path) -> None:
    for i in range(3):
        build(tmp_path, generation(i), at=NOW - (3 - i) * HOUR)
    before = {p: (tmp_path / p).read_bytes() for p in on_disk(tmp_path)}
    records = sorted(builds_dir(tmp_path).iterdir())
    report = clean(tmp_path, keep=1, age=0, dry_run=True, now=NOW)
    assert len(report.removed) == 6
    assert len(report.removed_builds) == 2
    assert {p: (tmp_path / p).read_bytes() for p in on_disk(tmp_path)} == before
    assert sorted(builds_dir(tmp_path).iterdir()) == records
    assert all(line.startswith("would remove") for line in report.lines())


def test_the_report_lines_name_each_removed_file_and_sum_up(tmp_path: Path) -> None:
    old = build(tmp_path, generation(0), at=NOW - 2 * HOUR, encodings=())
    build(tmp_path, generation(1), at=NOW - HOUR, encodings=())
    report = clean(tmp_path, keep=1, age=0, now=NOW)
    path = old.entry("css/app.css").path
    assert report.lines() == [
        f"removed {tmp_path / path}",
        f"removed build record {build_id(old)}",
        f"removed 1 file ({old.entry('css/app.css').size} bytes) and 1 build record(s); "
        f"kept 1 build(s) in {tmp_path}",
    ]


def test_stale_temp_files_go_and_fresh_ones_stay(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW)
    stale = tmp_path / "css" / (TEMP_PREFIX + "stale")
    fresh = tmp_path / "css" / (TEMP_PREFIX + "fresh")
    for path, mtime in ((stale, NOW - TEMP_MAX_AGE - 1), (fresh, NOW - 1)):
        path.write_bytes(b"half")
        os.utime(path, (mtime, mtime))
    report = clean(tmp_path, now=NOW)
    assert report.removed == ["css/" + TEMP_PREFIX + "stale"]
    assert fresh.exists() and not stale.exists()


def test_directories_left_empty_are_removed(tmp_path: Path) -> None:
    old = build(tmp_path, {"fonts/a.woff2": b"font"}, at=NOW - 2 * HOUR, encodings=())
    build(tmp_path, {"css/app.css": b"body { }"}, at=NOW - HOUR, encodings=())
    report = clean(tmp_path, keep=1, age=0, now=NOW)
    assert report.removed == [old.entry("fonts/a.woff2").path]
    assert report.removed_dirs == ["fonts"]
    assert not (tmp_path / "fonts").exists()
    assert (tmp_path / "css").is_dir()


def test_the_state_dir_and_manifest_are_never_touched(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW - 2 * HOUR)
    manifest = (tmp_path / "manifest.json").read_bytes()
    (tmp_path / ".assetpipe" / "cache").mkdir()
    (tmp_path / ".assetpipe" / "cache" / "blob").write_bytes(b"x")
    clean(tmp_path, keep=0, age=0, now=NOW)
    assert (tmp_path / "manifest.json").read_bytes() == manifest
    assert (tmp_path / ".assetpipe" / "cache" / "blob").exists()
    assert builds_dir(tmp_path).is_dir()


def test_a_directory_clean_cannot_list_stops_it_before_it_removes_anything(tmp_path: Path) -> None:
    old = build(tmp_path, generation(0), at=NOW - 2 * HOUR)
    build(tmp_path, generation(1), at=NOW - HOUR)
    before = on_disk(tmp_path)
    deep = make_unlistable_directory(tmp_path)
    try:
        with pytest.raises(OutputError, match="cannot list directory"):
            clean(tmp_path, keep=1, age=0, now=NOW)
    finally:
        shutil.rmtree(deep)
    assert files_of(old, "css/app.css") <= on_disk(tmp_path) == before
    assert len(load_builds(tmp_path)) == 2


@pytest.mark.parametrize(("keep", "age"), [(-1, 0.0), (0, -1.0)])
def test_a_negative_keep_or_age_is_a_config_error(tmp_path: Path, keep: int, age: float) -> None:
    build(tmp_path, generation(0), at=NOW)
    with pytest.raises(ConfigError, match="must not be negative"):
        clean(tmp_path, keep=keep, age=age, now=NOW)


def test_clean_refuses_a_directory_without_the_marker_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>home</h1>")
    with pytest.raises(OutputError, match="not an assetpipe output directory") as info:
        clean(tmp_path, keep=0, age=0)
    assert info.value.path == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_clean_fails_at_once_while_a_build_holds_the_lock_with_no_wait(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW)
    with output_lock(tmp_path), pytest.raises(LockBusy):
        clean(tmp_path, wait=False)


def test_an_unreadable_build_record_stops_clean_before_it_removes_anything(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW - 2 * HOUR)
    build(tmp_path, generation(1), at=NOW - HOUR)
    bad = builds_dir(tmp_path) / "0000000000000000.json"
    bad.write_text("{not json")
    before = on_disk(tmp_path)
    with pytest.raises(ManifestError, match="unreadable build record") as info:
        clean(tmp_path, keep=1, age=0, now=NOW)
    assert info.value.path == str(bad)
    assert on_disk(tmp_path) == before


def test_a_corrupt_current_manifest_stops_clean(tmp_path: Path) -> None:
    build(tmp_path, generation(0), at=NOW - 2 * HOUR)
    (tmp_path / "manifest.json").write_text("{")
    before = on_disk(tmp_path)
    with pytest.raises(ManifestError):
        clean(tmp_path, keep=0, age=0, now=NOW)
    assert on_disk(tmp_path) == before
    (tmp_path / "manifest.json").unlink()  # conftest schema-checks every manifest left behind


def test_a_build_record_holds_the_id_time_and_files_and_no_time_enters_the_manifest(tmp_path: Path) -> None:
    manifest = build(tmp_path, generation(0), at=NOW)
    record = json.loads((builds_dir(tmp_path) / f"{build_id(manifest)}.json").read_text())
    assert record == {"id": build_id(manifest), "created": NOW, "files": sorted(manifest.output_files())}
    assert (tmp_path / "manifest.json").read_text() == manifest.dumps()


def test_recording_the_same_build_again_refreshes_its_time(tmp_path: Path) -> None:
    manifest = build(tmp_path, generation(0), at=NOW - 5 * HOUR)
    assert record_build(tmp_path, manifest, now=NOW) == build_id(manifest)
    [record] = load_builds(tmp_path)
    assert record.created == NOW


def test_builds_load_newest_first(tmp_path: Path) -> None:
    ms = [build(tmp_path, generation(i), at=at) for i, at in enumerate([NOW - 10, NOW, NOW - 20])]
    assert [r.id for r in load_builds(tmp_path)] == [build_id(ms[1]), build_id(ms[0]), build_id(ms[2])]


def test_the_cli_cleans_and_lists_what_it_removed(tmp_path: Path) -> None:
    old = build(tmp_path, generation(0), at=1.0)
    build(tmp_path, generation(1), at=2.0)
    runner = CliRunner()
    dry = runner.invoke(cli, ["clean", "--output", str(tmp_path), "--keep", "1", "--age", "0", "--dry-run"])
    assert dry.exit_code == 0
    assert f"would remove {tmp_path / old.entry('css/app.css').path}" in dry.output
    assert files_of(old, "css/app.css") <= on_disk(tmp_path)
    result = runner.invoke(cli, ["clean", "--output", str(tmp_path), "--keep", "1", "--age", "0"])
    assert result.exit_code == 0
    assert not files_of(old, "css/app.css") & on_disk(tmp_path)


def test_the_cli_refuses_an_unmarked_directory_with_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["clean", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "not an assetpipe output directory" in result.output


def test_after_real_builds_and_a_clean_the_output_verifies_and_a_rollback_rebuilds(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.pipeline import build as run_build

    src, out = tmp_path / "src", tmp_path / "out"
    (src / "img").mkdir(parents=True)

    def site(version: int) -> Config:
        (src / "img" / "logo.svg").write_text(f"<svg><title>v{version}</title></svg>\n")
        (src / "app.css").write_text(f"/* v{version} */ h1 {{ background: url(img/logo.svg) }}\n")
        return Config(source=src, output=out, cache_dir=tmp_path / "cache", compress=False)

    first = run_build(site(1)).manifest
    for version in (2, 3, 4):
        run_build(site(version))
    report = clean(out, keep=1, age=0)
    assert first.entry("app.css").path in report.removed
    assert verify(out).ok
    assert verify(out).unreferenced == ()
    rolled_back = run_build(site(1)).manifest
    assert rolled_back.dumps() == first.dumps()
    assert verify(out).ok
