"""The fixed Content-Type table: host-independent, and covering what nginx and Caddy serve by default.

The two references are nginx's default ``mime.types`` (read from /etc/nginx/mime.types, where the Debian
package installs it) and Go's built-in table, which is what Caddy's file_server uses (copied below from
golang/go ``src/mime/type.go``, ``builtinTypesLower``: the table that lists a type when both Chrome and
Firefox know it, plus ``.ico`` from the earlier table). Every extension either maps to the same media
type here, or is listed with the reason it differs or is left out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assetpipe.media_types import DEFAULT, MEDIA_TYPES, media_type

NGINX_MIME_TYPES = Path("/etc/nginx/mime.types")

GO_BUILTIN = {
    ".ai": "application/postscript", ".apk": "application/vnd.android.package-archive", ".apng": "image/apng",
    ".avif": "image/avif", ".bin": "application/octet-stream", ".bmp": "image/bmp",
    ".com": "application/octet-stream", ".css": "text/css; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".ehtml": "text/html; charset=utf-8", ".eml": "message/rfc822", ".eps": "application/postscript",
    ".exe": "application/octet-stream", ".flac": "audio/flac", ".gif": "image/gif", ".gz": "application/gzip",
    ".htm": "text/html; charset=utf-8", ".html": "text/html; charset=utf-8", ".ico": "image/vnd.microsoft.icon",
    ".ics": "text/calendar; charset=utf-8", ".jfif": "image/jpeg", ".jpeg": "image/jpeg", ".jpg": "image/jpeg",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".m4a": "audio/mp4",
    ".mjs": "text/javascript; charset=utf-8", ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".oga": "audio/ogg",
    ".ogg": "audio/ogg", ".ogv": "video/ogg", ".opus": "audio/ogg", ".pdf": "application/pdf",
    ".pjp": "image/jpeg", ".pjpeg": "image/jpeg", ".png": "image/png", ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ps": "application/postscript", ".rdf": "application/rdf+xml", ".rtf": "application/rtf",
    ".shtml": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".text": "text/plain; charset=utf-8",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".txt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8", ".wasm": "application/wasm", ".wav": "audio/wav", ".webm": "audio/webm",
    ".webp": "image/webp", ".xbl": "text/xml; charset=utf-8", ".xbm": "image/x-xbitmap",
    ".xht": "application/xhtml+xml", ".xhtml": "application/xhtml+xml", ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xml": "text/xml; charset=utf-8", ".xsl": "text/xml; charset=utf-8", ".zip": "application/zip",
}  # fmt: skip

# Same extension, another media type here, on purpose.
DIFFERENT = {
    ".js": "RFC 9239 makes text/javascript the one type; application/javascript is obsolete",
    ".xml": "application/xml: RFC 7303 treats text/xml as its alias",
    ".xsl": "application/xml, as .xml",
    ".xbl": "not served: XBL is gone from every browser (not in this table at all)",
    ".ico": "image/vnd.microsoft.icon is the registered type; browsers take either",
    ".bmp": "image/bmp is the registered type (nginx: image/x-ms-bmp)",
    ".m4a": "audio/mp4 is the registered type (nginx: audio/x-m4a)",
    ".m4v": "video/mp4: an M4V file is MPEG-4 video (nginx: video/x-m4v)",
    ".webm": "video/webm: a .webm file may hold video, and audio/webm has .weba (Go: audio/webm)",
    ".mml": "application/mathml+xml is the registered type (nginx: text/mathml)",
    ".rar": "application/vnd.rar is the registered type (nginx: application/x-rar-compressed)",
    ".ts": "TypeScript source in an asset tree, far likelier than an MPEG-TS segment (nginx: video/mp2t)",
}

# In nginx's or Go's table but left to the default (application/octet-stream) here: no browser uses them.
NOT_WEB = {
    ".jad": "J2ME", ".wml": "WAP", ".wmlc": "WAP", ".htc": "IE behaviors", ".wbmp": "WAP bitmap",
    ".jng": "no browser", ".mng": "no browser", ".svgz": "needs Content-Encoding: gzip, which no snippet sends",
    ".swf": "Flash", ".jar": "Java", ".war": "Java", ".ear": "Java", ".jardiff": "Java Web Start",
    ".jnlp": "Java Web Start", ".hqx": "BinHex", ".cco": "Cocoa", ".run": "makeself", ".pl": "Perl",
    ".pm": "Perl", ".prc": "Palm", ".pdb": "Palm", ".rpm": "packages", ".sea": "StuffIt", ".sit": "StuffIt",
    ".tcl": "Tcl", ".tk": "Tcl", ".der": "certificates", ".pem": "certificates", ".crt": "certificates",
    ".xpi": "Firefox add-ons are installed from addons.mozilla.org", ".xspf": "playlists", ".mid": "no player",
    ".midi": "no player", ".kar": "no player", ".ra": "RealAudio", ".flv": "Flash video",
    ".asx": "Windows Media", ".asf": "Windows Media", ".wmv": "Windows Media", ".avi": "no browser plays it",
    ".apk": "Android packages", ".eml": "mail", ".xbl": "gone", ".xbm": "gone", ".ehtml": "not a web type",
}  # fmt: skip


def essence(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def nginx_types() -> dict[str, str]:
    if not NGINX_MIME_TYPES.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NGINX_MIME_TYPES} is missing: install nginx")
        pytest.skip(f"{NGINX_MIME_TYPES} is missing (install nginx)")
    body = NGINX_MIME_TYPES.read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for media, extensions in re.findall(r"^\s*([\w.+-]+/[\w.+-]+)\s+([^;]+);", body, re.MULTILINE):
        for ext in extensions.split():
            table["." + ext.lower()] = media
    assert len(table) > 80, "parsed too little of nginx's mime.types"
    return table


def uncovered(reference: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Extensions whose type here differs from the reference's, unless listed with a reason."""
    out = {}
    for ext, theirs in sorted(reference.items()):
        if ext in DIFFERENT or ext in NOT_WEB:
            continue
        ours = media_type("x" + ext)
        if essence(ours) != essence(theirs):
            out[ext] = (ours, theirs)
    return out


def test_every_type_in_nginx_default_table_is_here_or_differs_for_a_stated_reason() -> None:
    assert uncovered(nginx_types()) == {}


def test_every_type_in_go_builtin_table_which_caddy_serves_is_here_or_differs_for_a_stated_reason() -> None:
    assert uncovered(GO_BUILTIN) == {}


def test_the_listed_exceptions_are_still_exceptions() -> None:
    # An entry whose reason no longer applies (the types now agree, or it is served after all) must go.
    for ext in NOT_WEB:
        assert ext not in MEDIA_TYPES or ext in DIFFERENT, ext
    for ext in DIFFERENT:
        assert ext in MEDIA_TYPES or ext in NOT_WEB, ext


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("subs/en.vtt", "text/vtt; charset=utf-8"),
        ("img/a.apng", "image/apng"),
        ("img/a.jxl", "image/jxl"),
        ("img/a.HEIC", "image/heic"),
        ("audio/a.opus", "audio/ogg"),
        ("audio/a.m4a", "audio/mp4"),
        ("video/a.mov", "video/quicktime"),
        ("site.webmanifest", "application/manifest+json; charset=utf-8"),
        ("js/app.mjs", "text/javascript; charset=utf-8"),
        ("no-extension", DEFAULT),
        ("archive.tar.unknown", DEFAULT),
    ],
)
def test_types_browsers_need(name: str, expected: str) -> None:
    assert media_type(name) == expected


def test_the_table_does_not_depend_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import mimetypes

    monkeypatch.setattr(mimetypes, "types_map", {".css": "application/x-host-specific"})
    assert media_type("a.css") == "text/css; charset=utf-8"


def test_text_types_carry_utf8_and_binary_ones_do_not() -> None:
    for ext, content_type in MEDIA_TYPES.items():
        if essence(content_type).startswith("text/"):
            assert content_type.endswith("; charset=utf-8"), ext
        if essence(content_type).startswith(("image/", "audio/", "video/", "font/")):
            assert "charset" not in content_type, ext
