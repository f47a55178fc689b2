"""What a build will do before it writes anything: each source's references, their targets, the order.

A source whose record is trusted (:meth:`BuildState.unchanged`) is not read here: its references come from
the record, and when the last plan is in memory (watch) and the same files exist, its resolved node and,
if no dependency changed, the order are taken from that plan: a save costs what it changed. Everything
that can stop a build for bad input (a broken reference, a cycle, an output name assetpipe owns) stops it
here, before OUT is touched.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace

from assetpipe import references
from assetpipe.asset import Asset, Kind, Reference, is_module
from assetpipe.config import Config
from assetpipe.errors import BrokenReference, SourceError
from assetpipe.graph import build_order_by_weight
from assetpipe.importmap import ImportMap, Resolved, check_specifier, check_targets, is_bare
from assetpipe.layout import STATE_DIR
from assetpipe.manifest import MANIFEST_NAME
from assetpipe.paths import resolve_path
from assetpipe.patterns import path_set
from assetpipe.references.parallel import Ahead
from assetpipe.references.resolve import Target, resolve
from assetpipe.references.text import decode_utf8
from assetpipe.state import BuildState, FileRecord


@dataclass(frozen=True, slots=True)
class Node:
    """One source, planned: its references and what they resolve to."""

    asset: Asset
    refs: tuple[Reference, ...]
    targets: tuple[tuple[Reference, Target], ...]
    dependencies: tuple[str, ...]  # logical paths of the targets, in first-reference order
    # sha256 of the bytes the references were found in: read by this build, or as the record has it
    # (``recorded``), which the file may no longer hold (a rewrite that kept size, mtime and inode).
    digest: bytes | None
    warnings: tuple[str, ...] = ()  # references left as written (broken_references = "warn")
    # Bare specifiers resolved through the import map: left as written (the browser resolves them), so no
    # part of the order: a cycle through them blocks nothing.
    bare: tuple[tuple[Reference, Resolved], ...] = ()
    recorded: bool = False  # references and digest came from the record, not from reading the file

    @property
    def module_imports(self) -> tuple[str, ...]:
        """The modules this one imports statically, through relative URLs and bare specifiers alike."""
        found = [t.logical_path for r, t in self.targets if r.kind is Kind.MODULE]
        found += [b.logical_path for r, b in self.bare if r.kind is Kind.MODULE]
        return tuple(sorted({name for name in found if is_module(name)}))


@dataclass(frozen=True, slots=True)
class Plan:
    nodes: dict[str, Node]
    trusted: dict[str, FileRecord]  # records of the sources that are unchanged since the last build
    order: tuple[str, ...]  # dependencies first
    unhashed: frozenset[str]
    read: frozenset[str]  # sources this plan read to find references

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(w for name in self.order for w in self.nodes[name].warnings)

    def bare_uses(self) -> list[tuple[str, Resolved]]:
        """Every (specifier, resolution) the build's modules use, for the published import map."""
        return [(ref.url, found) for name in self.order for ref, found in self.nodes[name].bare]


def read_source(asset: Asset) -> bytes:
    try:
        with open(asset.source, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}", path=asset.logical_path) from None


def plan(
    config: Config,
    assets: list[Asset],
    state: BuildState,
    last: Plan | None = None,
    imap: ImportMap | None = None,
) -> Plan:
    """Find and resolve every reference, and the order to emit in (see the module docstring).

    ``last`` is the previous plan, for the same settings, when the caller kept it (watch). With an active
    ``imap`` every bare specifier in a module must resolve through it to a module in the build.
    """
    by_path = {a.logical_path: a for a in assets}
    if imap is not None and not imap.active:
        imap = None
    if imap is not None:
        check_targets(imap, by_path, str(config.config_file) if config.config_file else None)
    src = str(resolve_path(config.source, "source directory")) + os.sep
    if last is not None and last.nodes.keys() != by_path.keys():
        last = None  # a file came or went: references may resolve differently
    if last is not None:
        unhashed = last.unhashed
    else:
        matcher = path_set(config.unhashed)
        unhashed = frozenset(a.logical_path for a in assets if matcher.matches(a.logical_path))
        _check_reserved_names(unhashed)
    nodes: dict[str, Node] = {}
    trusted: dict[str, FileRecord] = {}
    read: set[str] = set()
    # A plan that reads many files has a helper scan from the other end (watch's rebuilds read a few).
    ahead = Ahead(_to_read(assets, state)) if last is None else None
    try:
        for asset in assets:
            if last is not None:
                same, was = last.nodes[asset.logical_path], last.trusted.get(asset.logical_path)
                # The scan's memo handed back the very Asset it gave the last plan (nothing a watcher saw
                # touched it), and the record that vouched for it then still stands (a reused output keeps
                # its record object): trusted as before, with no stats compared again.
                if same.asset is asset and was is not None and state.files.get(asset.logical_path) is was:
                    trusted[asset.logical_path] = was
                    nodes[asset.logical_path] = same
                    continue
            record = state.unchanged(asset)
            if record is not None:
                trusted[asset.logical_path] = record
                known = last.nodes[asset.logical_path] if last is not None else None
                if known is not None and known.asset == asset:
                    # The same file, read by a scan without the memo: the node takes this scan's Asset, which
                    # the memo hands back from now on, so the next plan finds it by identity (above).
                    nodes[asset.logical_path] = known if known.asset is asset else replace(known, asset=asset)
                    continue
            try:
                node, was_read = _node(config, asset, record, by_path, imap, ahead)
            except SourceError as exc:
                if asset.source.startswith(src) or exc.path != asset.logical_path:
                    raise
                # A mounted file: its logical path, and where it really is.
                raise type(exc)(
                    f"{exc.message} (file {asset.source})",
                    path=exc.path, line=exc.line, column=exc.column, hint=exc.hint,
                ) from None  # fmt: skip
            nodes[asset.logical_path] = node
            if was_read:
                read.add(asset.logical_path)
    finally:
        if ahead is not None:
            ahead.close()
    if last is not None and all(n is last.nodes[k] or n.dependencies == last.nodes[k].dependencies
                                for k, n in nodes.items()):  # fmt: skip
        return Plan(nodes, trusted, last.order, unhashed, frozenset(read))
    return Plan(nodes, trusted, _order(nodes, unhashed), unhashed, frozenset(read))


def _to_read(assets: list[Asset], state: BuildState) -> list[tuple[str, str, int]]:
    """The files a plan will read to scan: scanned ones no record vouches for."""
    todo = []
    for asset in assets:
        if references.is_scanned(asset.logical_path):
            record = state.unchanged(asset)
            if record is None or record.references is None:
                todo.append((asset.logical_path, asset.source, asset.size))
    return todo


def _node(
    config: Config,
    asset: Asset,
    record: FileRecord | None,
    by_path: dict[str, Asset],
    imap: ImportMap | None,
    ahead: Ahead | None = None,
) -> tuple[Node, bool]:
    """Find (or take from the record) ``asset``'s references and resolve them; True if it was read."""
    refs: tuple[Reference, ...] = ()
    digest = None
    was_read = False
    if references.is_scanned(asset.logical_path):
        if record is not None and record.references is not None:
            refs, digest = record.references, record.digest
        elif ahead is not None and (found := ahead.take(asset.logical_path)) is not None:
            digest, refs = found  # read and scanned by the helper: its digest proves the bytes at emit
            was_read = True
        else:
            raw = read_source(asset)
            was_read = True
            refs = references.find(asset.logical_path, decode_utf8(raw, asset.logical_path))
            # The text is read again when emitted, not held: holding every stylesheet and script from
            # here to there was the build's largest use of memory. The digest proves it is the same.
            digest = hashlib.sha256(raw).digest()
    targets: list[tuple[Reference, Target]] = []
    deps: list[str] = []
    # Recomputed from the references (not only when read), so a reused record warns on every build too.
    warnings: list[str] = [str(w) for w in references.warnings(asset.logical_path, refs)]
    bare: list[tuple[Reference, Resolved]] = []
    for ref in refs:
        try:
            if imap is not None and ref.kind in (Kind.MODULE, Kind.DYNAMIC) and is_bare(ref.url):
                logical = asset.logical_path
                bare.append((ref, check_specifier(imap, logical, ref.url, by_path, ref.line, ref.column)))
                continue
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
    recorded = references.is_scanned(asset.logical_path) and not was_read
    node = Node(asset, refs, tuple(targets), tuple(deps), digest, tuple(warnings), tuple(bare), recorded)
    return node, was_read


def _order(nodes: dict[str, Node], unhashed: frozenset[str]) -> tuple[str, ...]:
    # An unhashed file's URL does not depend on its bytes, so a reference to one needs no ordering: a loop
    # through an unhashed file is no cycle (the way out of one, offered in the cycle error).
    ordering = {name: [d for d in n.dependencies if d not in unhashed] for name, n in nodes.items()}
    where = {
        (name, t.logical_path): (ref.line, ref.column)
        for name, n in nodes.items()
        for ref, t in reversed(n.targets)
    }  # the first reference to each target, for the cycle error
    sizes = {name: n.asset.size for name, n in nodes.items()}
    return tuple(build_order_by_weight(list(nodes), ordering, sizes, where))


def _check_reserved_names(unhashed: frozenset[str]) -> None:
    for logical in sorted(unhashed):
        if logical == MANIFEST_NAME or logical.split("/", 1)[0] == STATE_DIR:
            raise SourceError(
                f"output name would collide with OUT/{logical}, which assetpipe owns",
                path=logical,
                hint="rename the file or remove it from 'unhashed'",
            )
