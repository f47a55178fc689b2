"""Which origins may read the published assets cross-origin: the ``cors`` setting, parsed and checked once.

Published assets are public by construction, so the default is ``*``. A list names exact origins (the
server echoes the request's Origin when it is one of them, with ``Vary: Origin``); ``false`` sends nothing.
An origin is checked against the form browsers send (RFC 6454: ``scheme://host[:port]``, lowercase, no
path), which also guarantees it needs no quoting in any server's syntax: a value that does not match
(a quote, a space, a newline, a trailing slash) is refused with an error instead of being written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assetpipe.errors import ConfigError

ANY = "*"
# A serialised origin as a browser sends it: lowercase scheme and host (a DNS name, an IPv4 address or a
# bracketed IPv6 one), an optional port without leading zeros; nothing else.
_ORIGIN = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HINT = 'use "*", a list of origins such as ["https://www.example.com"], or false'


@dataclass(frozen=True, slots=True)
class Cors:
    """The allowed origins: ``("*",)`` for any, ``()`` for none (no CORS headers), else exact origins."""

    origins: tuple[str, ...] = (ANY,)

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    @property
    def any_origin(self) -> bool:
        """True for ``*``: one fixed header value, the same for every request (no ``Vary: Origin``)."""
        return self.origins == (ANY,)

    def __post_init__(self) -> None:
        if self.origins != (ANY,):
            for origin in self.origins:
                check_origin(origin)
            if len(set(self.origins)) != len(self.origins):
                raise ConfigError(f"cors lists an origin twice: {list(self.origins)!r}")


DEFAULT = Cors()
OFF = Cors(())


def check_origin(origin: str) -> str:
    """``origin`` if it is a serialised http(s) origin; ConfigError naming it otherwise."""
    if origin == ANY:
        raise ConfigError("cors: '*' cannot be one of several origins", hint='use cors = "*" on its own')
    match = _ORIGIN.fullmatch(origin) if isinstance(origin, str) else None
    if match is None:
        raise ConfigError(
            f"cors origin {origin!r} is not an origin",
            hint="write scheme://host[:port] in lowercase with no path or trailing slash, "
            "such as https://www.example.com",
        )
    port = int(match["port"] or 0)
    if port > 65535:
        raise ConfigError(f"cors origin {origin!r} has a port above 65535")
    if port == _DEFAULT_PORTS[origin.split(":", 1)[0]]:
        # A browser leaves the default port out of Origin, so this spelling would never match.
        raise ConfigError(f"cors origin {origin!r} names its scheme's default port", hint="leave it out")
    return origin


def parse_cors(value: object) -> Cors:
    """The ``cors`` setting as written in the config file: ``"*"``, a list of origins, or ``false``."""
    if value is False:
        return OFF
    if value == ANY:
        return DEFAULT
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError("cors is an empty list", hint="use cors = false to send no CORS headers")
        if not all(isinstance(item, str) for item in value):
            raise ConfigError("cors must be a list of strings", hint=_HINT)
        return Cors(tuple(value))
    if isinstance(value, str):
        # A single origin written as a string: accepted, checked like a list of one.
        return Cors((check_origin(value),))
    raise ConfigError(f'cors must be "*", a list of origins or false, not {value!r}', hint=_HINT)
