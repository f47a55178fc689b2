"""One exception family: the library raises these, only the CLI renders them.

Every error knows the file (and line/column where there is one) it is about, so the CLI can print one
compiler-style line: ``css/app.css:12:5: broken reference 'img/logo.png': no such file under src/``.
"""

from __future__ import annotations

import os
from pathlib import Path


class AssetpipeError(Exception):
    """Base of every error assetpipe raises on purpose; anything else is a bug."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint

    def location(self, path: str | None = None) -> str:
        """``path:line:column`` with whatever parts are known (``path`` shown instead of ``self.path``)."""
        loc = self.path if path is None else path
        if loc is None:
            return ""
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def describe(self, path: str | None = None) -> str:
        """The one-line diagnostic, with ``path`` shown for the file when given (the CLI shows paths as
        the user would type them; the library knows them relative to SRC)."""
        loc = self.location(path)
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def render(self, source: Path | None = None) -> str:
        """The one-line diagnostic with the path as the user would type it from the working directory.

        An absolute path is shown relative to the working directory when it lies under it; a SourceError's
        logical path is first joined to ``source`` (SRC).
        """
        if self.path is None:
            return self.describe()
        if os.path.isabs(self.path):
            full = Path(self.path)
        elif source is not None and isinstance(self, SourceError) and not self.path.startswith(("'", '"')):
            full = source / self.path  # (a repr()'d unprintable name is shown as it is)
        else:
            return self.describe()
        try:
            return self.describe(full.relative_to(Path.cwd().resolve()).as_posix())
        except (ValueError, OSError):
            return self.describe(str(full))

    def __str__(self) -> str:
        return self.describe()


class ConfigError(AssetpipeError):
    """The configuration (file or flags) is wrong; ``path`` names the config file."""

    exit_code = 2


class SourceError(AssetpipeError):
    """A source file cannot be built as it stands; ``path`` is its logical path (relative to SRC)."""


class BrokenReference(SourceError):
    """A reference names a file that does not exist under the source root."""


class EscapesSource(SourceError):
    """A reference or symlink resolves outside the source root: never read, never copied."""


class ReferenceCycle(SourceError):
    """Files reference each other in a loop, so no content hash can be computed."""


class InvalidEncoding(SourceError):
    """A scanned text asset (CSS, JS, SVG, app manifest, browserconfig.xml) is not valid UTF-8."""


class MalformedSource(SourceError):
    """A file scanned with a real parser (JSON, XML) is not well-formed, so its references are unknown."""


class SourceWarning(SourceError):
    """Builds, but probably not as meant (a URL that cannot follow hashing): reported, never raised."""


class OutputError(AssetpipeError):
    """Writing the output failed (disk full, permission denied, bad layout)."""


class ManifestError(AssetpipeError):
    """A manifest is missing, unreadable or not a valid version-1 manifest."""


class UnknownAsset(AssetpipeError, LookupError):
    """A logical path is not in the manifest."""

    def __init__(self, logical_path: str, suggestions: tuple[str, ...] = ()) -> None:
        hint = None
        if suggestions:
            hint = "did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
        super().__init__(f"unknown asset {logical_path!r}", hint=hint)
        self.logical_path = logical_path
        self.suggestions = suggestions


class LockBusy(AssetpipeError):
    """Another build or clean holds the output directory's lock."""
