"""emit's second read of a source: the bytes it publishes are the bytes whose references were resolved,
proven by a digest (the plan's, or the record's) and, where the record's does not match, by a fresh scan."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from assetpipe import references
from assetpipe.config import Config
from assetpipe.pipeline import build
from assetpipe.state import state_path
from tests.conftest import write_tree

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
SITE = {
    "css/app.css": "body { background: url(../img/a.png); }\n",
    "img/a.png": PNG,
    "img/b.png": PNG + b"b",
    "js/app.js": 'import "./lib.js";\n',
    "js/lib.js": "export const x = 1;\n",
}


def aged_site(tmp_path: Path) -> Config:
    """SITE with every file older than the racy window, so a rebuild trusts what its record says."""
    src = write_tree(tmp_path / "src", SITE)
    old = time.time_ns() - 10**10
    for path in src.rglob("*"):
        os.utime(path, ns=(old, old))
    return Config(source=src, output=tmp_path / "out", cache_dir=tmp_path / "cache", compress=False)


def count_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    scanned: list[str] = []
    real = references.find

    def spy(logical_path: str, text: str) -> object:
        scanned.append(logical_path)
        return real(logical_path, text)

    monkeypatch.setattr(references, "find", spy)
    return scanned


def outputs(out: Path) -> dict[str, bytes]:
    """What OUT serves (its .assetpipe folder holds this build's own bookkeeping, with a time in it)."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and ".assetpipe" not in p.parts)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in files}


def test_an_emptied_out_is_rebuilt_from_the_record_without_scanning_a_source_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = aged_site(tmp_path)
    build(cfg)
    first = outputs(cfg.output)
    cfg.output.rename(tmp_path / "old-out")  # CI with a restored cache: the record stands, OUT is empty
    scanned = count_scans(monkeypatch)
    build(cfg)
    assert scanned == []
    assert outputs(cfg.output) == first


def test_bytes_rewritten_with_size_mtime_and_inode_kept_are_published_as_they_now_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record's digest no longer matches: the file is scanned again, its references are the recorded
    # ones, and the new bytes are what OUT serves.
    cfg = aged_site(tmp_path)
    build(cfg)
    css = cfg.source / "css/app.css"
    before = os.stat(css)
    with open(css, "r+b") as fh:  # in place: the same inode
        fh.write(b"main")
    os.utime(css, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(css).st_size, os.stat(css).st_ino) == (before.st_size, before.st_ino)
    cfg.output.rename(tmp_path / "old-out")
    scanned = count_scans(monkeypatch)
    report = build(cfg)
    assert scanned == ["css/app.css"]
    entry = report.manifest.assets["css/app.css"]
    png = report.manifest.assets["img/a.png"].path
    assert (cfg.output / entry.path).read_text() == f"main {{ background: url(../{png}); }}\n"


def rewrite_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` with ``new`` (the same length) in place, keeping the file's size, mtime and inode."""
    before = os.stat(path)
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    with open(path, "r+b") as fh:
        fh.write(data.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_ino) == (before.st_size, before.st_ino)


def test_references_rewritten_with_size_mtime_and_inode_kept_are_found_again_by_the_same_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record lies about the file, and would on every build (its stat still matches): the build starts
    # over trusting no record, rather than fail until someone runs --repair.
    cfg = aged_site(tmp_path)
    build(cfg)
    css = cfg.source / "css/app.css"
    rewrite_in_place(css, b"a.png", b"b.png")
    cfg.output.rename(tmp_path / "old-out")
    report = build(cfg)
    png = report.manifest.assets["img/b.png"].path
    css_out = (cfg.output / report.manifest.assets["css/app.css"].path).read_text()
    assert css_out == f"body {{ background: url(../{png}); }}\n"
    assert report.manifest.assets["css/app.css"].dependencies == ("img/b.png",)
    assert [w for w in report.warnings if "trusting no record" in w] == [
        "css/app.css: not the file the last build's record was made from (rewritten in place with its size, "
        "mtime and inode kept, or while building): built again trusting no record"
    ]
    first = outputs(cfg.output)
    cfg.output.rename(tmp_path / "older-out")  # the record it left is true: the next build trusts it
    scanned = count_scans(monkeypatch)
    build(cfg)
    assert scanned == []
    assert outputs(cfg.output) == first


def test_a_watch_rebuild_emits_a_source_rewritten_with_its_stat_kept_as_it_now_is(tmp_path: Path) -> None:
    # The plan in memory read the file once; its digest no longer matches what emit reads, on every save:
    # the rebuild starts over trusting no record, as a build from the command line would succeed.
    cfg = aged_site(tmp_path)
    states: list[object] = []
    build(cfg, changed=states.append)
    build(cfg, state=states[-1], changed=states.append, touched=set())  # type: ignore[arg-type]
    css = cfg.source / "css/app.css"
    rewrite_in_place(css, b"body", b"main")
    for old in cfg.output.glob("css/app.*.css"):
        old.unlink()  # so the rebuild emits it rather than keep the output its record names
    report = build(cfg, state=states[-1], changed=states.append, touched={"css/app.css"})  # type: ignore[arg-type]
    png = report.manifest.assets["img/a.png"].path
    css_out = (cfg.output / report.manifest.assets["css/app.css"].path).read_text()
    assert css_out == f"main {{ background: url(../{png}); }}\n"


@pytest.mark.parametrize(
    "span", [(10**6, 10**6 + 12), (-5, -1), (30, 10)], ids=["past the end", "negative", "reversed"]
)
def test_a_record_whose_references_do_not_fit_the_file_is_not_spliced(
    tmp_path: Path, span: tuple[int, int]
) -> None:
    # A record garbled in its references but not in its digest: the digest proves the file, not them.
    cfg = aged_site(tmp_path)
    build(cfg)
    first = outputs(cfg.output)
    assert cfg.cache_dir is not None
    record = state_path(cfg.cache_dir, cfg.output)
    data = json.loads(record.read_text(encoding="utf-8"))
    data["files"]["css/app.css"]["references"] = [["../img/a.png", *span, 1, 1, "url"]]
    record.write_text(json.dumps(data), encoding="utf-8")
    cfg.output.rename(tmp_path / "old-out")
    build(cfg)
    assert outputs(cfg.output) == first
