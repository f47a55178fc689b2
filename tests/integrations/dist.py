"""A small output directory laid out as `assetpipe build` writes it, for the framework tests."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from assetpipe.manifest import Manifest, ManifestEntry

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}

FILES: dict[str, bytes] = {
    "css/app.css": b"body{color:#123}",
    "js/main.js": b"import './a.js';import './b.js';import './c.js';",
    "js/a.js": b"export const a=1;",
    "js/b.js": b"export const b=2;",
    "js/c.js": b"export const c=3;",
    "img/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
}
IMPORTS = {"js/main.js": ("js/a.js", "js/b.js", "js/c.js")}

PAGE = """<!doctype html>
<title>t</title>
{{ asset_tag('css/app.css') }}
{{ asset_tag('js/main.js') }}
<img src="{{ asset('img/logo.svg') }}" alt="logo">
"""


def write_dist(
    out: Path, files: Mapping[str, bytes] = FILES, imports: Mapping[str, tuple[str, ...]] = IMPORTS
) -> Path:
    """Write each file under its hashed path plus manifest.json, as ``assetpipe build`` lays them out."""
    assets = {}
    for logical, data in files.items():
        digest = hashlib.sha384(data)
        stem, ext = os.path.splitext(logical)
        hashed = f"{stem}.{digest.hexdigest()[:12]}{ext}"
        (out / hashed).parent.mkdir(parents=True, exist_ok=True)
        (out / hashed).write_bytes(data)
        assets[logical] = ManifestEntry(
            path=hashed,
            hash=digest.hexdigest()[:12],
            integrity=sri(data),
            size=len(data),
            content_type=TYPES[ext],
            imports=tuple(imports.get(logical, ())),
        )
    out.mkdir(parents=True, exist_ok=True)
    return Manifest(base_url="/static/", assets=assets).write(out)


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def hashed_url(logical: str, data: bytes, base: str = "/static/") -> str:
    stem, ext = os.path.splitext(logical)
    return f"{base}{stem}.{hashlib.sha384(data).hexdigest()[:12]}{ext}"
