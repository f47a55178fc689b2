"""Finding references in text assets, one module per format, and resolving them (resolve.py).

``FORMATS`` is the one place that says which files are scanned: by file name first (``browserconfig.xml``,
``manifest.json``), then by extension. Adding a format is a module with ``find(text)`` and
``escape(text, ref, url)`` plus one line here; a format known only by a name other tools use too
(``manifest.json``) names a more lenient finder of its module. Any other file, text or not, is copied as it
is: a string in it that happens to name a file in SRC is not guessed to be a reference.
"""

from __future__ import annotations

import importlib
import posixpath
from dataclasses import dataclass
from types import ModuleType

from assetpipe.asset import Kind, Reference
from assetpipe.errors import MalformedSource, SourceWarning


@dataclass(frozen=True, slots=True)
class Format:
    """How one kind of file refers: its module's ``find`` its references, ``escape`` a new URL for a span.

    The module is imported on first use: a no-op rebuild reads no file, and compiling the scanners'
    patterns was a large part of its start-up.
    """

    plural: str  # for messages: "SVG files"
    module: str  # assetpipe.references.<module>
    finder: str = "find"  # the module's function that finds the references in a file's text

    def scanner(self) -> ModuleType:
        return importlib.import_module(f"assetpipe.references.{self.module}")

    def find(self, text: str) -> tuple[Reference, ...]:
        found: tuple[Reference, ...] = getattr(self.scanner(), self.finder)(text)
        return found

    def escape(self, text: str, ref: Reference, url: str) -> str:
        escaped: str = self.scanner().escape(text, ref, url)
        return escaped


_CSS = Format("stylesheets", "css")
_JS = Format("scripts", "js")
_APP_MANIFEST = Format("web app manifests", "webmanifest")

FORMATS: dict[str, Format] = {
    ".css": _CSS,
    ".js": _JS,
    ".mjs": _JS,
    ".svg": Format("SVG files", "svg"),
    ".webmanifest": _APP_MANIFEST,
    # An app manifest is recognised by its registered extension, or by the name generators give one that
    # a page links with <link rel="manifest"> (create-react-app, Vue CLI): assetpipe never sees the page.
    # Browser extensions, bundlers and vendor packages use that name for other JSON (or JSON with
    # comments): such a file is an app manifest only when it reads as one (webmanifest.find_if_app).
    "manifest.json": Format("web app manifests", "webmanifest", "find_if_app"),
    "browserconfig.xml": Format("browserconfig.xml files", "browserconfig"),
}


def format_of(logical_path: str) -> Format | None:
    """The format ``logical_path`` is scanned as, by its name, else its extension (case-insensitive)."""
    name = posixpath.basename(logical_path).lower()
    return FORMATS.get(name) or FORMATS.get(posixpath.splitext(name)[1])


def is_scanned(logical_path: str) -> bool:
    """True for the files whose references assetpipe finds and rewrites."""
    return format_of(logical_path) is not None


def find(logical_path: str, text: str) -> tuple[Reference, ...]:
    """References in a scanned file's text; other files have none. MalformedSource names the file."""
    fmt = format_of(logical_path)
    if fmt is None:
        return ()
    try:
        return fmt.find(text)
    except MalformedSource as exc:
        raise MalformedSource(
            exc.message,
            path=logical_path,
            line=exc.line,
            column=exc.column,
            hint=exc.hint or f"assetpipe parses {fmt.plural} for references; fix it or 'exclude' it",
        ) from None


def escape(logical_path: str, text: str, ref: Reference, url: str) -> str:
    """What to write in ``ref``'s span so that it reads back as ``url`` (quotes, entities, escapes)."""
    fmt = format_of(logical_path)
    return url if fmt is None else fmt.escape(text, ref, url)


def warnings(logical_path: str, refs: tuple[Reference, ...]) -> tuple[SourceWarning, ...]:
    """What the build should say about ``refs``, recomputed from them so a reused record says it too."""
    page_relative = [r for r in refs if r.kind is Kind.PAGE_RELATIVE]
    if not page_relative:
        return ()
    first = page_relative[0]
    more = f" (and {len(page_relative) - 1} more in this file)" if len(page_relative) > 1 else ""
    return (
        SourceWarning(
            f"worker script {first.url!r} is a plain string, resolved against the page rather than this "
            f"module, so it is left as written and will not follow hashing{more}",
            path=logical_path,
            line=first.line,
            column=first.column,
            hint=f"write new Worker(new URL({first.url!r}, import.meta.url)) or list it in 'unhashed'",
        ),
    )


__all__ = ["FORMATS", "Format", "escape", "find", "is_scanned"]
