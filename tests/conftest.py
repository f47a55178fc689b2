"""Shared fixtures: source trees made from dicts, and schema validation of every manifest a build wrote."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "manifest.schema.json").read_text(encoding="utf-8"))

Tree = dict[str, "str | bytes"]


def write_tree(root: Path, files: Tree) -> Path:
    """Write ``files`` (logical path -> text or bytes) under ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_source(tmp_path: Path) -> Callable[[Tree], Path]:
    """``make_source({"css/app.css": "...", "img/x.png": b"..."})`` -> the SRC directory."""

    def make(files: Tree) -> Path:
        return write_tree(tmp_path / "src", files)

    return make


def validate_manifest(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), SCHEMA)


@pytest.fixture(autouse=True)
def _every_built_manifest_matches_the_schema(tmp_path: Path) -> Iterator[None]:
    """After each test, every manifest.json a build wrote under tmp_path validates against the schema."""
    yield
    for manifest in tmp_path.rglob("manifest.json"):
        if (manifest.parent / ".assetpipe").is_dir():
            validate_manifest(manifest)
