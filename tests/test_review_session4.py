"""Hostile review of session 4's build-core changes: each test is a way to make OUT serve wrong bytes."""

from __future__ import annotations

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


def test_a_watch_rebuild_restores_a_sibling_edited_in_out_and_one_of_an_output_ending_in_a_codec_suffix(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # OutView.untouched is one set lookup over the touched names with a codec suffix taken off: a sibling
    # touched in OUT must still make its output's record untrusted, for an output named x.gz too.
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
