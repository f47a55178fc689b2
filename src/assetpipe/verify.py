"""Check an output directory against its manifest, from the bytes on disk alone.

Run it after a deploy or in CI: it recomputes every digest and integrity value and decompresses every
sibling, with its own hashlib code rather than the build's, so a bug in the build cannot vouch for itself.
Files that no build references and unhashed files are reported but are not problems: a build killed
mid-way leaves hashed files no manifest names yet, and that state is still consistent.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from assetpipe.builds import load_builds
from assetpipe.codecs import CODECS, DecodeError, WrongSize
from assetpipe.errors import ConfigError
from assetpipe.layout import walk_output
from assetpipe.manifest import MANIFEST_NAME, Manifest, ManifestEntry


@dataclass(frozen=True, slots=True)
class Problem:
    """One mismatch: ``path`` is relative to OUT; ``logical_path`` is the manifest key it belongs to."""

    path: str
    what: str
    logical_path: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "what": self.what, "logical_path": self.logical_path}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What verify found; ``ok`` is False exactly when there is at least one problem."""

    out_dir: Path
    entries: int
    files: int
    problems: tuple[Problem, ...]
    unhashed: tuple[str, ...]
    unreferenced: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """Problems as ``path: what`` (paths as given for OUT), then the informational sections."""
        out: list[str] = [f"{self.out_dir / p.path}: {p.what}" for p in self.problems]
        if self.unhashed:
            out.append(f"{len(self.unhashed)} unhashed (served under their own name, never cached forever):")
            out.extend(f"  {self.out_dir / p}" for p in self.unhashed)
        if self.unreferenced:
            out.append(
                f"{len(self.unreferenced)} not referenced by any build ('assetpipe clean' removes them):"
            )
            out.extend(f"  {self.out_dir / p}" for p in self.unreferenced)
        if self.ok:
            out.append(f"ok: {self.entries} entries, {self.files} files verified in {self.out_dir}")
        else:
            n = len(self.problems)
            out.append(f"{n} problem{'s' if n != 1 else ''} in {self.entries} entries in {self.out_dir}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "output": str(self.out_dir),
            "entries": self.entries,
            "files": self.files,
            "problems": [p.to_json() for p in self.problems],
            "unhashed": list(self.unhashed),
            "unreferenced": list(self.unreferenced),
        }


def _inside(rel: str) -> bool:
    """A manifest path we may open: relative, no '..', so a hostile manifest cannot read outside OUT."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def _read(out_dir: Path, rel: str) -> bytes | str:
    """The file's bytes, or what is wrong with it as a message."""
    if not _inside(rel):
        return "path escapes the output directory"
    path = out_dir / rel
    try:
        if path.is_symlink():
            return "a symlink (a build writes regular files; it is not followed)"
        if not path.is_file():
            return "missing" if not path.exists() else "not a regular file"
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            return fh.read()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def _check_entry(out_dir: Path, logical: str, entry: ManifestEntry) -> tuple[list[Problem], int]:
    problems: list[Problem] = []

    def problem(path: str, what: str) -> None:
        problems.append(Problem(path=path, what=what, logical_path=logical))

    data = _read(out_dir, entry.path)
    if isinstance(data, str):
        problem(entry.path, data)
        return problems, 0
    files = 1
    if len(data) != entry.size:
        problem(entry.path, f"size {len(data)} on disk, manifest says {entry.size}")
    digest = hashlib.sha384(data).digest()
    if digest.hex()[:12] != entry.hash:
        problem(entry.path, f"digest {digest.hex()[:12]} on disk, manifest says {entry.hash}")
    integrity = "sha384-" + base64.b64encode(digest).decode("ascii")
    if integrity != entry.integrity:
        problem(entry.path, f"integrity {integrity} on disk, manifest says {entry.integrity}")
    if entry.immutable and entry.hash not in PurePosixPath(entry.path).name:
        # Cached forever under a name that does not change with the content: a stale-asset bug waiting.
        problem(entry.path, f"immutable, but its name does not carry its digest {entry.hash}")

    for name, enc in sorted(entry.encodings.items()):
        codec = CODECS.get(name)
        if codec is None:
            problem(enc.path, f"unknown encoding {name!r}")
            continue
        expected = entry.path + codec.suffix
        if enc.path != expected:
            # Servers find siblings by suffix (gzip_static, brotli_static, precompressed): any other name
            # is never served.
            problem(enc.path, f"{name} sibling should be named {expected}")
        sibling = _read(out_dir, enc.path)
        if isinstance(sibling, str):
            problem(enc.path, f"{name} sibling {sibling}")
            continue
        files += 1
        if len(sibling) != enc.size:
            problem(enc.path, f"size {len(sibling)} on disk, manifest says {enc.size}")
        try:
            # Never decodes past the file's size: a hostile sibling cannot fill memory.
            plain: bytes | None = codec.decode(sibling, len(data))
        except WrongSize:
            plain = None
        except DecodeError as exc:
            problem(enc.path, f"{name} sibling does not decompress: {exc}")
            continue
        except ConfigError as exc:  # no zstd module on this machine
            problem(enc.path, f"{name} sibling cannot be checked here: {exc}")
            continue
        if plain != data:
            problem(enc.path, f"{name} sibling decompresses to different bytes than {entry.path}")
    return problems, files


def verify(out_dir: Path) -> VerifyReport:
    """Check every entry of OUT/manifest.json against the files on disk; ManifestError if none."""
    manifest = Manifest.load(out_dir / MANIFEST_NAME)
    problems: list[Problem] = []
    files = 0
    for logical in sorted(manifest.assets):
        found, n = _check_entry(out_dir, logical, manifest.assets[logical])
        problems.extend(found)
        files += n
    referenced = set(manifest.output_files())
    for record in load_builds(out_dir):
        referenced.update(record.files)
    unreferenced = tuple(rel for rel in walk_output(out_dir).files if rel not in referenced)
    unhashed = tuple(sorted(e.path for e in manifest.assets.values() if not e.immutable))
    return VerifyReport(
        out_dir=out_dir,
        entries=len(manifest.assets),
        files=files,
        problems=tuple(problems),
        unhashed=unhashed,
        unreferenced=unreferenced,
    )
