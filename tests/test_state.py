"""The record of the last build as read back from the cache directory: one that cannot be vouched for (made
by another assetpipe, of another record version, or garbled) is not trusted, and the build reads every file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assetpipe import pipeline
from assetpipe.config import Config
from assetpipe.pipeline import build
from assetpipe.state import state_path
from tests.test_emit import aged_site, outputs


def edit_record(cfg: Config, edit: Any) -> None:
    assert cfg.cache_dir is not None
    path = state_path(cfg.cache_dir, cfg.output)
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_record_made_by_another_assetpipe_version_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An older version whose scanner missed the stylesheet's url(): the references it recorded are not
    # this version's, though the file's digest is the record's.
    cfg = aged_site(tmp_path)
    with monkeypatch.context() as older:
        older.setattr(pipeline, "__version__", "0.0.1")
        build(cfg)
    edit_record(cfg, lambda data: data["files"]["css/app.css"].update(references=[]))
    cfg.output.rename(tmp_path / "old-out")  # so the stylesheet is emitted, not kept
    report = build(cfg)
    png = report.manifest.assets["img/a.png"].path
    css_out = (cfg.output / report.manifest.assets["css/app.css"].path).read_text()
    assert css_out == f"body {{ background: url(../{png}); }}\n"
    assert report.read == len(report.manifest.assets)


@pytest.mark.parametrize("digest", ["not hex", 5, [1], True, {}])
def test_a_record_with_a_garbled_digest_is_not_trusted(tmp_path: Path, digest: object) -> None:
    cfg = aged_site(tmp_path)
    build(cfg)
    first = outputs(cfg.output)
    edit_record(cfg, lambda data: data["files"]["css/app.css"].update(digest=digest))
    cfg.output.rename(tmp_path / "old-out")
    report = build(cfg)
    assert report.read == len(report.manifest.assets)
    assert outputs(cfg.output) == first


@pytest.mark.parametrize("digest", [None, "", "ab", "0" * 64])
def test_a_record_whose_digest_is_not_the_files_has_the_file_scanned_again(
    tmp_path: Path, digest: object
) -> None:
    cfg = aged_site(tmp_path)
    build(cfg)
    first = outputs(cfg.output)
    edit_record(cfg, lambda data: data["files"]["css/app.css"].update(digest=digest))
    cfg.output.rename(tmp_path / "old-out")
    build(cfg)
    assert outputs(cfg.output) == first


def test_a_record_of_the_previous_version_without_digests_is_not_trusted(tmp_path: Path) -> None:
    cfg = aged_site(tmp_path)
    build(cfg)
    first = outputs(cfg.output)

    def version_2(data: dict[str, Any]) -> None:
        data["version"] = 2
        for record in data["files"].values():
            del record["digest"]

    edit_record(cfg, version_2)
    cfg.output.rename(tmp_path / "old-out")
    report = build(cfg)
    assert report.read == len(report.manifest.assets)
    assert outputs(cfg.output) == first
