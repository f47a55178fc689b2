"""Extension -> Content-Type, fixed here rather than taken from the host's mimetypes database.

The stdlib table reads /etc/mime.types, which differs between machines; a manifest must not. The table
covers every type a browser does something with in nginx's default ``mime.types`` and in Go's built-in
table (what Caddy serves), plus the ones neither knows yet that browsers need (``.jxl``, ``.heic``); where
this table differs from theirs on purpose, tests/test_media_types.py says why. Text types carry
``charset=utf-8``.
"""

from __future__ import annotations

import posixpath

TEXT_UTF8 = "; charset=utf-8"
DEFAULT = "application/octet-stream"

MEDIA_TYPES: dict[str, str] = {
    # documents, styles, scripts and data
    ".html": "text/html" + TEXT_UTF8,
    ".htm": "text/html" + TEXT_UTF8,
    ".shtml": "text/html" + TEXT_UTF8,
    ".xhtml": "application/xhtml+xml",
    ".xht": "application/xhtml+xml",
    ".css": "text/css" + TEXT_UTF8,
    ".js": "text/javascript" + TEXT_UTF8,  # RFC 9239: text/javascript, not application/javascript
    ".mjs": "text/javascript" + TEXT_UTF8,
    ".cjs": "text/javascript" + TEXT_UTF8,
    ".map": "application/json" + TEXT_UTF8,
    ".json": "application/json" + TEXT_UTF8,
    ".jsonld": "application/ld+json" + TEXT_UTF8,
    ".geojson": "application/geo+json" + TEXT_UTF8,
    ".webmanifest": "application/manifest+json" + TEXT_UTF8,
    ".wasm": "application/wasm",
    ".xml": "application/xml",
    ".xsl": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".mml": "application/mathml+xml",
    ".txt": "text/plain" + TEXT_UTF8,
    ".text": "text/plain" + TEXT_UTF8,
    ".md": "text/markdown" + TEXT_UTF8,
    ".csv": "text/csv" + TEXT_UTF8,
    ".vtt": "text/vtt" + TEXT_UTF8,  # <track> subtitles: browsers refuse any other type
    ".ics": "text/calendar" + TEXT_UTF8,
    ".less": "text/plain" + TEXT_UTF8,
    ".scss": "text/plain" + TEXT_UTF8,
    ".ts": "text/plain" + TEXT_UTF8,  # TypeScript source in an asset tree, far likelier than MPEG-TS
    # images
    ".png": "image/png",
    ".apng": "image/apng",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jfif": "image/jpeg",
    ".pjpeg": "image/jpeg",
    ".pjp": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".jxl": "image/jxl",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".svg": "image/svg+xml",
    ".ico": "image/vnd.microsoft.icon",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    # fonts
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".ttc": "font/collection",
    ".eot": "application/vnd.ms-fontobject",
    # audio
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",  # Opus is served in an Ogg container
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".weba": "audio/webm",
    # video and streaming
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpeg",
    ".3gp": "video/3gpp",
    ".3gpp": "video/3gpp",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    # 3D models
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    # downloads
    ".pdf": "application/pdf",
    ".epub": "application/epub+zip",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".br": "application/x-brotli",
    ".tar": "application/x-tar",
    ".7z": "application/x-7z-compressed",
    ".rar": "application/vnd.rar",
    ".rtf": "application/rtf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".odg": "application/vnd.oasis.opendocument.graphics",
    ".ps": "application/postscript",
    ".eps": "application/postscript",
    ".ai": "application/postscript",
    ".kml": "application/vnd.google-earth.kml+xml",
    ".kmz": "application/vnd.google-earth.kmz",
}


def media_type(logical_path: str) -> str:
    """Content-Type for a logical path, by its last extension (case-insensitive)."""
    ext = posixpath.splitext(logical_path)[1].lower()
    return MEDIA_TYPES.get(ext, DEFAULT)
