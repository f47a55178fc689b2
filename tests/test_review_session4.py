"""Hostile review of session 4's build-core changes: each test is a way to make OUT serve wrong bytes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import SourceError
from assetpipe.fingerprint import fingerprint, hashed_path
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from tests.conftest import write_tree

Tree = dict[str, "str | bytes"]


def _served_bytes_match_manifest(out: Path) -> None:
    """Every file manifest.json names holds the bytes its integrity describes."""
    manifest = Manifest.load(out / "manifest.json")
    for logical, entry in manifest.assets.items():
        body = (out / entry.path).read_bytes()
        assert fingerprint(body).integrity == entry.integrity, (
            f"{entry.path} ({logical}) is not what it lists"
        )


@pytest.mark.parametrize("compress", [False, True])
def test_a_hashed_output_taking_an_unhashed_files_name_never_overwrites_the_served_file(
    make_source: Callable[[Tree], Path], tmp_path: Path, compress: bool
) -> None:
    # x.js edited so that its hashed name is the name of a file published unhashed: the build must refuse
    # (it does, in _check_collisions), but by then the hashed output was written over the served file.
    new_js = b"export const x = 2;\n"
    taken = hashed_path("x.js", fingerprint(new_js).hash)
    src = make_source({"x.js": "export const x = 1;\n", taken: "served as is\n"})
    cfg = Config(source=src, output=tmp_path / "out", compress=compress, unhashed=(taken,))
    build(cfg)
    _served_bytes_match_manifest(tmp_path / "out")
    (src / "x.js").write_bytes(new_js)
    with pytest.raises(SourceError, match="also the output of"):
        build(cfg)
    _served_bytes_match_manifest(tmp_path / "out")
    assert (tmp_path / "out" / taken).read_bytes() == b"served as is\n"


def _gunzip(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())


def test_a_watch_rebuild_restores_a_sibling_edited_in_out(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # OutView.untouched is one set lookup over the touched names with a codec suffix taken off: a sibling
    # touched in OUT must still make its output's record untrusted.
    text = "body { color: red; }\n" * 50
    src = make_source({"a.css": text, "b.txt": text + "b", "c.css": text + "c"})
    out = tmp_path / "out"
    cfg = Config(
        source=src, output=out, compress=True, brotli=False, gzip_backend="zlib", cache_dir=tmp_path / "cache"
    )
    states: list[object] = []
    first = build(cfg, changed=states.append)
    a = first.manifest.assets["a.css"]
    assert "gzip" in a.encodings
    (out / (a.path + ".gz")).write_bytes(b"stale")
    second = build(cfg, state=states[-1], changed=states.append, touched=set(), out_touched={a.path + ".gz"})  # type: ignore[arg-type]
    assert _gunzip(out / (a.path + ".gz")) == text.encode()
    assert second.manifest.assets["a.css"].encodings == a.encodings


def test_a_hashed_outputs_sibling_taking_an_unhashed_files_name_never_overwrites_the_served_file(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    new_js = b"export const x = 2;\n" + b"// padding so the file is worth compressing\n" * 20
    taken = hashed_path("x.js", fingerprint(new_js).hash) + ".gz"
    src = make_source({"x.js": "export const x = 1;\n", taken: b"served as is\n"})
    cfg = Config(
        source=src, output=tmp_path / "out", brotli=False, gzip_backend="zlib", unhashed=(taken,),
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    build(cfg)
    _served_bytes_match_manifest(tmp_path / "out")
    # The new x.js's gzip sibling in the cache: taken on the caller's thread at submit (a local hit is
    # placed at once, before the collision check runs).
    other = tmp_path / "other"
    write_tree(other, {"x.js": new_js})
    build(
        Config(
            source=other,
            output=tmp_path / "out2",
            brotli=False,
            gzip_backend="zlib",
            cache_dir=tmp_path / "cache",
        )
    )
    (src / "x.js").write_bytes(new_js)
    with pytest.raises(SourceError, match="also the output of"):
        build(cfg)
    _served_bytes_match_manifest(tmp_path / "out")
    assert (tmp_path / "out" / taken).read_bytes() == b"served as is\n"


def test_a_sibling_that_cannot_be_placed_on_a_cache_hit_fails_the_build_and_keeps_the_last_manifest(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # Local cache hits are placed on the caller's thread now: an error there must still be the build's
    # one OutputError, with the previous manifest and its files as they were.
    from assetpipe.errors import OutputError

    text = b"body { color: red; }\n" * 50
    cache = tmp_path / "cache"
    other = tmp_path / "other"
    write_tree(other, {"a.css": text + b"new"})
    build(Config(source=other, output=tmp_path / "warm", brotli=False, gzip_backend="zlib", cache_dir=cache))
    src = make_source({"a.css": text})
    out = tmp_path / "out"
    cfg = Config(source=src, output=out, brotli=False, gzip_backend="zlib", cache_dir=cache)
    build(cfg)
    before = (out / "manifest.json").read_bytes()
    new_path = hashed_path("a.css", fingerprint(text + b"new").hash)
    (out / (new_path + ".gz") / "blocker").mkdir(parents=True)  # a directory where the sibling goes
    (src / "a.css").write_bytes(text + b"new")
    with pytest.raises(OutputError):
        build(cfg)
    assert (out / "manifest.json").read_bytes() == before
    _served_bytes_match_manifest(out)


def _swap_for_symlink(src: Path) -> set[str]:
    (src / "css/a.css").unlink()
    (src / "css/a.css").symlink_to(src / "css/b.css")
    return {"css/a.css"}


def _swap_for_directory(src: Path) -> set[str]:
    (src / "css/a.css").unlink()
    (src / "css/a.css").mkdir()
    (src / "css/a.css/inner.css").write_text("i{}")
    return {"css/a.css"}


def _recreate(src: Path) -> set[str]:
    st = (src / "css").stat()
    (src / "css/a.css").unlink()
    (src / "css/a.css").write_text("a { color: blue; }\n")
    os.utime(src / "css", ns=(st.st_atime_ns, st.st_mtime_ns))  # the folder's mtime as listed (one tick)
    return {"css/a.css"}


def _renamed_folder(src: Path) -> set[str]:
    (src / "css").rename(src / "styles")
    (src / "styles/a.css").write_text("a { color: green; }\n")
    return {"css/a.css", "styles/a.css"}


def _new_hidden_and_excluded(src: Path) -> set[str]:
    (src / "css/.a.css.swp").write_text("swap")
    (src / "css/a.css~").write_text("backup")
    (src / "css/a.css").write_text("a { color: teal; }\n")
    return {"css/.a.css.swp", "css/a.css~", "css/a.css"}


@pytest.mark.parametrize(
    "change", [_swap_for_symlink, _swap_for_directory, _recreate, _renamed_folder, _new_hidden_and_excluded]
)
def test_a_rebuild_told_what_was_touched_equals_a_fresh_build(
    make_source: Callable[[Tree], Path], tmp_path: Path, change: Callable[[Path], set[str]]
) -> None:
    src = make_source({"css/a.css": "a { color: red; }\n", "css/b.css": "b{}", "css/c.css": "c{}"})
    cfg = Config(source=src, output=tmp_path / "out", compress=False)
    states: list[object] = []
    build(cfg, changed=states.append)
    touched = change(src)
    second = build(cfg, state=states[-1], changed=states.append, touched=touched)  # type: ignore[arg-type]
    fresh = build(Config(source=src, output=tmp_path / "fresh", compress=False))
    assert second.manifest == fresh.manifest
    _served_bytes_match_manifest(tmp_path / "out")


def test_a_file_saved_twice_in_one_tick_is_read_again_whether_or_not_the_watcher_names_it_again(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # Same size, same inode, the mtime of the save before: only the racy-clean rule (2 s) can tell. The
    # plan's identity shortcut must not trust an Asset the memo handed back while its record is racy.
    src = make_source({"a.css": "a { color: red; }\n", "b.css": "b{}"})
    cfg = Config(source=src, output=tmp_path / "out", compress=False)
    states: list[object] = []
    build(cfg, changed=states.append)
    (src / "a.css").write_text("a { color: tan; }\n")
    mtime = (src / "a.css").stat().st_mtime_ns
    build(cfg, state=states[-1], changed=states.append, touched={"a.css"})  # type: ignore[arg-type]
    build(cfg, state=states[-1], changed=states.append, touched={"b.css"})  # type: ignore[arg-type]
    with (src / "a.css").open("r+") as fh:  # in place: the inode stays
        fh.write("a { color: red; }\n")
    os.utime(src / "a.css", ns=(mtime, mtime))
    third = build(cfg, state=states[-1], changed=states.append, touched={"b.css"})  # type: ignore[arg-type]
    assert (tmp_path / "out" / third.manifest.assets["a.css"].path).read_text() == "a { color: red; }\n"


def test_a_pack_rewritten_in_place_with_its_size_and_mtime_is_read_again_by_the_next_cache(
    tmp_path: Path,
) -> None:
    # The packs' index and bytes are remembered per process while each pack keeps (size, mtime, inode). A
    # pack rewritten in place (same inode, same size) with its mtime put back (touch -d, a restore that
    # keeps times) must not be answered from the old bytes: ctime moves whatever the writer does.
    import hashlib as _hashlib

    from assetpipe.cache import Cache, key

    k = key(_hashlib.sha256(b"input").digest(), "brotli", "q11")
    writer = Cache(tmp_path / "cache")
    writer.stage(k, b"old payload")
    writer.flush()
    assert Cache(tmp_path / "cache").get(k) == b"old payload"
    (pack,) = sorted((tmp_path / "cache" / "packs").glob("*.pack"))
    st = pack.stat()
    raw = pack.read_bytes()
    new = raw.replace(
        _hashlib.sha256(b"old payload").hexdigest().encode() + b" 11\nold payload",
        _hashlib.sha256(b"new payload").hexdigest().encode() + b" 11\nnew payload",
    )
    assert new != raw and len(new) == len(raw)
    with pack.open("r+b") as fh:
        fh.write(new)
    os.utime(pack, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert pack.stat().st_ino == st.st_ino
    assert Cache(tmp_path / "cache").get(k) == b"new payload"


def test_watch_restores_an_output_edited_in_an_out_that_was_removed_and_rebuilt_during_the_session(
    tmp_path: Path,
) -> None:
    # The watcher on OUT ignores events on OUT itself; once OUT is removed (rm -rf, a clean deploy script)
    # its inotify watch is gone with the folder, and the OUT the next rebuild makes is watched by no one:
    # from then on every output is taken "untouched", however OUT changes.
    import shutil

    from tests.test_watch import path_of, wait_for, watching

    with watching(tmp_path) as session:
        logo = path_of(session, "img/logo.png")
        shutil.rmtree(session.out)
        (session.src / "css/theme.css").write_text("a { color: blue; }\n")
        wait_for(lambda: (session.out / logo).exists() and session.manifest(), "OUT rebuilt")
        (session.out / logo).write_bytes(b"defaced")  # OUT edited after the rebuild
        old = path_of(session, "js/util.js")
        (session.src / "js/util.js").write_text("export const x = 2;\n")
        # A rebuild that read the new util.js began after the edit (a rebuild count could be met by the
        # compression pass of the save before, already under way when OUT was edited).
        wait_for(lambda: path_of(session, "js/util.js") not in ("", old), "the rebuild")
        _served_bytes_match_manifest(session.out)


def test_a_cache_hit_for_a_file_over_the_memory_budget_is_read_back_from_a_fresh_out(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # Over MAX_PENDING_BYTES the input is not kept: the inline lookup reads it back from OUT, where an empty
    # OUT has it written in place (files.write_new) just before.
    from assetpipe.compress import MAX_PENDING_BYTES

    big = b"".join(b"line %d of a big sheet { color: red; }\n" % i for i in range(MAX_PENDING_BYTES // 30))
    assert len(big) > MAX_PENDING_BYTES
    src = make_source({"big.css": big, "small.css": "p{}" * 200})
    cache = tmp_path / "cache"
    for out in ("warm", "fresh"):
        cfg = Config(source=src, output=tmp_path / out, brotli=False, gzip_backend="zlib", cache_dir=cache)
        report = build(cfg)
        entry = report.manifest.assets["big.css"]
        assert "gzip" in entry.encodings
        assert _gunzip(tmp_path / out / (entry.path + ".gz")) == big
        _served_bytes_match_manifest(tmp_path / out)
    assert report.cache_hits >= 1


@pytest.mark.parametrize("watched", [False, True])
def test_a_sibling_planted_beside_an_output_that_has_none_is_removed(
    make_source: Callable[[Tree], Path], tmp_path: Path, watched: bool
) -> None:
    # A server with gzip_static/brotli_static picks a sibling by its name alone: a .gz beside an output
    # whose manifest entry lists no gzip would be served in its place.
    src = make_source({"a.css": "p{}", "b.css": "b{}"})  # under min_size: no siblings
    out = tmp_path / "out"
    cfg = Config(source=src, output=out, brotli=False, gzip_backend="zlib", cache_dir=tmp_path / "cache")
    states: list[object] = []
    first = build(cfg, changed=states.append)
    a = first.manifest.assets["a.css"]
    assert not a.encodings
    planted = out / (a.path + ".gz")
    import gzip

    planted.write_bytes(gzip.compress(b"evil{}"))
    (src / "b.css").write_text("c{}")
    if watched:
        touched = {"b.css"}
        build(cfg, state=states[-1], changed=states.append, touched=touched, out_touched={a.path + ".gz"})  # type: ignore[arg-type]
    else:
        build(cfg)
    assert not planted.exists()


@pytest.mark.parametrize("with_output", [False, True])
def test_a_stale_sibling_left_in_an_out_without_a_manifest_is_not_served_beside_a_new_output(
    make_source: Callable[[Tree], Path], tmp_path: Path, with_output: bool
) -> None:
    # A killed first build (or a half-cleaned OUT) can leave x.H.css.gz behind; the next build finds OUT
    # without a manifest (in-place writes). An output whose entry lists no gzip must not have a .gz beside it.
    import gzip

    src = make_source({"a.css": "p{}"})  # under min_size: no siblings
    out = tmp_path / "out"
    name = hashed_path("a.css", fingerprint(b"p{}").hash)
    out.mkdir()
    (out / (name + ".gz")).write_bytes(gzip.compress(b"evil{}"))
    if with_output:
        (out / name).write_bytes(b"p{}")
    cfg = Config(source=src, output=out, brotli=False, gzip_backend="zlib", cache_dir=tmp_path / "cache")
    report = build(cfg)
    assert report.manifest.assets["a.css"].path == name and not report.manifest.assets["a.css"].encodings
    assert not (out / (name + ".gz")).exists()
