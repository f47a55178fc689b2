"""Finding references in text assets (css.py, js.py) and resolving them to logical paths (resolve.py)."""

from __future__ import annotations

from assetpipe.asset import CSS_SUFFIXES, JS_SUFFIXES, Reference
from assetpipe.references.css import find_css_references
from assetpipe.references.js import find_js_references


def find(logical_path: str, text: str) -> tuple[Reference, ...]:
    """References in a CSS or JS file's text; other types have none."""
    suffix = logical_path[logical_path.rfind(".") :].lower() if "." in logical_path else ""
    if suffix in CSS_SUFFIXES:
        return find_css_references(text)
    if suffix in JS_SUFFIXES:
        return find_js_references(text)
    return ()


__all__ = ["find", "find_css_references", "find_js_references"]
