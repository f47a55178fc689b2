"""Hostile review of session 4's build-core changes: each test is a way to make OUT serve wrong bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import SourceError
from assetpipe.fingerprint import fingerprint, hashed_path
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build

Tree = dict[str, "str | bytes"]


def _served_bytes_match_manifest(out: Path) -> None:
    """Every file manifest.json names holds the bytes its integrity describes."""
    manifest = Manifest.load(out / "manifest.json")
    for logical, entry in manifest.assets.items():
        body = (out / entry.path).read_bytes()
        assert fingerprint(body).integrity == entry.integrity, f"{entry.path} ({logical}) is not what it lists"


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
