"""Extension -> Content-Type, fixed here rather than taken from the host's mimetypes database.

The stdlib table reads /etc/mime.types, which differs between machines; a manifest must not.
"""

from __future__ import annotations

import posixpath

TEXT_UTF8 = "; charset=utf-8"

MEDIA_TYPES: dict[str, str] = {
    ".css": "text/css" + TEXT_UTF8,
    ".js": "text/javascript" + TEXT_UTF8,
    ".mjs": "text/javascript" + TEXT_UTF8,
    ".cjs": "text/javascript" + TEXT_UTF8,
    ".map": "application/json" + TEXT_UTF8,
    ".json": "application/json" + TEXT_UTF8,
    ".webmanifest": "application/manifest+json" + TEXT_UTF8,
    ".html": "text/html" + TEXT_UTF8,
    ".htm": "text/html" + TEXT_UTF8,
    ".txt": "text/plain" + TEXT_UTF8,
    ".md": "text/markdown" + TEXT_UTF8,
    ".csv": "text/csv" + TEXT_UTF8,
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".bmp": "image/bmp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".br": "application/x-brotli",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".less": "text/plain" + TEXT_UTF8,
    ".scss": "text/plain" + TEXT_UTF8,
    ".ts": "text/plain" + TEXT_UTF8,
}

DEFAULT = "application/octet-stream"


def media_type(logical_path: str) -> str:
    """Content-Type for a logical path, by its last extension (case-insensitive)."""
    ext = posixpath.splitext(logical_path)[1].lower()
    return MEDIA_TYPES.get(ext, DEFAULT)
