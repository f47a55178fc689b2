"""Digests, integrity values and hashed names, always of the final bytes."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetpipe.fingerprint import HASH_LENGTH, Fingerprint, fingerprint, hashed_path, parse_hashed_path

DIGEST = "0123456789ab"


def test_digest_is_lowercase_hex_of_a_length_between_10_and_16() -> None:
    fp = fingerprint(b"body{}")
    assert re.fullmatch(r"[0-9a-f]+", fp.hash)
    assert 10 <= len(fp.hash) <= 16
    assert len(fp.hash) == HASH_LENGTH


def test_digest_is_the_start_of_the_sha384_of_the_bytes() -> None:
    data = b"a { color: red }"
    assert fingerprint(data).hash == hashlib.sha384(data).hexdigest()[:HASH_LENGTH]


def test_integrity_is_the_full_sha384_in_base64() -> None:
    data = b"console.log(1)"
    expected = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")
    assert fingerprint(data) == Fingerprint(hash=fingerprint(data).hash, integrity=expected, size=len(data))


def test_one_changed_byte_changes_the_digest() -> None:
    assert fingerprint(b"a.png v1").hash != fingerprint(b"a.png v2").hash


def test_the_same_bytes_always_give_the_same_fingerprint() -> None:
    assert fingerprint(b"x" * 1000) == fingerprint(b"x" * 1000)


def test_empty_file_has_a_fingerprint() -> None:
    fp = fingerprint(b"")
    assert fp.size == 0
    assert fp.hash == hashlib.sha384(b"").hexdigest()[:HASH_LENGTH]


@pytest.mark.parametrize(
    ("logical_path", "expected"),
    [
        ("css/app.css", f"css/app.{DIGEST}.css"),
        ("app.css", f"app.{DIGEST}.css"),
        ("js/jquery.min.js", f"js/jquery.min.{DIGEST}.js"),
        ("css/app.css.map", f"css/app.css.{DIGEST}.map"),
        ("LICENSE", f"LICENSE.{DIGEST}"),
        ("dir.v2/LICENSE", f"dir.v2/LICENSE.{DIGEST}"),
        (".htaccess", f".htaccess.{DIGEST}"),
        ("img/a b.png", f"img/a b.{DIGEST}.png"),
        ("fonts/ü.woff2", f"fonts/ü.{DIGEST}.woff2"),
    ],
)
def test_the_hash_goes_before_the_last_extension_only(logical_path: str, expected: str) -> None:
    assert hashed_path(logical_path, DIGEST) == expected


@pytest.mark.parametrize(
    "logical_path",
    ["css/app.css", "js/jquery.min.js", "app.css.map", "LICENSE", ".htaccess", "dir.v2/LICENSE", "a b.png"],
)
def test_parse_undoes_hashed_path(logical_path: str) -> None:
    assert parse_hashed_path(hashed_path(logical_path, DIGEST)) == (logical_path, DIGEST)


def test_a_name_that_already_looks_hashed_round_trips() -> None:
    # a vendor file whose own name carries a hex hash, and one whose extension is 12 hex digits
    for logical_path in ["js/chunk.abcdefabcdef.js", "data/x.abcdefabcdef", "abcdefabcdef.js"]:
        assert parse_hashed_path(hashed_path(logical_path, DIGEST)) == (logical_path, DIGEST)


@pytest.mark.parametrize(
    "path", ["css/app.css", "app.0123456789.css", "app.0123456789ABCD.css", "app.0123456789abz.css", ""]
)
def test_a_path_without_a_hash_parses_to_none(path: str) -> None:
    assert parse_hashed_path(path) is None


_SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", "..") and not s.endswith("."))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(_SEGMENT, min_size=1, max_size=4).map("/".join),
    st.text(alphabet="0123456789abcdef", min_size=HASH_LENGTH, max_size=HASH_LENGTH),
)
def test_any_logical_path_round_trips_through_its_hashed_path(logical_path: str, digest: str) -> None:
    hashed = hashed_path(logical_path, digest)
    assert hashed.rsplit("/", 1)[:-1] == logical_path.rsplit("/", 1)[:-1]  # same folder
    assert parse_hashed_path(hashed) == (logical_path, digest)
