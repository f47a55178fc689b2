"""The manifest model: its text, its lookups, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetpipe.errors import ManifestError, UnknownAsset
from assetpipe.manifest import Encoding, Manifest, ManifestEntry

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


def entry(path: str, **kw: object) -> ManifestEntry:
    fields: dict[str, object] = {
        "path": path,
        "hash": "0123456789ab",
        "integrity": "sha384-" + "A" * 64,
        "size": 3,
        "content_type": "text/css; charset=utf-8",
    }
    fields.update(kw)
    return ManifestEntry(**fields)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        names, st.tuples(names, st.booleans(), st.lists(names, max_size=3, unique=True)), max_size=6
    ),
    names,
)
def test_dumps_is_exactly_the_sorted_indented_json(
    raw: dict[str, tuple[str, bool, list[str]]], base: str
) -> None:
    assets = {
        key: entry(
            path,
            immutable=imm,
            dependencies=tuple(sorted(deps)),
            encodings={"br": Encoding(path + ".br", 1)} if imm else {},
        )
        for key, (path, imm, deps) in raw.items()
    }
    manifest = Manifest(base_url=base, assets=assets)
    expected = json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert manifest.dumps() == expected
    assert manifest.dumps() == expected  # the memoised path gives the same text
    assert Manifest.loads(expected) == manifest


def test_url_uses_the_base_url_or_an_override() -> None:
    m = Manifest("/static/", {"css/a.css": entry("css/a.0123456789ab.css")})
    assert m.url("css/a.css") == "/static/css/a.0123456789ab.css"
    assert (
        m.url("css/a.css", "https://cdn.example.com/s") == "https://cdn.example.com/s/css/a.0123456789ab.css"
    )


def test_an_unknown_asset_names_close_matches() -> None:
    m = Manifest("/static/", {"css/app.css": entry("css/app.0123456789ab.css")})
    with pytest.raises(UnknownAsset, match=r"unknown asset 'css/apps.css' \(did you mean 'css/app.css'\?\)"):
        m.url("css/apps.css")


def test_a_missing_or_invalid_manifest_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found") as info:
        Manifest.load(tmp_path / "manifest.json")
    assert str(tmp_path) in str(info.value)
    (tmp_path / "manifest.json").write_text('{"version": 2, "assets": {}}')
    with pytest.raises(ManifestError, match="version 1"):
        Manifest.load(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(ManifestError, match="invalid JSON"):
        Manifest.load(tmp_path / "manifest.json")


def test_every_codec_s_encoding_round_trips_and_is_written_sorted_like_json_dumps() -> None:
    from assetpipe.codecs import CODECS

    encodings = {name: Encoding("css/app.css" + codec.suffix, 10 + i) for i, (name, codec) in enumerate(CODECS.items())}
    manifest = Manifest(base_url="/static/", assets={"css/app.css": entry("css/app.css", encodings=encodings)})
    text = manifest.dumps()
    assert text == json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert Manifest.loads(text) == manifest
    assert manifest.output_files() == {"css/app.css", "css/app.css.br", "css/app.css.gz", "css/app.css.zst"}


def test_a_manifest_with_an_import_map_is_written_like_json_dumps_and_reads_back() -> None:
    from assetpipe.manifest import ImportMapData

    entry = ManifestEntry("js/a.0123456789ab.js", "0123456789ab", "sha384-" + "A" * 64, 1, "text/javascript")
    data = ImportMapData(
        imports={"lit": "/static/js/a.0123456789ab.js", "é</script>": "/static/x.js"},
        scopes={"/static/vendor/": {"b": "/static/js/a.0123456789ab.js"}},
        integrity={"/static/js/a.0123456789ab.js": "sha384-" + "A" * 64},
    )
    manifest = Manifest("/static/", {"js/a.js": entry}, importmap=data)
    text = manifest.dumps()
    assert text == json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert Manifest.loads(text) == manifest
