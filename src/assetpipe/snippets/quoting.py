"""How each server's config syntax carries a string: one quoting function per syntax, and what it can't.

Every value a renderer writes into a config (root, URL paths, content types, CORS origins) goes through the
functions here, and every refusal is decided here: a value the syntax cannot quote is refused with a
ConfigError naming it, never written so that it means something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote as percent_encode

from assetpipe.errors import ConfigError

# Control characters (newline, tab, NUL, DEL) end a config line or a header in every server's syntax,
# so no quoting can carry them: refused everywhere.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def nginx_string(value: str) -> str:
    """An nginx double-quoted string: only backslash and the quote itself need escaping inside."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def caddy_string(value: str) -> str:
    """A Caddyfile double-quoted token (callers pass no backslashes and no braces: see CADDY)."""
    return '"' + value.replace('"', '\\"') + '"'


# Matched by path_regexp one character at a time; everything else is hex-escaped.
_CADDY_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


def caddy_regex_literal(value: str) -> str:
    """``value`` as an RE2 literal with only [A-Za-z0-9/_-] and ``\\x{..}`` escapes: nothing to quote."""
    return "".join(c if c in _CADDY_PLAIN else f"\\x{{{ord(c):x}}}" for c in value)


def caddy_regex(values: list[str]) -> str:
    """A double-quoted, anchored RE2 matching exactly these strings (no quote, brace or backslash-quote)."""
    return '"^(?:' + "|".join(caddy_regex_literal(v) for v in values) + ')$"'


def apache_string(value: str) -> str:
    """An Apache config double-quoted argument: backslash and quote are the only escapes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def apache_expr_string(value: str) -> str:
    """An ap_expr single-quoted string: backslash-escape what would end it or start a %{variable}."""
    return "'" + "".join("\\" + c if c in "\\'\"%${}" else c for c in value) + "'"


def apache_expr_list(values: list[str]) -> str:
    """An ap_expr list literal ``{'a', 'b'}`` for ``-in``."""
    return "{" + ", ".join(apache_expr_string(v) for v in values) + "}"


def rust_string(value: str) -> str:
    """A Rust string literal: backslash and quote escaped (control characters never get this far)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def headers_path(url: str) -> str:
    """A ``_headers`` rule path, percent-encoded: ':' (placeholder), '*' (splat), '#' and space mean things"""
    return percent_encode(url, safe="/-._~")


# A route as written by the user: RFC 3986 path characters, so ':name' placeholders and '*' splats work.
_HEADERS_ROUTE = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def headers_route(route: str) -> str:
    """A ``_headers`` rule path the user chose (placeholders and splats allowed); ConfigError otherwise."""
    if not _HEADERS_ROUTE.fullmatch(route):
        raise ConfigError(
            f"route {route!r} is not a _headers path",
            hint="start with '/' and percent-encode spaces, '#', '?' and non-ASCII characters",
        )
    return route


def headers_value(value: str) -> str:
    """A ``_headers`` header value: the rest of the line, taken as written (control characters refused)."""
    refuse(value, "header value", ())
    return value


@dataclass(frozen=True, slots=True)
class Syntax:
    """One server's config syntax: its name in messages, and the characters its quoting cannot carry."""

    name: str
    #: Refused in the root (the directory the config names), beyond control characters.
    refused_in_root: tuple[str, ...] = ()
    #: Refused in output paths (matched literally by the server), beyond control characters.
    refused_in_paths: tuple[str, ...] = ()


# alias and root expand $variables and nginx has no escape for '$'.
NGINX = Syntax("nginx", refused_in_root=("$",))
# Braces are placeholders (and {$ENV} is expanded while parsing), a backslash before a quote can't be
# written inside a Caddyfile string, and the file matcher globs the root; it escapes glob characters in
# the request path, but not a backslash.
CADDY = Syntax("Caddy", refused_in_root=("{", "}", "\\", "*", "?", "[", "]"), refused_in_paths=("\\",))
# ${NAME} is expanded on every config line and * ? [ ] are wildcards in <Directory>.
APACHE = Syntax("Apache", refused_in_root=("$", "*", "?", "[", "]"))
AXUM = Syntax("Axum")
HEADERS = Syntax("_headers")


def refuse(value: str, what: str, refused: tuple[str, ...], *, syntax: str = "this server's config") -> None:
    """ConfigError when ``value`` holds a control character or one of ``refused``."""
    if CONTROL.search(value):
        raise ConfigError(f"{what} {value!r} contains a control character (such as a newline)")
    for char in refused:
        if char in value:
            raise ConfigError(f"{what} {value!r} contains {char!r}, which {syntax} cannot quote")
