"""The manifest model: its text, its lookups, and its errors."""

from __future__ import annotations

import hashlib
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


def _digest(manifest: Manifest) -> str:
    """Manifest.digest as documented, worked out from the text alone: SHA-384 over the line count, the
    SHA-256 of each asset's line, then the text of the manifest without its assets."""
    lines = [
        f"    {json.dumps(key, ensure_ascii=False)}: "
        + json.dumps(manifest.assets[key].to_json(), indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n    ")
        for key in sorted(manifest.assets)
    ]
    text = manifest.dumps()
    assert ",\n".join(lines) in text
    outer = hashlib.sha384(f"{len(lines)}\n".encode() if lines else b"")
    outer.update(b"".join(hashlib.sha256(line.encode()).digest() for line in lines))
    outer.update(Manifest(manifest.base_url, {}, importmap=manifest.importmap).dumps().encode())
    return outer.hexdigest()


def _expected(manifest: Manifest) -> tuple[str, str, list[str], str, bytes]:
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    names = sorted(manifest.output_files())
    return text, _digest(manifest), names, json.dumps(names, separators=(",", ":")), text.encode()


def _derived(manifest: Manifest) -> tuple[str, str, list[str], str, bytes]:
    m = manifest
    return m.dumps(), m.digest(), m.output_names(), m.output_names_json(), m.encoded()


def test_a_rebuild_s_manifest_text_digest_and_names_match_a_fresh_serialisation() -> None:
    # A watch rebuild serialises a manifest that differs from the last in a few entries: its text, digest
    # and sorted names are made from the last one's, and must be exactly what a fresh serialisation gives.
    assets = {f"css/{i}.css": entry(f"css/{i}.0123456789ab.css") for i in range(30)}
    first = Manifest("/static/", assets)
    _derived(first)
    changed = dict(assets)
    changed["css/7.css"] = entry("css/7.ba9876543210.css", encodings={"br": Encoding("css/7.ba9876543210.css.br", 1)})
    changed["css/12.css"] = entry("css/12.0123456789ab.css", encodings={"gzip": Encoding("css/12.0123456789ab.css.gz", 2)})
    second = Manifest("/static/", changed)
    _, digest, names, _, _ = got = _derived(second)
    assert got == _expected(second)
    assert "css/7.0123456789ab.css" not in names and "css/7.ba9876543210.css.br" in names
    assert digest != first.digest()


def test_a_mapping_changed_in_place_is_serialised_as_it_is_now() -> None:
    assets = {"a.css": entry("a.0123456789ab.css"), "b.css": entry("b.0123456789ab.css")}
    manifest = Manifest("/static/", assets)
    before = _derived(manifest)
    assets["b.css"] = entry("b.ba9876543210.css")  # the same dict object, another entry
    after = _derived(manifest)
    assert after == _expected(manifest)
    assert after[2] == ["a.0123456789ab.css", "b.ba9876543210.css"]
    assert after[1] != before[1]
    assets["b.css"] = entry("b.0123456789ab.css")  # back to the first text: the first digest
    assert manifest.digest() == before[1]


def test_the_digest_tells_every_text_apart_and_names_are_each_listed_once() -> None:
    base = {"a.css": entry("x.css"), "b.css": entry("x.css", encodings={"br": Encoding("x.css.br", 1)})}
    manifests = [
        Manifest("/static/", base),
        Manifest("/other/", base),
        Manifest("/static/", {"a.css": base["a.css"]}),
        Manifest("/static/", {}),
        Manifest("/static/", {**base, "b.css": entry("x.css")}),
    ]
    digests = [m.digest() for m in manifests]
    assert len(set(digests)) == len(digests)
    assert [m.digest() for m in manifests] == digests  # the same again, whatever was serialised between
    # Two entries naming one file (never a build's, but a manifest can say so): the name is listed once,
    # and stays listed while either still names it.
    assert manifests[0].output_names() == ["x.css", "x.css.br"]
    assert Manifest("/static/", {**base, "b.css": entry("y.css")}).output_names() == ["x.css", "y.css"]
    assert manifests[4].output_names() == ["x.css"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(["p", "q", "r", "é/\"x", "r\\n"]), max_size=6), min_size=1, max_size=6))
def test_any_sequence_of_manifests_serialises_as_each_would_alone(steps: list[dict[str, str]]) -> None:
    # Each step's manifest is serialised after the previous one (the incremental path when the keys are
    # the same), and must give exactly what a fresh serialisation of it gives.
    for step in steps:
        assets = {
            key: entry(f"{path}.css", encodings={"br": Encoding(f"{path}.css.br", 1)} if key < "c" else {})
            for key, path in step.items()
        }
        manifest = Manifest("/static/", assets)
        assert _derived(manifest) == _expected(manifest)
