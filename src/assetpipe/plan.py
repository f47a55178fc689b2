"""What a build will do before it writes anything: each source's references, their targets, the order.

A source whose record is trusted (:meth:`BuildState.unchanged`) is not read here: its references come from
the record. Everything that can stop a build for bad input (a broken reference, a cycle, an output name
assetpipe owns) stops it here, before OUT is touched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from assetpipe import references
from assetpipe.asset import Asset, Reference, is_scanned
from assetpipe.config import Config
from assetpipe.errors import BrokenReference, SourceError
from assetpipe.graph import build_order_by_weight
from assetpipe.lock import STATE_DIR
from assetpipe.manifest import MANIFEST_NAME
from assetpipe.patterns import path_set
from assetpipe.references.resolve import Target, resolve
from assetpipe.references.text import decode_utf8
from assetpipe.state import BuildState, FileRecord, OutputRecord


@dataclass(frozen=True, slots=True)
class Node:
    """One source, planned: its trusted record (if any), its references and what they resolve to."""

    asset: Asset
    record: FileRecord | None  # from the last build, when the source is unchanged
    previous: OutputRecord | None  # what the last build left in OUT for it, changed source or not
    refs: tuple[Reference, ...]
    targets: tuple[tuple[Reference, Target], ...]
    dependencies: tuple[str, ...]  # logical paths of the targets, in first-reference order
    digest: bytes | None  # sha256 of the bytes the references were found in, when read by this build


@dataclass(frozen=True, slots=True)
class Plan:
    nodes: dict[str, Node]
    order: tuple[str, ...]  # dependencies first
    unhashed: frozenset[str]
    warnings: tuple[str, ...]
    read: int  # sources read to find references


def read_source(asset: Asset) -> bytes:
    try:
        with open(asset.source, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}", path=asset.logical_path) from None


def plan(config: Config, assets: list[Asset], state: BuildState) -> Plan:
    """Find and resolve every reference, and the order to emit in (see the module docstring)."""
    by_path = {a.logical_path: a for a in assets}
    matcher = path_set(config.unhashed)
    unhashed = frozenset(a.logical_path for a in assets if matcher.matches(a.logical_path))
    _check_reserved_names(unhashed)
    nodes: dict[str, Node] = {}
    warnings: list[str] = []
    where: dict[tuple[str, str], tuple[int, int]] = {}
    read = 0
    for asset in assets:
        record = state.unchanged(asset)
        refs: tuple[Reference, ...] = ()
        digest = None
        if is_scanned(asset.logical_path):
            if record is not None and record.references is not None:
                refs = record.references
            else:
                raw = read_source(asset)
                read += 1
                refs = references.find(asset.logical_path, decode_utf8(raw, asset.logical_path))
                # The text is read again when emitted, not held: holding every stylesheet and script from
                # here to there was the build's largest use of memory. The digest proves it is the same.
                digest = hashlib.sha256(raw).digest()
        targets: list[tuple[Reference, Target]] = []
        deps: list[str] = []
        for ref in refs:
            try:
                target = resolve(asset.logical_path, ref, config.base_path, by_path)
            except BrokenReference as exc:
                if config.broken_references != "warn":
                    raise
                warnings.append(str(exc))
                continue
            if target is None:
                continue
            targets.append((ref, target))
            if target.logical_path not in deps:
                deps.append(target.logical_path)
                where[(asset.logical_path, target.logical_path)] = (ref.line, ref.column)
        last = state.files.get(asset.logical_path)
        previous = last.output if last is not None else None
        nodes[asset.logical_path] = Node(asset, record, previous, refs, tuple(targets), tuple(deps), digest)
    # An unhashed file's URL does not depend on its bytes, so a reference to one needs no ordering: a loop
    # through an unhashed file is no cycle (the way out of one, offered in the cycle error).
    ordering = {name: [d for d in n.dependencies if d not in unhashed] for name, n in nodes.items()}
    order = build_order_by_weight(list(nodes), ordering, {a.logical_path: a.size for a in assets}, where)
    return Plan(nodes, tuple(order), unhashed, tuple(warnings), read)


def _check_reserved_names(unhashed: frozenset[str]) -> None:
    for logical in sorted(unhashed):
        if logical == MANIFEST_NAME or logical.split("/", 1)[0] == STATE_DIR:
            raise SourceError(
                f"output name would collide with OUT/{logical}, which assetpipe owns",
                path=logical,
                hint="rename the file or remove it from 'unhashed'",
            )
