"""Glob patterns over logical paths with .gitignore's semantics: ``**`` spans folders, ``*``/``?`` stay in
one, anchoring, ``!`` re-inclusion, ``\\`` escapes."""

from __future__ import annotations

import pytest

from assetpipe.config import ALWAYS_EXCLUDED, DEFAULT_UNHASHED
from assetpipe.errors import ConfigError
from assetpipe.patterns import PathSet, path_set


def matches(pattern: str, logical_path: str) -> bool:
    return path_set([pattern]).matches(logical_path)


def test_a_pattern_without_a_slash_matches_the_last_segment_at_any_depth() -> None:
    assert matches("*.map", "app.js.map")
    assert matches("*.map", "js/vendor/app.js.map")
    assert not matches("*.map", "maps/readme.txt")


def test_a_slash_in_the_middle_anchors_the_pattern_at_the_source_root() -> None:
    assert matches("img/*.png", "img/a.png")
    assert not matches("img/*.png", "theme/img/a.png")


def test_a_leading_slash_anchors_the_pattern_at_the_source_root() -> None:
    assert matches("/favicon.ico", "favicon.ico")
    assert not matches("/favicon.ico", "img/favicon.ico")


def test_a_trailing_slash_names_a_folder_at_any_depth() -> None:
    assert matches("drafts/", "drafts/a.css")
    assert matches("drafts/", "css/drafts/deep/a.css")
    assert not matches("drafts/", "drafts.css")


def test_star_does_not_cross_a_folder() -> None:
    assert matches("css/*.css", "css/app.css")
    assert not matches("css/*.css", "css/vendor/app.css")


def test_double_star_crosses_folders_including_none() -> None:
    assert matches("css/**/*.css", "css/app.css")
    assert matches("css/**/*.css", "css/a/b/app.css")
    assert matches("css/**", "css/a/b/app.css")
    assert not matches("css/**", "js/app.js")
    assert matches("**", "any/thing/at/all")


def test_question_mark_is_one_character_but_never_a_slash() -> None:
    assert matches("a?.png", "a1.png")
    assert not matches("a?.png", "a12.png")
    assert not matches("img?a.png", "img/a.png")


def test_character_classes_and_their_negation() -> None:
    assert matches("[ab].png", "a.png")
    assert not matches("[ab].png", "c.png")
    assert matches("[!ab].png", "c.png")
    assert not matches("[!ab].png", "a.png")
    assert matches("v[0-9].js", "v7.js")


def test_regex_syntax_in_a_class_is_literal() -> None:
    assert matches("[&]x", "&x")
    assert matches("[\\]x", "\\x")
    assert not matches("[\\]x", "]x")


def test_an_invalid_class_is_a_configuration_error_naming_the_pattern() -> None:
    with pytest.raises(ConfigError, match=r"invalid pattern '\[z-a\]\.png'"):
        path_set(["*.css", "[z-a].png"])


def test_an_unclosed_bracket_matches_nothing_as_in_git() -> None:
    assert not matches("a[.png", "a[.png")
    assert not matches("a[.png", "a.png")


def test_regex_metacharacters_are_literal() -> None:
    assert matches("a+b(1).css", "a+b(1).css")
    assert not matches("a+b(1).css", "aab1.css")
    assert matches("$x^.js", "$x^.js")


def test_patterns_match_the_whole_path_not_a_prefix() -> None:
    assert not matches("app.css", "app.css.map")
    assert not matches("css/app", "css/app.css")


def test_surrounding_whitespace_in_a_pattern_is_ignored() -> None:
    assert matches("  *.css ", "a.css")


def test_a_path_set_matches_when_any_pattern_does() -> None:
    paths = path_set(["*.css", "img/**"])
    assert isinstance(paths, PathSet)
    assert paths.matches("x/a.css")
    assert paths.matches("img/a/b.png")
    assert not paths.matches("js/a.js")
    assert not path_set([]).matches("a.css")


@pytest.mark.parametrize(
    ("logical_path", "expected"),
    [
        ("favicon.ico", True),
        ("robots.txt", True),
        (".well-known/security.txt", True),
        (".well-known/acme/x", True),
        ("apple-touch-icon-180x180.png", True),
        ("sw.js", True),
        ("css/app.css", False),
        ("js/app.js", False),
    ],
)
def test_default_unhashed_list(logical_path: str, expected: bool) -> None:
    assert path_set(DEFAULT_UNHASHED).matches(logical_path) is expected


@pytest.mark.parametrize("logical_path", ["a.css~", "css/.#app.css", "css/.app.css.swp", "x/Thumbs.db"])
def test_editor_droppings_are_always_excluded(logical_path: str) -> None:
    assert path_set(ALWAYS_EXCLUDED).matches(logical_path)


def test_ordinary_files_are_not_editor_droppings() -> None:
    assert not path_set(ALWAYS_EXCLUDED).matches("css/app.css")


def test_a_bang_pattern_takes_back_what_an_earlier_one_matched() -> None:
    published = path_set(["**", "!secret/**"])
    assert published.matches("css/app.css")
    assert not published.matches("secret/key.pem")
    assert not published.matches("secret/deep/key.pem")


def test_the_last_matching_pattern_decides() -> None:
    assert not path_set(["*.map", "!keep.map"]).matches("js/keep.map")
    assert path_set(["*.map", "!keep.map", "js/*.map"]).matches("js/keep.map")
    assert path_set(["*.map", "!keep.map"]).matches("js/other.map")


def test_a_bang_pattern_can_take_back_a_file_under_a_matched_folder() -> None:
    # git never looks inside an excluded folder; assetpipe matches every file's own path.
    assert not path_set(["vendor/", "!vendor/keep.js"]).matches("vendor/keep.js")
    assert path_set(["vendor/", "!vendor/keep.js"]).matches("vendor/drop.js")


def test_a_backslash_escapes_a_glob_character_and_a_leading_bang() -> None:
    assert matches("\\*.css", "*.css")
    assert not matches("\\*.css", "a.css")
    assert matches("\\!important.txt", "!important.txt")


def test_two_stars_inside_a_segment_do_not_span_folders() -> None:
    assert matches("foo**bar", "foo-x-bar")
    assert not matches("foo**bar", "foo/x/bar")
    assert matches("foo/**/bar", "foo/x/y/bar")


def test_a_pattern_naming_a_folder_matches_what_is_inside_it() -> None:
    assert matches("css/vendor", "css/vendor/a.css")
    assert not matches("css/vendor", "css/vendor.css")


GRID_PATTERNS = [
    "*.map", "node_modules/", "/favicon.ico", "img/*.png", "**/.*", "a/**/b", "**/test/**", "x[!a]y",
    "\\*.css", "foo**bar", "vendor/tinymce/**", "*.js", "?.txt", "  docs/  ", "a/b/", "**", "sw.js",
]
GRID_PATHS = [
    "app.js.map", "js/vendor/app.js.map", "node_modules/lit/index.js", "a/node_modules/x.js", "favicon.ico",
    "img/favicon.ico", "img/a.png", "theme/img/a.png", ".env", "css/.hidden/x.css", "a/b", "a/x/y/b",
    "src/test/x.js", "xby", "x/y", "*.css", "a.css", "fooxbar", "foo/x/bar", "vendor/tinymce/a/b.js", "1.txt",
    "12.txt", "docs/index.md", "a/b/c.js", "sw.js", "js/sw.js",
]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_joined_patterns_decide_exactly_as_pathspec_does(size: int) -> None:
    # Negation-free sets are matched by one joined regex (speed); pathspec's own matching is the reference.
    from pathspec import GitIgnoreSpec

    for start in range(len(GRID_PATTERNS)):
        patterns = [GRID_PATTERNS[(start + k * 5) % len(GRID_PATTERNS)] for k in range(size)]
        for extra in ([], ["!keep.map", "*.map"]):
            listed = patterns + extra
            spec = GitIgnoreSpec.from_lines([p.strip() for p in listed if p.strip()])
            ours = path_set(listed)
            for path in GRID_PATHS:
                assert ours.matches(path) == spec.match_file(path), (listed, path)
