"""Emit one planned source: its final bytes (references spliced to their targets' new URLs) and entry.

Pure but for reading the source: what to do with the bytes (write, stage, keep) is decided elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from assetpipe import references
from assetpipe.asset import Reference
from assetpipe.errors import SourceError
from assetpipe.fingerprint import Fingerprint
from assetpipe.manifest import ManifestEntry
from assetpipe.media_types import media_type
from assetpipe.plan import Node, read_source
from assetpipe.references.resolve import new_url
from assetpipe.references.text import decode_source
from assetpipe.rewrite import splice


def final_bytes(node: Node, output_path: Callable[[str], str], base_path: str) -> bytes:
    """The bytes to publish: the source with each resolved reference spliced to its target's new URL.

    A source is read here a second time (its text is not held since the plan): it must be the bytes whose
    references were resolved. Its digest proves that, the plan's or the record's; where the record's does
    not match (or it has none) a fresh scan must find the recorded references. Else SourceError: the build
    (pipeline) then plans again without trusting the record.
    """
    asset = node.asset
    raw = read_source(asset)
    if not references.is_scanned(asset.logical_path):
        return raw
    if node.digest is None or hashlib.sha256(raw).digest() != node.digest:
        if not node.recorded:
            raise SourceError("changed while building; run the build again", path=asset.logical_path)
        text, encoding = decode_source(raw, asset.logical_path)
        if references.find(asset.logical_path, text) != node.refs:
            raise SourceError(
                "changed while building, or since the last build with its size, mtime and inode kept",
                path=asset.logical_path,
            )
    if not node.targets:
        return raw
    text, encoding = decode_source(raw, asset.logical_path)
    if node.recorded and not _spans_fit(node.refs, len(text)):
        # Never scanned again when the digest matches: a record garbled in its references, not its digest.
        raise SourceError("its record's references do not fit it", path=asset.logical_path)
    replacements = [
        (
            ref.start,
            ref.end,
            # escaped for where the span sits (a JSON string, an XML attribute, a CSS or JS string)
            references.escape(
                asset.logical_path,
                text,
                ref,
                new_url(asset.logical_path, target, output_path(target.logical_path), base_path),
            ),
        )
        for ref, target in node.targets
    ]
    try:
        # Back in the encoding it was read in: an 8-bit file that declares one keeps it.
        return splice(text, replacements).encode(encoding)
    except UnicodeEncodeError as exc:
        raise SourceError(
            f"a new URL holds {exc.object[exc.start : exc.end]!r}, which its declared encoding {encoding} "
            "cannot write",
            path=asset.logical_path,
            hint="save the file as UTF-8",
        ) from None


def _spans_fit(refs: tuple[Reference, ...], length: int) -> bool:
    """Whether ``refs``' spans lie apart inside a text of ``length`` characters, as a scan finds them."""
    end = 0
    for start, stop in sorted((ref.start, ref.end) for ref in refs):
        if not end <= start <= stop <= length:
            return False
        end = stop
    return True


def entry_for(node: Node, path: str, fp: Fingerprint, *, immutable: bool) -> ManifestEntry:
    """The manifest entry of ``node``'s output at ``path`` (without encodings: compression adds them)."""
    imports = node.module_imports  # bare specifiers too: the helper preloads through the import map
    return ManifestEntry(
        path=path,
        hash=fp.hash,
        integrity=fp.integrity,
        size=fp.size,
        content_type=media_type(node.asset.logical_path),
        immutable=immutable,
        encodings={},
        dependencies=tuple(sorted(node.dependencies)),
        imports=tuple(imports),
    )


def dependency_key(node: Node, output_path: Callable[[str], str]) -> str:
    """What ``node``'s output depends on besides its own bytes: its dependencies' output paths."""
    return "\0".join(f"{d}\1{output_path(d)}" for d in node.dependencies)
