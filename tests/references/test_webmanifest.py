"""Web app manifests: icons, screenshots and shortcut/file-handler icons, found by the JSON parser."""

from __future__ import annotations

import json

import pytest

from assetpipe.errors import MalformedSource
from assetpipe.references import escape, find, is_scanned

MANIFEST = {
    "name": "App",
    "start_url": "/app/",
    "icons": [{"src": "icons/192.png", "sizes": "192x192"}, {"src": "icons/512.png"}],
    "screenshots": [{"src": "shots/wide.png", "form_factor": "wide"}],
    "shortcuts": [{"name": "New", "url": "/new", "icons": [{"src": "icons/new.png"}]}],
    "file_handlers": [{"action": "/open", "icons": [{"src": "icons/file.png"}]}],
}


def urls(text: str, name: str = "site.webmanifest") -> list[str]:
    return [r.url for r in find(name, text)]


def test_every_image_member_is_a_reference_and_pages_are_not() -> None:
    text = json.dumps(MANIFEST, indent=2)
    assert urls(text) == [
        "icons/192.png",
        "icons/512.png",
        "shots/wide.png",
        "icons/new.png",
        "icons/file.png",
    ]


@pytest.mark.parametrize(
    "name", ["site.webmanifest", "app/manifest.webmanifest", "manifest.json", "pwa/MANIFEST.JSON"]
)
def test_app_manifests_are_known_by_extension_or_by_the_name_manifest_json(name: str) -> None:
    assert is_scanned(name)
    assert urls('{"icons": [{"src": "a.png"}]}', name) == ["a.png"]


def test_other_json_files_are_not_scanned() -> None:
    assert not is_scanned("data/icons.json")
    assert find("data/icons.json", '{"icons": [{"src": "a.png"}]}') == ()


def test_spans_cover_the_string_as_written_with_its_escapes() -> None:
    text = '{"icons": [{"src": "icons\\/a\\u002epng"}]}'
    [ref] = find("site.webmanifest", text)
    assert (ref.url, text[ref.start : ref.end], ref.line, ref.column) == (
        "icons/a.png",
        "icons\\/a\\u002epng",
        1,
        21,
    )


def test_members_of_the_wrong_type_are_ignored() -> None:
    text = '{"icons": {"src": "a.png"}, "screenshots": [{"src": 5}, "b.png", {"src": null}], "shortcuts": 1}'
    assert urls(text) == []
    assert urls("[1, 2]") == []


def test_a_byte_order_mark_is_allowed() -> None:
    assert urls('\ufeff{"icons": [{"src": "a.png"}]}') == ["a.png"]


def test_the_last_of_duplicate_keys_counts_as_in_browsers() -> None:
    assert urls('{"icons": [{"src": "a.png", "src": "b.png"}]}') == ["b.png"]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        (
            '{"icons": [\n  {"src": "a.png",}\n]}',
            "not valid JSON: Expecting property name enclosed in double quotes",
            2,
            19,
        ),
        ('{"icons": []} x', "not valid JSON: Extra data", 1, 15),
        ("", "not valid JSON: Expecting value", 1, 1),
        ('{"a": NaN}', "not valid JSON: NaN is not JSON", None, None),
        ("[" * 100_000, "not valid JSON: nested too deeply", None, None),
    ],
)
def test_a_file_that_is_not_json_is_one_clear_error(
    text: str, message: str, line: int | None, column: int | None
) -> None:
    with pytest.raises(MalformedSource) as info:
        find("site.webmanifest", text)
    error = info.value
    assert (error.path, error.message, error.line, error.column) == (
        "site.webmanifest",
        message,
        line,
        column,
    )
    assert "assetpipe parses web app manifests for references" in str(error)


@pytest.mark.parametrize("new", ["icons/a.1234567890ab.png", 'a"b\\c.png?x=\u2028', "é.png"])
def test_a_new_url_is_written_as_a_json_string_that_reads_back_as_itself(new: str) -> None:
    text = '{"icons": [{"src": "a.png"}]}'
    [ref] = find("site.webmanifest", text)
    rewritten = text[: ref.start] + escape("site.webmanifest", text, ref, new) + text[ref.end :]
    assert json.loads(rewritten)["icons"][0]["src"] == new


# Found by the npm sweep's question (benchmarks/sweep.py): other tools name their files manifest.json too.
EXTENSION_MANIFEST = """{
  // Chrome reads an extension's manifest.json as JSON with comments
  "manifest_version": 3,
  "name": "Tab tidy",
  "icons": {"16": "icons/16.png", "128": "icons/128.png"},
  "action": {"default_popup": "popup.html"}
}
"""
ASSET_MAP = '{"main.js": "main.3f2a9c.js", "logo.png": "img/logo.5b1e0d.png"}'


@pytest.mark.parametrize(
    "text",
    [EXTENSION_MANIFEST, ASSET_MAP, '{"version": "1.0", "files": ["a.png"]}', "[1, 2]", "{", "", "not json"],
)
def test_a_manifest_json_that_is_not_an_app_manifest_has_no_references_and_no_error(text: str) -> None:
    assert find("vendor/ext/manifest.json", text) == ()


def test_a_webmanifest_that_is_not_json_is_still_an_error() -> None:
    with pytest.raises(MalformedSource):
        find("vendor/ext/site.webmanifest", EXTENSION_MANIFEST)


@pytest.mark.parametrize("member", ["name", "short_name", "start_url", "display", "scope", "icons"])
def test_a_manifest_json_with_a_member_of_an_app_manifest_is_one(member: str) -> None:
    text = json.dumps({member: "x", "screenshots": [{"src": "shot.png"}]})
    assert urls(text, "manifest.json") == ["shot.png"]
