"""A small site built by the real pipeline (`assetpipe.pipeline.build`), for the framework tests."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path

from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build

#: main.js imports three modules (b.js imports c.js too), so its tag carries three modulepreloads.
SOURCES: dict[str, str] = {
    "css/app.css": "body { background: url(../img/logo.svg) }\n",
    "js/main.js": "import './a.js';\nimport { b } from './b.js';\nimport './c.js';\n",
    "js/a.js": "export const a = 1;\n",
    "js/b.js": "import './c.js';\nexport const b = 2;\n",
    "js/c.js": "export const c = 3;\n",
    "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
}

PAGE = """<!doctype html>
<title>t</title>
{{ asset_tag('css/app.css') }}
{{ asset_tag('js/main.js') }}
<img src="{{ asset('img/logo.svg') }}" alt="logo">
"""


def build_site(root: Path, changes: Mapping[str, str] | None = None, output: str = "dist") -> Manifest:
    """Write SOURCES (updated by ``changes``) under root/assets and build them into root/<output>."""
    for logical, text in {**SOURCES, **(changes or {})}.items():
        path = root / "assets" / logical
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    config = Config(
        source=root / "assets", output=root / output, compress=False, cache_dir=root / ".assetpipe-cache"
    )
    return build(config).manifest


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
