"""ManifestReader: lookups, base URL overrides, and re-reading the manifest only when it changed."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from assetpipe.errors import ManifestError, UnknownAsset
from assetpipe.manifest import Manifest, ManifestEntry
from assetpipe.reader import BASE_URL_VARIABLE, ManifestReader

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def write_dist(out: Path, files: dict[str, bytes], base_url: str = "/static/") -> Path:
    """Write each file under its hashed path in ``out`` plus a manifest.json, as a build would."""
    assets = {}
    for logical, data in files.items():
        digest = hashlib.sha384(data)
        stem, ext = os.path.splitext(logical)
        hashed = f"{stem}.{digest.hexdigest()[:12]}{ext}"
        (out / hashed).parent.mkdir(parents=True, exist_ok=True)
        (out / hashed).write_bytes(data)
        assets[logical] = ManifestEntry(
            path=hashed,
            hash=digest.hexdigest()[:12],
            integrity="sha384-" + base64.b64encode(digest.digest()).decode(),
            size=len(data),
            content_type=TYPES[ext],
        )
    out.mkdir(parents=True, exist_ok=True)
    return Manifest(base_url=base_url, assets=assets).write(out)


def hashed(data: bytes) -> str:
    return hashlib.sha384(data).hexdigest()[:12]


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    return write_dist(
        tmp_path / "dist", {"css/app.css": b"body{}", "js/main.js": b"1", "img/logo.svg": b"<svg/>"}
    )


def test_url_joins_the_manifest_base_url_and_the_hashed_path(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    assert reader.url("css/app.css") == f"/static/css/app.{hashed(b'body{}')}.css"


def test_integrity_is_the_sha384_of_the_built_bytes(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    expected = "sha384-" + base64.b64encode(hashlib.sha384(b"1").digest()).decode()
    assert reader.integrity("js/main.js") == expected


def test_entry_returns_the_manifest_entry(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    assert reader.entry("img/logo.svg").content_type == "image/svg+xml"
    assert "img/logo.svg" in reader
    assert "img/nope.svg" not in reader


def test_unknown_asset_names_the_path_and_close_matches(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    with pytest.raises(UnknownAsset) as info:
        reader.url("css/ap.css")
    assert info.value.logical_path == "css/ap.css"
    assert info.value.suggestions == ("css/app.css",)
    assert "did you mean 'css/app.css'?" in str(info.value)


def test_unknown_asset_is_raised_by_integrity_and_entry_too(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    with pytest.raises(UnknownAsset, match=r"unknown asset 'js/mian\.js'"):
        reader.integrity("js/mian.js")
    with pytest.raises(UnknownAsset, match="unknown asset 'nothing'"):
        reader.entry("nothing")


def test_a_missing_manifest_fails_when_the_reader_is_made_naming_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "dist" / "manifest.json"
    with pytest.raises(ManifestError) as info:
        ManifestReader(missing, environ={})
    assert info.value.path == str(missing)
    assert "run 'assetpipe build' first" in str(info.value)


def test_an_invalid_manifest_fails_naming_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text('{"version": 1, "assets": ', encoding="utf-8")
    with pytest.raises(ManifestError, match="invalid JSON") as info:
        ManifestReader(bad, environ={})
    assert info.value.path == str(bad)


def test_base_url_argument_overrides_the_manifest(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, base_url="https://cdn.example.com/static/", environ={})
    assert reader.url("js/main.js") == f"https://cdn.example.com/static/js/main.{hashed(b'1')}.js"
    assert reader.base_url == "https://cdn.example.com/static/"


def test_base_url_environment_variable_overrides_the_manifest(
    manifest_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URL_VARIABLE, "https://cdn.example.com/a/")
    reader = ManifestReader(manifest_path)
    assert reader.url("js/main.js") == f"https://cdn.example.com/a/js/main.{hashed(b'1')}.js"


def test_base_url_argument_wins_over_the_environment_variable(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, base_url="/b/", environ={BASE_URL_VARIABLE: "/a/"})
    assert reader.base_url == "/b/"


def test_an_empty_environment_variable_counts_as_unset(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={BASE_URL_VARIABLE: ""})
    assert reader.base_url == "/static/"


def test_a_base_url_without_trailing_slash_gets_one(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, base_url="https://cdn.example.com", environ={})
    assert reader.url("js/main.js").startswith("https://cdn.example.com/js/main.")


def test_without_auto_reload_lookups_never_touch_the_disk(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    url = reader.url("css/app.css")
    write_dist(manifest_path.parent, {"css/app.css": b"body{color:red}"})
    manifest_path.unlink()
    assert reader.url("css/app.css") == url


def test_auto_reload_picks_up_a_rebuilt_manifest(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, auto_reload=True, environ={})
    assert reader.url("css/app.css").endswith(f".{hashed(b'body{}')}.css")
    write_dist(manifest_path.parent, {"css/app.css": b"body{color:red}"})
    assert reader.url("css/app.css").endswith(f".{hashed(b'body{color:red}')}.css")
    with pytest.raises(UnknownAsset):
        reader.url("js/main.js")


def test_auto_reload_notices_an_in_place_edit_that_keeps_the_mtime(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, auto_reload=True, environ={})
    reader.snapshot()
    before = manifest_path.stat()
    text = manifest_path.read_text(encoding="utf-8").replace('"/static/"', '"/static/v2/"')
    with open(manifest_path, "w", encoding="utf-8") as f:  # same inode, different size
        f.write(text)
    os.utime(manifest_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert reader.base_url == "/static/v2/"


def test_auto_reload_notices_an_in_place_edit_of_the_same_size(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, auto_reload=True, environ={})
    reader.snapshot()
    before = manifest_path.stat()
    text = manifest_path.read_text(encoding="utf-8").replace('"/static/"', '"/STATIC/"')
    with open(manifest_path, "w", encoding="utf-8") as f:
        f.write(text)
    os.utime(manifest_path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert reader.base_url == "/STATIC/"


def test_auto_reload_keeps_the_same_snapshot_while_the_file_is_unchanged(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, auto_reload=True, environ={})
    assert reader.snapshot() is reader.snapshot()


def test_auto_reload_reads_lazily_so_a_server_may_start_before_the_first_build(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    reader = ManifestReader(out / "manifest.json", auto_reload=True, environ={})
    with pytest.raises(ManifestError, match="manifest not found"):
        reader.url("js/main.js")
    write_dist(out, {"js/main.js": b"1"})
    assert reader.url("js/main.js") == f"/static/js/main.{hashed(b'1')}.js"


def test_auto_reload_raises_when_the_manifest_disappears(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, auto_reload=True, environ={})
    reader.snapshot()
    manifest_path.unlink()
    with pytest.raises(ManifestError, match="manifest not found"):
        reader.url("js/main.js")


def test_reload_rereads_even_without_auto_reload(manifest_path: Path) -> None:
    reader = ManifestReader(manifest_path, environ={})
    write_dist(manifest_path.parent, {"css/app.css": b"p{}"})
    reader.reload()
    assert reader.url("css/app.css").endswith(f".{hashed(b'p{}')}.css")
