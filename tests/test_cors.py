"""The cors setting: "*", a list of origins or false; every origin checked against what a browser sends."""

from __future__ import annotations

import pytest

from assetpipe.cors import DEFAULT, OFF, Cors, check_origin, parse_cors
from assetpipe.errors import ConfigError


def test_the_default_allows_any_origin() -> None:
    assert DEFAULT == Cors(("*",)) == parse_cors("*")
    assert DEFAULT.enabled and DEFAULT.any_origin


def test_false_turns_cors_off() -> None:
    assert parse_cors(False) is OFF
    assert not OFF.enabled and not OFF.any_origin


def test_a_list_names_exact_origins_in_the_order_given() -> None:
    cors = parse_cors(["https://www.example.com", "http://127.0.0.1:8080", "http://[::1]:3000"])
    assert cors.origins == ("https://www.example.com", "http://127.0.0.1:8080", "http://[::1]:3000")
    assert cors.enabled and not cors.any_origin


def test_a_single_origin_as_a_string_is_a_list_of_one() -> None:
    assert parse_cors("https://app.example") == Cors(("https://app.example",))


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example/",  # a trailing slash: browsers never send one
        "https://app.example/static",
        "HTTPS://app.example",  # browsers send lowercase
        "https://App.example",
        "app.example",
        "ftp://app.example",
        "https://",
        "https://app.example:0",
        "https://app.example:65536",
        "https://app.example:443",  # the default port never appears in Origin
        "http://app.example:80",
        "null",
        "https://app.example\n",
        "https://app.example\r\nSet-Cookie: x=1",
        'https://app.example"',
        "https://app.example'",
        "https://app example",
        "https://app.example;",
        "https://app.example,https://b.example",
        "https://{app}.example",
        "https://$host",
        "https://app.example\\",
        "https://*.example",
        "https://ü.example",
        "",
    ],
)
def test_anything_but_a_serialised_origin_is_refused_naming_it(origin: str) -> None:
    with pytest.raises(ConfigError, match="cors origin") as caught:
        parse_cors([origin])
    assert repr(origin) in str(caught.value)


def test_a_star_inside_a_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="'\\*' cannot be one of several origins"):
        parse_cors(["https://a.example", "*"])


@pytest.mark.parametrize("value", [[], True, 1, None, {"a": 1}, ["https://a.example", 3]])
def test_other_shapes_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="cors"):
        parse_cors(value)


def test_an_origin_listed_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="twice"):
        parse_cors(["https://a.example", "https://a.example"])


def test_a_cors_made_directly_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="cors origin"):
        Cors(('https://a.example" always; add_header X "y',))


def test_check_origin_returns_a_good_origin() -> None:
    assert check_origin("https://cdn.example.com:8443") == "https://cdn.example.com:8443"
