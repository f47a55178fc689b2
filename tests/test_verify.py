"""verify: every manifest entry checked against the bytes on disk."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import brotli
import pytest
from click.testing import CliRunner

from assetpipe.builds import record_build
from assetpipe.cli import cli
from assetpipe.errors import ManifestError, OutputError
from assetpipe.files import TEMP_PREFIX
from assetpipe.manifest import Encoding, Manifest, ManifestEntry
from assetpipe.verify import verify
from tests.support import make_unlistable_directory

COMPRESSORS = {"br": (".br", brotli.compress), "gzip": (".gz", lambda b: gzip.compress(b, mtime=0))}


def make_output(
    out: Path,
    files: Mapping[str, bytes],
    *,
    encodings: Iterable[str] = ("br", "gzip"),
    unhashed: Iterable[str] = (),
) -> Manifest:
    """Write ``files`` into ``out`` as a build would (hashed names, siblings) and its manifest.json."""
    assets: dict[str, ManifestEntry] = {}
    plain = set(unhashed)
    for logical, data in files.items():
        digest = hashlib.sha384(data).digest()
        short = digest.hex()[:12]
        stem, _, ext = logical.rpartition(".")
        path = logical if logical in plain else f"{stem}.{short}.{ext}"
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(data)
        encs: dict[str, Encoding] = {}
        for name in encodings:
            suffix, compress = COMPRESSORS[name]
            packed = compress(data)
            (out / (path + suffix)).write_bytes(packed)
            encs[name] = Encoding(path=path + suffix, size=len(packed))
        assets[logical] = ManifestEntry(
            path=path,
            hash=short,
            integrity="sha384-" + base64.b64encode(digest).decode("ascii"),
            size=len(data),
            content_type="text/plain",
            immutable=logical not in plain,
            encodings=encs,
        )
    manifest = Manifest(base_url="/static/", assets=assets)
    out.mkdir(parents=True, exist_ok=True)
    manifest.write(out)
    return manifest


FILES = {"css/app.css": b"body { color: red }\n" * 20, "js/main.js": b"console.log('hi');\n" * 20}


def test_a_fresh_output_verifies_clean(tmp_path: Path) -> None:
    make_output(tmp_path, FILES)
    report = verify(tmp_path)
    assert report.ok
    assert report.problems == ()
    assert report.entries == 2
    assert report.files == 6
    assert report.lines()[-1].startswith("ok: 2 entries, 6 files verified")


def test_a_missing_file_is_reported_as_path_colon_what(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES)
    path = m.entry("css/app.css").path
    (tmp_path / path).unlink()
    report = verify(tmp_path)
    assert not report.ok
    assert f"{tmp_path / path}: missing" in report.lines()


def test_a_changed_byte_is_a_digest_and_integrity_mismatch(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES, encodings=())
    target = tmp_path / m.entry("js/main.js").path
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    target.write_bytes(bytes(data))
    whats = [p.what for p in verify(tmp_path).problems]
    assert len(whats) == 2
    assert whats[0].startswith("digest ") and whats[0].endswith(f"manifest says {m.entry('js/main.js').hash}")
    assert whats[1].startswith("integrity sha384-")


def test_a_truncated_file_reports_both_sizes(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES, encodings=())
    entry = m.entry("css/app.css")
    (tmp_path / entry.path).write_bytes(b"body")
    problems = verify(tmp_path).problems
    assert problems[0].path == entry.path
    assert problems[0].what == f"size 4 on disk, manifest says {entry.size}"
    assert problems[0].logical_path == "css/app.css"


def test_a_sibling_that_decompresses_to_other_bytes_is_a_problem(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES, encodings=("gzip",))
    entry = m.entry("css/app.css")
    sibling = tmp_path / entry.encodings["gzip"].path
    packed = gzip.compress(b"body { color: blue }\n", mtime=0)
    sibling.write_bytes(packed)
    # Rewrite the manifest's size so only the content is wrong.
    fixed = replace(entry, encodings={"gzip": Encoding(path=entry.encodings["gzip"].path, size=len(packed))})
    Manifest(base_url="/static/", assets={**m.assets, "css/app.css": fixed}).write(tmp_path)
    problems = verify(tmp_path).problems
    assert [(p.path, p.what) for p in problems] == [
        (entry.encodings["gzip"].path, f"gzip sibling decompresses to different bytes than {entry.path}")
    ]


def test_a_corrupt_brotli_sibling_is_reported_not_raised(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES, encodings=("br",))
    br = m.entry("js/main.js").encodings["br"]
    (tmp_path / br.path).write_bytes(b"\xff" * br.size)
    problems = verify(tmp_path).problems
    assert len(problems) == 1
    assert problems[0].path == br.path
    assert problems[0].what.startswith("br sibling does not decompress")


def test_a_missing_sibling_is_reported(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES)
    gz = m.entry("js/main.js").encodings["gzip"]
    (tmp_path / gz.path).unlink()
    assert [(p.path, p.what) for p in verify(tmp_path).problems] == [(gz.path, "gzip sibling missing")]


def test_a_sibling_not_named_after_its_file_is_a_problem(tmp_path: Path) -> None:
    m = make_output(tmp_path, {"a.css": b"a { }\n" * 50}, encodings=("gzip",))
    entry = m.entry("a.css")
    odd = "a.gz"
    (tmp_path / entry.encodings["gzip"].path).rename(tmp_path / odd)
    moved = replace(entry, encodings={"gzip": Encoding(path=odd, size=entry.encodings["gzip"].size)})
    Manifest(base_url="/static/", assets={"a.css": moved}).write(tmp_path)
    assert [(p.path, p.what) for p in verify(tmp_path).problems] == [
        (odd, f"gzip sibling should be named {entry.path}.gz")
    ]


def test_a_manifest_path_outside_the_output_is_refused_without_reading_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = make_output(out, FILES, encodings=())
    (tmp_path / "secret.txt").write_bytes(b"x")
    entry = m.entry("css/app.css")
    hostile = replace(entry, path="../secret.txt", size=1)
    Manifest(base_url="/static/", assets={**m.assets, "css/app.css": hostile}).write(out)
    problems = verify(out).problems
    assert [(p.path, p.what) for p in problems] == [("../secret.txt", "path escapes the output directory")]


def test_an_immutable_entry_whose_name_lacks_its_digest_is_a_problem(tmp_path: Path) -> None:
    m = make_output(tmp_path, {"robots.txt": b"User-agent: *\n"}, encodings=(), unhashed=["robots.txt"])
    entry = m.entry("robots.txt")
    lying = replace(entry, immutable=True)
    Manifest(base_url="/static/", assets={"robots.txt": lying}).write(tmp_path)
    assert [p.what for p in verify(tmp_path).problems] == [
        f"immutable, but its name does not carry its digest {entry.hash}"
    ]


def test_unhashed_files_are_listed_separately_and_pass(tmp_path: Path) -> None:
    make_output(tmp_path, {**FILES, "robots.txt": b"User-agent: *\n"}, encodings=(), unhashed=["robots.txt"])
    report = verify(tmp_path)
    assert report.ok
    assert report.unhashed == ("robots.txt",)
    lines = report.lines()
    header = lines.index("1 unhashed (served under their own name, never cached forever):")
    assert lines[header + 1] == f"  {tmp_path / 'robots.txt'}"


def test_files_no_build_references_are_listed_but_do_not_fail(tmp_path: Path) -> None:
    make_output(tmp_path, FILES)
    (tmp_path / "css" / "old.0123456789ab.css").write_bytes(b"old")
    report = verify(tmp_path)
    assert report.ok
    assert report.unreferenced == ("css/old.0123456789ab.css",)
    assert f"  {tmp_path / 'css/old.0123456789ab.css'}" in report.lines()


def test_files_an_older_recorded_build_references_are_not_unreferenced(tmp_path: Path) -> None:
    old = make_output(tmp_path, {"css/app.css": b"old { }\n"})
    record_build(tmp_path, old, now=1000.0)
    new = make_output(tmp_path, {"css/app.css": b"new { }\n"})
    record_build(tmp_path, new, now=2000.0)
    report = verify(tmp_path)
    assert report.ok
    assert report.unreferenced == ()


def test_temp_files_and_assetpipe_state_are_not_output(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES)
    record_build(tmp_path, m)
    (tmp_path / "css" / (TEMP_PREFIX + "abc123")).write_bytes(b"half a fi")
    (tmp_path / (TEMP_PREFIX + "manifest")).write_bytes(b"{")
    (tmp_path / ".assetpipe" / "lock").write_text("1\n")
    report = verify(tmp_path)
    assert report.ok
    assert report.unreferenced == ()


def test_a_missing_manifest_raises_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found") as info:
        verify(tmp_path)
    assert info.value.path == str(tmp_path / "manifest.json")


def test_the_json_report_carries_the_same_findings(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES)
    (tmp_path / m.entry("css/app.css").path).unlink()
    (tmp_path / "stray.js").write_bytes(b"")
    data = verify(tmp_path).to_json()
    assert data["ok"] is False
    assert data["problems"] == [
        {"path": m.entry("css/app.css").path, "what": "missing", "logical_path": "css/app.css"}
    ]
    assert data["unreferenced"] == ["stray.js"]
    assert json.loads(json.dumps(data)) == data


def test_the_cli_exits_non_zero_and_prints_each_problem(tmp_path: Path) -> None:
    m = make_output(tmp_path, FILES)
    runner = CliRunner()
    assert runner.invoke(cli, ["verify", "--output", str(tmp_path)]).exit_code == 0
    (tmp_path / m.entry("js/main.js").path).write_bytes(b"changed")
    result = runner.invoke(cli, ["verify", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / m.entry('js/main.js').path}: size 7 on disk" in result.output
    as_json = runner.invoke(cli, ["verify", "--output", str(tmp_path), "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)["ok"] is False


def test_the_cli_reports_a_missing_manifest_as_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "manifest not found" in result.output


def test_a_directory_verify_cannot_list_is_one_error_line_not_a_silent_pass(tmp_path: Path) -> None:
    # Skipped silently, the files in it would never show up as unreferenced.
    make_output(tmp_path, FILES)
    deep = make_unlistable_directory(tmp_path)
    try:
        with pytest.raises(OutputError, match="cannot list directory"):
            verify(tmp_path)
        result = CliRunner().invoke(cli, ["verify", "--output", str(tmp_path)])
    finally:
        shutil.rmtree(deep)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "cannot list directory: File name too long" in result.output
    assert result.output.count("\n") == 1


def test_a_symlinked_directory_in_the_output_is_neither_followed_nor_listed(tmp_path: Path) -> None:
    make_output(tmp_path / "out", FILES)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.css").write_text("not ours")
    (tmp_path / "out" / "elsewhere").symlink_to(outside, target_is_directory=True)
    report = verify(tmp_path / "out")
    assert report.ok and report.unreferenced == ()


def test_verify_never_follows_a_symlink_out_of_the_output(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.pipeline import build as run_build

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.css").write_text("a{}")
    out = tmp_path / "out"
    manifest = run_build(Config(source=src, output=out, compress=False)).manifest
    secret = tmp_path / "secret.txt"
    secret.write_text("a{}")
    target = out / manifest.assets["a.css"].path
    target.unlink()
    target.symlink_to(secret)
    report = verify(out)
    assert not report.ok
    assert any("symlink" in line for line in report.lines())


# -- zstd siblings (opt-in) ------------------------------------------------------------------------


def with_zstd_sibling(out: Path, payload_of: bytes | None = None, raw: bytes | None = None) -> ManifestEntry:
    """Give css/app.css a .zst sibling (of its bytes, of ``payload_of``, or ``raw`` as is) in the manifest."""
    from assetpipe.codecs import zstd_module

    m = make_output(out, FILES, encodings=("gzip",))
    entry = m.entry("css/app.css")
    data = (out / entry.path).read_bytes()
    packed = raw if raw is not None else zstd_module().compress(data if payload_of is None else payload_of)
    (out / (entry.path + ".zst")).write_bytes(packed)
    fixed = replace(entry, encodings={**entry.encodings, "zstd": Encoding(entry.path + ".zst", len(packed))})
    Manifest(base_url="/static/", assets={**m.assets, "css/app.css": fixed}).write(out)
    return fixed


def test_a_zst_sibling_that_decompresses_to_the_file_verifies(tmp_path: Path) -> None:
    with_zstd_sibling(tmp_path)
    report = verify(tmp_path)
    assert report.ok, report.lines()
    assert report.files == 2 * len(FILES) + 1


def test_a_zst_sibling_of_other_bytes_is_a_problem(tmp_path: Path) -> None:
    entry = with_zstd_sibling(tmp_path, payload_of=b"body { color: blue }\n")
    assert [(p.path, p.what) for p in verify(tmp_path).problems] == [
        (entry.path + ".zst", f"zstd sibling decompresses to different bytes than {entry.path}")
    ]


def test_a_zst_bomb_is_reported_without_decoding_it_whole(tmp_path: Path) -> None:
    from assetpipe.codecs import zstd_module

    entry = with_zstd_sibling(tmp_path, raw=zstd_module().compress(bytes(50_000_000)))  # 50 MB in a few KB
    assert [(p.path, p.what) for p in verify(tmp_path).problems] == [
        (entry.path + ".zst", f"zstd sibling decompresses to different bytes than {entry.path}")
    ]


def test_a_corrupt_zst_sibling_is_reported_not_raised(tmp_path: Path) -> None:
    entry = with_zstd_sibling(tmp_path, raw=b"\x28\xb5\x2f\xfd" + b"\xff" * 40)
    (problem,) = verify(tmp_path).problems
    assert problem.path == entry.path + ".zst"
    assert problem.what.startswith("zstd sibling does not decompress")


def test_a_zst_sibling_on_a_machine_without_a_zstd_module_is_a_problem_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import sys

    entry = with_zstd_sibling(tmp_path)
    package = "compression" if sys.version_info >= (3, 14) else "backports"
    monkeypatch.delattr(importlib.import_module(package), "zstd", raising=False)
    monkeypatch.setitem(sys.modules, f"{package}.zstd", None)
    (problem,) = verify(tmp_path).problems
    assert problem.path == entry.path + ".zst"
    assert problem.what.startswith("zstd sibling cannot be checked here")
