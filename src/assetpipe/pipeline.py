"""build(config): the one module that composes the stages, and reads as the data flow.

plan (read what changed, resolve references, order) -> emit each source in dependency order (rewrite,
digest, name) and write it (hashed: at once; unhashed: staged) -> compress (a pool, overlapping) ->
publish (unhashed sets swapped in one burst, manifest last and atomic) -> record. Any error before publish
leaves OUT serving exactly what it served before: hashed files already written are new names nothing
names yet.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import is_not
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from assetpipe import __version__, noop
from assetpipe.budgets import enforce
from assetpipe.codecs import CODECS
from assetpipe.config import Config
from assetpipe.emit import dependency_key, entry_for, final_bytes
from assetpipe.errors import AssetpipeError, ConfigError, OutputError, SourceError, SourceWarning
from assetpipe.files import Flush, ensure_directory, flush_soon, write_atomic, write_new
from assetpipe.fingerprint import Fingerprint, fingerprint, hashed_path
from assetpipe.gcpolicy import fewer_collections
from assetpipe.importmap import ImportMap
from assetpipe.importmap import load as load_importmap
from assetpipe.importmap import published as publish_importmap
from assetpipe.layout import STATE_DIR
from assetpipe.lock import output_lock
from assetpipe.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Encoding, Manifest, ManifestEntry
from assetpipe.paths import resolve_path
from assetpipe.plan import Node, Plan, plan
from assetpipe.publish import STAGING_DIR, Staging, publish
from assetpipe.references import is_scanned
from assetpipe.reuse import OutView, holds, output_intact, siblings_intact
from assetpipe.sources import check_layout, scan_with_memo, scanned
from assetpipe.state import (
    BuildState,
    FileRecord,
    OutputRecord,
    Settings,
    SiblingRecord,
    Stat,
    load_state,
    now_ns,
    save_state,
    settings_key,
    stat_of,
    state_path,
)

if TYPE_CHECKING:
    from assetpipe.compress import Compressor
    from assetpipe.remote import RemoteStats
    from assetpipe.shard import Shard


class Reporter(Protocol):
    """Progress callbacks; the CLI draws a bar, tests and watch pass nothing."""

    def start(self, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def finish(self) -> None: ...
    def waiting(self, message: str) -> None: ...


@dataclass(slots=True)
class BuildReport:
    """What a build did, for the summary line and for callers."""

    manifest_path: Path
    #: The manifest the build made; None when a no-op left OUT's as it was (read when first asked).
    made: Manifest | None = None
    files: int = 0
    written: int = 0
    reused: int = 0
    read: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    cache_hits: int = 0
    cache_rejected: int = 0  # cache entries that did not decompress to their input: dropped, recompressed
    compressed: int = 0  # compressor calls made (cache misses)
    compressor_seconds: float = 0.0
    deferred: int = 0  # outputs published without their siblings (``defer_compression``)
    manifest_changed: bool = False
    build_id: str | None = None  # of the build this one published (None: OUT already served it)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    remote: RemoteStats | None = None  # what the remote cache was asked (cache_url)
    shard: Shard | None = None  # --shard K/N: compressed a share into the caches, published nothing
    #: Per file, what happened to it, in order: "read" (the source), "reused" or "written" (the output),
    #: "compressed" (its siblings by a compressor call) or "cache" (its siblings from the cache).
    outcomes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    totals: Mapping[str, tuple[int, int]] | None = None  # encoded(), when known without the manifest

    @property
    def manifest(self) -> Manifest:
        if self.made is None:
            self.made = Manifest.load(self.manifest_path)
        return self.made

    def encoded(self) -> dict[str, tuple[int, int]]:
        """Per encoding: (bytes of the siblings, bytes of their originals). Counted when asked (watch
        rebuilds never ask), from the manifest."""
        if self.totals is not None:
            return dict(self.totals)
        totals: dict[str, tuple[int, int]] = {}
        for entry in self.manifest.assets.values():
            for name, enc in entry.encodings.items():
                size, original = totals.get(name, (0, 0))
                totals[name] = (size + enc.size, original + entry.size)
        return totals

    def summary(self) -> str:
        parts = [f"{self.files} files ({self.written} written, {self.read} read)", f"{_size(self.bytes_out)}"]
        for name, (size, original) in sorted(self.encoded().items()):
            saving = f" (-{1 - size / original:.0%} of {_size(original)})" if original else ""
            parts.append(f"{name} {_size(size)}{saving}")
        if self.compressed or self.cache_hits:
            parts.append(f"{self.compressed} compressed, {self.cache_hits} cache hits")
        if self.cache_rejected:
            parts.append(f"{self.cache_rejected} cache entries rejected (not the compression of their input)")
        if self.remote is not None:
            parts.append(self.remote.summary())
        if self.shard is not None:
            return f"shard {self.shard}: " + ", ".join(parts[2:] or ["nothing to compress"]) + (
                f" in {self.seconds:.2f}s (caches filled, nothing published)"
            )
        return "built " + ", ".join(parts) + f" in {self.seconds:.2f}s -> {self.manifest_path}"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def settings_of(config: Config, imap: ImportMap | None = None) -> Settings:
    """The two settings keys a build record is valid for (the only place they are computed)."""
    output = settings_key(
        # The version too: its scanners found the recorded references, which this one's may outdo.
        "v2", __version__, resolve_path(config.source, "source directory"),
        resolve_path(config.output, "output directory"), config.base_url, config.unhashed,
        config.broken_references,
        # Only with a map or mounts, so a build without them keeps the records it had before import maps.
        *([imap.fingerprint()] if imap is not None and (imap.active or imap.mounts or config.mounts) else []),
        *((m.prefix, str(m.directory), m.include, m.exclude) for m in config.mounts),
    )  # fmt: skip
    from assetpipe.compress import policy_for

    policy = policy_for(config)
    compression = settings_key(policy.fingerprint()) if policy is not None else "off"
    return Settings(output=output, compression=compression)


def build(
    config: Config,
    *,
    reporter: Reporter | None = None,
    wait: bool = True,
    state: BuildState | None = None,
    changed: Callable[[BuildState], None] | None = None,
    touched: Collection[str] | None = None,
    repair: bool = False,
    defer_compression: bool = False,
    out_touched: Collection[str] | None = None,
    shard: Shard | None = None,
) -> BuildReport:
    """Build SRC into OUT; see the module docstring for the order and the guarantees.

    ``state`` lets a long-running caller (watch) keep the records in memory between builds; without it
    they are loaded from and saved to the cache directory. ``touched`` (with ``state``) names the logical
    paths a watcher saw change since that state, so unchanged directories are not re-listed. ``repair``
    trusts no record: every output and sibling already in OUT is checked byte for byte and restored.
    ``defer_compression`` publishes new outputs without siblings (watch's first pass; siblings that are
    already right stay listed), leaving them for the next build. ``out_touched`` (with ``state``) names
    the OUT paths a watcher on OUT saw change since that state was recorded: every other recorded output
    is taken as it was, without a stat.

    ``shard`` (``--shard K/N``, CI matrix jobs) compresses only this job's share of the outputs
    (:func:`assetpipe.shard.share`) into the caches and publishes, records and saves nothing.
    """
    started = time.perf_counter()
    check_layout(config)
    out = resolve_path(config.output, "output directory")
    try:
        ensure_directory(out)
    except OSError as exc:
        raise OutputError(f"cannot create output directory: {exc.strerror or exc}", path=str(out)) from None
    on_wait = reporter.waiting if reporter is not None else None
    seal_file = _seal_file(config, out)
    # A complete build with nothing kept in memory, for nobody who wants its state: answered by the seal,
    # and leaving one. (watch keeps its record in memory; --repair, --shard and deferring trust none.)
    sealed = seal_file is not None and not config.importmap_packages and shard is None and (
        state is None and touched is None and out_touched is None and changed is None
        and not (repair or defer_compression)
    )  # fmt: skip
    with output_lock(out, wait=wait, on_wait=on_wait), fewer_collections():
        if sealed and seal_file is not None and (report := _no_op(config, out, seal_file)) is not None:
            report.seconds = time.perf_counter() - started
            return report
        if seal_file is not None:  # before OUT is touched: a build stopped half-way leaves no seal
            noop.drop(seal_file)
        try:
            report, new_state = _build_locked(
                config, out, reporter, state, touched, repair, defer_compression, out_touched, shard
            )
        except _Untrue as untrue:  # once: a build that trusts no record meets none that lies
            report, new_state = _build_locked(
                config, out, reporter, state, touched, True, defer_compression, out_touched, shard
            )
            report.warnings.append(untrue.warning)
        if sealed and seal_file is not None:
            _seal(config, report, new_state, seal_file)
    if changed is not None:
        changed(new_state)
    report.seconds = time.perf_counter() - started
    return report


def _seal_file(config: Config, out: Path) -> Path | None:
    """Where the seal of OUT's build lives (:mod:`assetpipe.noop`), beside its record; None without a
    cache directory. (A build whose import map reads package.json files neither trusts nor leaves one: no
    seal covers those; it still removes one, as every build that takes the full path does.)"""
    if config.cache_dir is None:
        return None
    return noop.seal_path(state_path(config.cache_dir, out))


def _roots(config: Config) -> list[tuple[Path, str]]:
    """SRC and each mount as (the real path it leads to now, its logical prefix), in the scan's order."""
    roots = [(resolve_path(config.source, "source directory"), "")]
    return roots + [(resolve_path(m.directory, f"mount {m.prefix!r}"), m.prefix) for m in config.mounts]


def _seal_key(config: Config, roots: list[tuple[Path, str]]) -> str:
    """The seal's key: every setting, the assetpipe version, and the real paths the config's folders lead
    to now (a symlink retargeted, or a relative path from another working directory, is another build)."""
    where = [str(path) for path, _ in roots]
    if config.snippets_dir is not None:
        where.append(str(resolve_path(config.snippets_dir, "snippets_dir")))
    return noop.config_key(config, __version__, where)


def _suffixes(config: Config) -> tuple[str, ...]:
    """The sibling names the full path checks beside each output: every codec's when the build compresses
    (as :func:`assetpipe.compress.policy_for` decides, not imported here: a no-op never needs it)."""
    compresses = config.compress and any(getattr(config, c.config_key) for c in CODECS.values())
    return _SUFFIXES if compresses else ()


def _no_op(config: Config, out: Path, seal_file: Path) -> BuildReport | None:
    """The report of a build that OUT already serves, when the seal says so; None: build."""
    seal = noop.load(seal_file)
    if seal is None or (out / STATE_DIR / STAGING_DIR).exists():
        return None  # (what a killed build staged: the full path removes it, whichever build left it)
    roots = _roots(config)
    where = [str(path) for path, _ in roots]
    if not noop.still_served(seal, _seal_key(config, roots), out, where, _suffixes(config)):
        return None
    t = seal.totals
    return BuildReport(
        out / MANIFEST_NAME, files=t.files, reused=t.files, bytes_in=t.bytes_in, bytes_out=t.bytes_out,
        warnings=list(t.warnings), outcomes=dict.fromkeys(t.logical_paths, ("reused",)), totals=t.encoded,
    )  # fmt: skip


def _seal(config: Config, report: BuildReport, state: BuildState, seal_file: Path) -> None:
    """Leave the seal of the build just made: what it scanned and what it left, by stat (or none)."""
    seal = None
    try:
        seal = _seal_of(config, report, state)
    except AssetpipeError:
        pass  # a path that no longer resolves, say: the build stands, the next one takes the full path
    noop.save(seal_file, seal)


def _seal_of(config: Config, report: BuildReport, state: BuildState) -> noop.Seal | None:
    roots = _roots(config)
    inputs = scanned(state.scan_memo, roots) if state.scan_memo is not None else None
    emitted = state.emitted
    if inputs is None or not isinstance(emitted, _Emitted):
        return None
    if sum(len(files) for _, _, files in inputs) != len(state.files):
        return None  # a source the seal would not vouch for by its stat
    others: list[str] = []
    if config.snippets_dir is not None:
        from assetpipe.snippets import FILE_NAMES, RENDERERS

        snippets = resolve_path(config.snippets_dir, "snippets_dir")
        others = [str(snippets / FILE_NAMES[server]) for server in RENDERERS]
    # The plan's warnings, as a no-op on the full path reports: not the remote cache's of a build that
    # compressed (a no-op asks the remote nothing).
    totals = noop.Totals(
        report.files, report.bytes_in, report.bytes_out, report.encoded(), emitted.plan.warnings,
        tuple(report.manifest.assets),
    )  # fmt: skip
    return noop.seal_of(_seal_key(config, roots), state, inputs, _suffixes(config), others, totals)


@dataclass(frozen=True, slots=True)
class _Output:
    """One emitted output: its entry, and whether OUT holds it already (record) or it was just put there."""

    entry: ManifestEntry  # without encodings
    record: OutputRecord  # with the stat the file had when this build left it (staged: the staged copy's)
    siblings: tuple[SiblingRecord, ...] | None  # siblings that are right as they are; None: compress
    written: bool = False  # written (or staged) by this build
    staged: bool = False
    # Found right in OUT by reading it, with no record vouching for it (a killed build's, say): it may not
    # have reached the disk yet, so it is made durable with what this build wrote before anything names it.
    adopted: bool = False
    reused: FileRecord | None = None  # the last build's record, still true in every part

    @property
    def whole(self) -> bool:
        """Whether a later build in this process may take this output as it is (see untouched): reused as
        recorded in every part, its siblings vouched for, nothing written or staged."""
        return self.reused is not None and self.siblings is not None and not self.written


@dataclass(frozen=True, slots=True)
class _Emitted:
    """What a build emitted, kept in memory (watch) so the next build can take what nothing touched."""

    plan: Plan
    outputs: dict[str, _Output]
    entries: dict[str, ManifestEntry]  # with encodings, as published
    owners: dict[str, str]  # every output and sibling name -> the source it belongs to (_check_collisions)
    records: dict[str, FileRecord]  # the build's records (BuildState.files), made from these outputs
    partial: frozenset[str]  # sources whose output the next build cannot take whole (see _suspects)
    positions: dict[str, int]  # each source's place in plan.order


@dataclass(frozen=True, slots=True)
class _Delta:
    """How a build's outputs differ from the last build's in this process (watch), for the steps after
    emitting: what they do for an output the last build already did, they skip."""

    changed: tuple[str, ...]  # sources whose output is not the last build's very object (all: no last build)
    gone: tuple[str, ...]  # sources of the last build that this one has not
    # The same sources as the last build, in the same order, and every output not in ``changed`` is the
    # last build's, taken whole by ``_Emitting.untouched``: reused as recorded, its siblings vouched for,
    # nothing written or staged. Then what the last build made for those outputs (entries, records, names)
    # stands as it is.
    same: bool


def _delta(ctx: _Emitting) -> _Delta:
    """The build's :class:`_Delta`, worked out once its outputs are all emitted (then kept on ``ctx``).

    On a 2,000-file tree a save changes a few outputs, and every walk over all of them in Python (each
    step after emitting had one) was a good part of the save: the one walk left runs in C.
    """
    if ctx.delta is not None:
        return ctx.delta
    last, outputs = ctx.last, ctx.outputs
    if last is None:
        delta = _Delta(tuple(outputs), (), same=False)
    elif list(outputs) == list(last.outputs):  # the same sources in the same order
        changed = tuple(compress(outputs, map(is_not, outputs.values(), last.outputs.values())))  # in C
        # Every output that is the last build's was handed back by untouched(), which took it whole:
        # untouched() handed back all but what it named, and what it named is what changed.
        vetted = ctx.taken + len(ctx.untaken) == len(outputs) and set(ctx.untaken) == set(changed)
        delta = _Delta(changed, (), same=vetted)
    else:
        changed = tuple(k for k, o in outputs.items() if last.outputs.get(k) is not o)
        delta = _Delta(changed, tuple(k for k in last.outputs if k not in outputs), same=False)
    ctx.delta = delta
    return delta


@dataclass(slots=True)
class _Emitting:
    """What emitting one source needs to know about the build around it."""

    out: Path
    view: OutView
    base_path: str
    planned: Plan
    state: BuildState
    staging: Staging
    compressing: bool
    last: _Emitted | None  # the previous build of this process, when OUT is watched (see untouched)
    # OUT had no manifest when the build began: nothing there is served or vouched for, so a name no file
    # has yet is written in place (files.write_new), not through a temp file and a rename.
    fresh: bool = False
    outputs: dict[str, _Output] = field(default_factory=dict)
    renamed: set[str] = field(default_factory=set)  # sources whose output path is not the last build's
    owners: dict[str, str] = field(default_factory=dict)  # set by _check_collisions
    delta: _Delta | None = None  # set by _delta, once every output is emitted
    # What untouched() decided: how many outputs it handed back whole, and the sources it did not.
    taken: int = 0
    untaken: list[str] = field(default_factory=list)

    suspects: set[str] | None = None  # set by _suspects: what a watch rebuild asked untouched() about
    _positions: dict[str, int] | None = None  # see positions

    @property
    def positions(self) -> dict[str, int]:
        """Each source's place in the plan's order (the last build's, when the order is the same)."""
        last = self.last
        if last is not None and last.plan.order is self.planned.order:
            return last.positions
        if self._positions is None:
            self._positions = {name: i for i, name in enumerate(self.planned.order)}
        return self._positions

    def output_path(self, logical: str) -> str:
        return logical if logical in self.planned.unhashed else self.outputs[logical].entry.path

    def add(self, logical: str, output: _Output) -> None:
        self.outputs[logical] = output
        last = self.state.files.get(logical)
        if last is None or last.output.path != output.entry.path:
            self.renamed.add(logical)

    def untouched(self, logical: str, node: Node) -> _Output | None:
        """The last build's output for ``node`` when nothing it depends on can have changed since: the same
        planned node (unchanged source, same targets), no dependency renamed, its siblings done, and the
        watcher on OUT saw nothing happen to its files. Cheaper than :func:`_emit` by two orders.

        Counts what it hands back and names what it does not (``taken``, ``untaken``: see :func:`_delta`).
        """
        last = self.last  # (called for every source of every build: kept to a few lookups)
        same = last is not None and last.plan.nodes.get(logical) is node
        output = last.outputs.get(logical) if same and last is not None else None
        if (
            output is None
            or not output.whole
            or not self.view.untouched(output.entry.path)  # False too when OUT is not watched
            or (self.renamed and not self.renamed.isdisjoint(node.dependencies))
        ):
            self.untaken.append(logical)
            return None
        self.taken += 1
        return output


def _build_locked(
    config: Config,
    out: Path,
    reporter: Reporter | None,
    state: BuildState | None,
    touched: Collection[str] | None,
    repair: bool,
    defer: bool,
    out_touched: Collection[str] | None,
    shard: Shard | None = None,
) -> tuple[BuildReport, BuildState]:
    imap = load_importmap(config)
    settings = settings_of(config, imap)
    persisted = state is None  # a caller that passes its state (watch) keeps it in memory
    state = _previous_state(config, out, settings, state, repair)
    recorded_ns = now_ns()
    mounts = config.mounts + imap.mounts
    assets, scan_memo = scan_with_memo(config, memo=state.scan_memo, touched=touched, mounts=mounts)
    last = state.emitted if isinstance(state.emitted, _Emitted) else None
    planned = plan(config, assets, state, last.plan if last is not None else None, imap)
    # A watcher's events only tell news since the record in memory, never since one read from disk.
    view = OutView.of(out, None if persisted or repair else out_touched)
    compressing = settings.compression != "off"
    fresh = not (out / MANIFEST_NAME).exists()
    ctx = _Emitting(out, view, config.base_path, planned, state, Staging(out), compressing, last, fresh)
    report = BuildReport(out / MANIFEST_NAME, Manifest(config.base_url, {}))
    report.read, report.warnings = len(planned.read), list(planned.warnings)
    results, compressed = _emit_all(config, ctx, report, reporter, defer, shard)
    if shard is not None:  # --shard: the caches hold this job's share now; nothing goes live
        report.shard = shard
        ctx.staging.discard()
        return report, state
    entries = _entries(ctx, results)
    published = (
        publish_importmap(imap, planned.bare_uses(), entries, config.base_url) if imap.active else None
    )
    manifest = Manifest(base_url=config.base_url, assets=entries, importmap=published)
    report.made, report.files = manifest, len(entries)
    if config.budgets:  # before anything is published: over budget, OUT keeps serving the last build
        _enforce_budgets(config, manifest, ctx.staging, compressing and not defer)
    if config.snippets_dir is not None:
        # Before the manifest: a snippet that cannot be rendered safely fails the build, not half of it.
        from assetpipe.snippets import write_all

        write_all(manifest, config.snippets_dir, root=config.snippet_root or str(out), cors=config.cors)
    new_state, landed = _land(ctx, settings, recorded_ns, manifest, results, compressed, report)
    new_state.scan_memo, new_state.emitted = scan_memo, _Emitted(
        planned, ctx.outputs, entries, ctx.owners, new_state.files, _partial(ctx), ctx.positions
    )
    if landed and persisted and config.cache_dir is not None:
        save_state(state_path(config.cache_dir, out), new_state)
    return report, new_state


def _land(
    ctx: _Emitting,
    settings: Settings,
    recorded_ns: int,
    manifest: Manifest,
    results: Mapping[str, Mapping[str, Encoding]],
    compressed: bool,
    report: BuildReport,
) -> tuple[BuildState, bool]:
    """Publish the build and record it, unless OUT already serves exactly it; True when it was published."""
    manifest_file = ctx.out / MANIFEST_NAME
    if not compressed and not report.written:
        # Nothing written or compressed: when every record is as before and manifest.json is as the last
        # build left it, OUT already serves exactly this build (the no-op rebuild), and the saved record
        # still holds (its racy window only errs on the side of reading).
        new_state = _record(settings, recorded_ns, ctx, {})
        manifest_stat = stat_of(manifest_file)
        if (
            new_state.files == ctx.state.files
            and manifest_stat is not None
            and manifest_stat == ctx.state.manifest
        ):
            new_state.manifest = manifest_stat
            return new_state, False
    fresh = _fresh(ctx, manifest.assets)
    # Everything this build wrote is written and closed: many files reach the disk while the rest is done.
    flush = flush_soon(fresh)
    made = _made_siblings(ctx, results) if compressed else {}
    report.manifest_changed, report.build_id = _publish(ctx, manifest, fresh, flush)
    new_state = _record(settings, recorded_ns, ctx, made)
    new_state.manifest = stat_of(manifest_file)
    return new_state, True


def _emit_all(
    config: Config,
    ctx: _Emitting,
    report: BuildReport,
    reporter: Reporter | None,
    defer: bool,
    shard: Shard | None = None,
) -> tuple[dict[str, dict[str, Encoding]], bool]:
    """Emit every source in dependency order, writing or staging each; compress what needs siblings.

    Returns the siblings the compressor made (by output path) and whether it ran at all.
    """
    compressor: Compressor | None = None  # started at the first output that needs siblings
    if reporter is not None:
        reporter.start(len(ctx.planned.order))
    suspects = _suspects(ctx)
    try:
        if suspects is None:
            todo: Iterable[str] = ctx.planned.order
        else:  # a watch rebuild: only what untouched() could refuse is asked, the rest is taken whole
            assert ctx.last is not None
            ctx.outputs = ctx.last.outputs.copy()
            report.outcomes = dict.fromkeys(ctx.planned.order, ("reused",))
            todo = _in_order(ctx, suspects)
        for logical in todo:
            if reporter is not None:
                reporter.advance()
            node = ctx.planned.nodes[logical]
            report.bytes_in += node.asset.size
            kept = ctx.untouched(logical, node)
            if kept is not None:
                ctx.outputs[logical] = kept
                report.reused += 1
                report.bytes_out += kept.entry.size
                report.outcomes[logical] = ("reused",)
                continue
            output, data = _emit(node, ctx)
            ctx.add(logical, output)
            report.bytes_out += output.entry.size
            report.reused += not output.written
            report.written += output.written
            report.read += data is not None and logical not in ctx.planned.read  # read again to emit
            read = logical in ctx.planned.read or data is not None
            report.outcomes[logical] = ("read",) * read + ("written" if output.written else "reused",)
            if output.siblings is None:
                if defer:
                    report.deferred += 1
                    continue
                if shard is not None:
                    continue  # a share is chosen from every output, once all are emitted (below)
                compressor = compressor or _compressor(config, ctx.fresh, len(ctx.planned.order))
                _submit(compressor, ctx, logical, output, data)
        if suspects is not None:
            _count_whole(ctx, report, reporter, suspects)
        _check_collisions(ctx)
        if shard is not None:
            compressor = _submit_share(config, ctx, shard)
        results = compressor.results(progress=_progress(reporter, compressor)) if compressor else {}
    except BaseException:
        if compressor is not None:
            compressor.close(cancel=True)  # a failed or interrupted build stops at once
        ctx.staging.discard()
        raise
    finally:
        if reporter is not None:
            reporter.finish()
    if compressor is None:
        return results, False
    compressor.close()
    called, fetched = compressor.compressed, compressor.fetched
    for logical, output in ctx.outputs.items():
        path = output.entry.path
        made = ("compressed",) * (path in called) + ("cache",) * (path in fetched)
        if made:
            report.outcomes[logical] = (*report.outcomes.get(logical, ()), *made)
    stats = compressor.stats
    report.cache_hits, report.compressed = stats.cache_hits, stats.compressor_calls
    report.cache_rejected = stats.cache_rejected
    report.remote = stats.remote
    if compressor.remote is not None:
        report.warnings += compressor.remote.warnings()
    report.compressor_seconds = stats.compressor_seconds
    return results, True


def _suspects(ctx: _Emitting) -> set[str] | None:
    """The sources of a watch rebuild that :meth:`_Emitting.untouched` could refuse, found without asking
    each: None (ask each) unless the last build had the very same plan order and sources.

    On a 2,000-file tree a save changes a few sources, and asking every one of them, twice a save, was a
    tenth of the save. Every other source passes untouched() for certain: its planned node is the last
    one's, its last output was whole (:func:`_partial`), the watcher on OUT saw none of its names; and a
    dependency renamed by this build brings its dependents in as it is emitted (:func:`_in_order`).
    """
    last, planned = ctx.last, ctx.planned
    if last is None or ctx.view.touched is None or planned.order is not last.plan.order:
        return None
    nodes, last_nodes = planned.nodes, last.plan.nodes
    if list(nodes) != list(last_nodes) or list(last.outputs) != list(planned.order):
        return None
    suspects = set(compress(nodes, map(is_not, nodes.values(), last_nodes.values())))  # in C
    suspects |= last.partial
    owners = last.owners
    suspects.update(owners[p] for p in ctx.view.touched_outputs if p in owners)
    ctx.suspects = suspects
    return suspects


def _in_order(ctx: _Emitting, suspects: set[str]) -> Iterator[str]:
    """``suspects`` in emit order, with the dependents of each source this build renamed as it comes."""
    position = ctx.positions
    heap = [(position[name], name) for name in suspects]
    heapq.heapify(heap)
    while heap:
        at, name = heapq.heappop(heap)
        renamed = name in ctx.renamed
        yield name
        if name in ctx.renamed and not renamed:
            for other, node in ctx.planned.nodes.items():
                if name in node.dependencies and other not in suspects and position[other] > at:
                    suspects.add(other)
                    heapq.heappush(heap, (position[other], other))


def _count_whole(
    ctx: _Emitting, report: BuildReport, reporter: Reporter | None, suspects: set[str]
) -> None:
    """Count the outputs a watch rebuild took whole without asking (all but ``suspects``) as untouched()
    would have counted each."""
    whole = len(ctx.planned.order) - len(suspects)
    ctx.taken += whole
    report.reused += whole
    report.bytes_in = sum(node.asset.size for node in ctx.planned.nodes.values())
    report.bytes_out = sum(output.entry.size for output in ctx.outputs.values())
    if reporter is not None:
        reporter.advance(whole)


def _partial(ctx: _Emitting) -> frozenset[str]:
    """The sources whose output untouched() would not take whole in the next build (written, reused in
    part, or without siblings vouched for): from the last build's and this build's suspects when it had
    them, else by looking at every output."""
    suspects, outputs = ctx.suspects, ctx.outputs
    if suspects is None or ctx.last is None:
        return frozenset(k for k, o in outputs.items() if not o.whole)
    return frozenset((ctx.last.partial - suspects) | {k for k in suspects if not outputs[k].whole})


def _submit_share(config: Config, ctx: _Emitting, shard: Shard) -> Compressor | None:
    """``--shard K/N``: queue the siblings of this job's share of every output (even one whose siblings OUT
    holds already: the job is there to fill the caches), chosen by :func:`assetpipe.shard.share`."""
    from assetpipe.shard import share

    mine = share(((o.entry.path, o.entry.size) for o in ctx.outputs.values()), shard)
    todo = [(name, o) for name, o in ctx.outputs.items() if o.entry.path in mine]
    if not todo or not ctx.compressing:
        return None
    compressor = _compressor(config, ctx.fresh, len(todo))
    for logical, output in todo:
        _submit(compressor, ctx, logical, output, None)
    return compressor


def _made_siblings(
    ctx: _Emitting, results: Mapping[str, Mapping[str, Encoding]]
) -> dict[str, tuple[SiblingRecord, ...]]:
    """The siblings the compressor just made, with their stats (staged ones beside the staged copy)."""
    delta = _delta(ctx)  # an output taken whole has its siblings (see _Delta.same): only the changed may not
    todo = delta.changed if delta.same else ctx.outputs
    return {
        logical: _sibling_records(_location(ctx, logical, o), o.entry.path, results.get(o.entry.path, {}))
        for logical, o in ((k, ctx.outputs[k]) for k in todo)
        if o.siblings is None
    }


def _location(ctx: _Emitting, logical: str, output: _Output) -> str:
    """Where ``output``'s bytes are now: the staged copy, or the file in OUT (a str: asked twice for each
    of thousands of outputs, where pathlib's joining and parsing cost more than the rest)."""
    return str(ctx.staging.path(logical)) if output.staged else _in_out(ctx.out, output.entry.path)


def _in_out(out: Path, path: str) -> str:
    """OUT-relative ``path`` in ``out``, as a str: joined for thousands of outputs and siblings a build, where
    pathlib's joining and parsing cost more than the rest."""
    return f"{out}{os.sep}{path}"


def _entries(ctx: _Emitting, results: Mapping[str, Mapping[str, Encoding]]) -> dict[str, ManifestEntry]:
    """The manifest's entries: each output's entry with the siblings it has (the last one, if untouched)."""
    delta = _delta(ctx)
    if delta.same and ctx.last is not None:  # the last build's entries, in the same order, but the changed
        entries = ctx.last.entries.copy()
        todo: Iterable[str] = delta.changed
    else:
        entries, todo = {}, ctx.outputs
    last = ctx.last.entries if ctx.last is not None else {}
    last_outputs = ctx.last.outputs if ctx.last is not None else {}
    for logical in todo:
        output = ctx.outputs[logical]
        if last_outputs.get(logical) is output:
            entries[logical] = last[logical]
        else:
            entries[logical] = _with_encodings(
                output.entry, _encodings(output, results.get(output.entry.path))
            )
    return entries


def _changed(ctx: _Emitting) -> dict[str, _Output]:
    """The outputs that may have been written, staged or compressed: only changed ones (see _Delta.same)."""
    delta = _delta(ctx)
    return {k: ctx.outputs[k] for k in delta.changed} if delta.same else ctx.outputs


def _fresh(ctx: _Emitting, entries: Mapping[str, ManifestEntry]) -> list[str]:
    """The files in OUT this build wrote, or adopted (see _Output.adopted), with their siblings: each must
    reach the disk before the manifest names it."""
    outputs, out = _changed(ctx), ctx.out
    fresh = [_in_out(out, o.entry.path) for o in outputs.values()
             if (o.written or o.adopted) and not o.staged]  # fmt: skip
    fresh += [_in_out(out, e.path) for name, o in outputs.items()
              if (o.siblings is None or o.adopted) and not o.staged
              for e in entries[name].encodings.values()]  # fmt: skip
    return fresh


def _publish(ctx: _Emitting, manifest: Manifest, fresh: list[str], flush: Flush | None) -> tuple[bool, str]:
    """Make ``manifest`` live (:func:`publish.publish`) with what this build wrote (``fresh``) and staged."""
    entries = manifest.assets
    staged = {name: entries[name].encodings for name, o in _changed(ctx).items() if o.staged}
    return publish(ctx.out, manifest, fresh=fresh, staging=ctx.staging, staged=staged, flushed=flush)


def _enforce_budgets(config: Config, manifest: Manifest, staging: Staging, siblings: bool) -> None:
    """Raise BudgetExceeded for a build over budget. Budgets in an encoding this build wrote no siblings in
    (compression off, or deferred by watch's first pass) are not judged on raw sizes."""
    from assetpipe.compress import policy_for

    policy = policy_for(config) if siblings else None
    written = list(policy.encodings()) if policy is not None else []
    where = str(config.config_file) if config.config_file is not None else None
    try:
        enforce(config.budgets, manifest.assets, written, where=where)
    except AssetpipeError:
        staging.discard()
        raise


def _previous_state(
    config: Config, out: Path, settings: Settings, state: BuildState | None, repair: bool
) -> BuildState:
    """The record to build from: the caller's (watch), the saved one, or none (first build, ``repair``)."""
    if repair:
        return BuildState(settings=settings.output, compression=settings.compression)
    if state is not None and state.settings == settings.output:
        return state.for_settings(settings)
    if config.cache_dir is None:
        return BuildState(settings=settings.output, compression=settings.compression)
    return load_state(state_path(config.cache_dir, out), settings)


def _emit(node: Node, ctx: _Emitting) -> tuple[_Output, bytes | None]:
    """Emit one source and put it where it belongs: reused, already there, written (hashed) or staged."""
    logical = node.asset.logical_path
    unhashed = logical in ctx.planned.unhashed
    out, compressing = ctx.out, ctx.compressing
    rec = ctx.planned.trusted.get(logical)
    if (
        rec is not None
        and _dependency_names_unchanged(node, rec, ctx)
        and output_intact(ctx.view, rec.output)
    ):
        # Unchanged source, unchanged dependency names, and OUT holds what the last build wrote there.
        entry = rec.entry or _entry_of(node, rec.output, unhashed)
        siblings = siblings_intact(ctx.view, rec.output) if compressing else ()
        whole = rec.entry is not None and siblings is not None and siblings is rec.output.siblings
        return _Output(entry, rec.output, siblings, reused=rec if whole else None), None
    try:
        data = final_bytes(node, ctx.output_path, ctx.base_path)
    except SourceError:
        if rec is None:
            raise
        raise _Untrue(logical) from None  # a plain rebuild would read it: this one starts over and does
    fp = fingerprint(data)
    path = logical if unhashed else hashed_path(logical, fp.hash)
    entry = entry_for(node, path, fp, immutable=not unhashed)
    last = ctx.state.files.get(logical)
    previous = (
        last.output if last is not None and (last.output.path, last.output.hash) == (path, fp.hash) else None
    )
    if not unhashed and ctx.planned.unhashed:
        _refuse_unhashed_names(logical, path, ctx.planned.unhashed)
    if ctx.fresh and not unhashed and (written := write_new(_in_out(out, path), data)) is not None:
        record = OutputRecord(path, fp.hash, fp.integrity, Stat.of(written))
        return _Output(entry, record, None if compressing else (), written=True), data
    target = out / path
    if holds(target, data, previous.stat if previous is not None else None):
        stat = _stat(target)
        known = previous.siblings if previous is not None and previous.stat == stat else None
        record = OutputRecord(path, fp.hash, fp.integrity, stat, known)
        siblings = siblings_intact(OutView(out), record) if compressing else ()
        adopted = previous is None or previous.stat != stat
        return _Output(entry, record, siblings, adopted=adopted), data
    # Stat'ed right after writing, before anything names it: what the record vouches for is what was written.
    if unhashed:
        record = OutputRecord(path, fp.hash, fp.integrity, Stat.of(ctx.staging.stage(logical, data)))
        return _Output(entry, record, None if compressing else (), written=True, staged=True), data
    record = OutputRecord(path, fp.hash, fp.integrity, Stat.of(write_atomic(target, data, fsync=False)))
    return _Output(entry, record, None if compressing else (), written=True), data


class _Untrue(Exception):
    """A source whose record was trusted is not the bytes the record was made from: rewritten in place
    with its size, mtime and inode kept, or while building. Nothing is published; the build starts over
    trusting no record (as ``--repair``), rather than fail on every build until someone repairs it."""

    def __init__(self, logical: str) -> None:
        super().__init__(logical)
        self.warning = str(
            SourceWarning(
                "not the file the last build's record was made from (rewritten in place with its size, "
                "mtime and inode kept, or while building): built again trusting no record",
                path=logical,
            )
        )


def _stat(path: Path) -> Stat:
    stat = stat_of(path)
    if stat is None:
        raise OutputError("vanished while building", path=str(path))
    return stat


def _dependency_names_unchanged(node: Node, rec: FileRecord, ctx: _Emitting) -> bool:
    """Whether ``node``'s dependencies have the output names the record was made with."""
    if ctx.renamed.isdisjoint(node.dependencies):
        return True  # none was renamed by this build: the record's names stand
    return rec.deps_key == dependency_key(node, ctx.output_path)


def _entry_of(node: Node, output: OutputRecord, unhashed: bool) -> ManifestEntry:
    fp = Fingerprint(hash=output.hash, integrity=output.integrity, size=output.stat.size)
    return entry_for(node, output.path, fp, immutable=not unhashed)


def _submit(
    compressor: Compressor, ctx: _Emitting, logical: str, output: _Output, data: bytes | None
) -> None:
    """Queue ``output``'s siblings: beside the staged copy for a staged file, else beside the file in OUT."""
    where = _location(ctx, logical, output)
    if data is None:
        data = _read_output(where)
    compressor.submit(where, output.entry.path, data, output.entry.content_type, output.record.stat.mtime_ns)


def _encodings(output: _Output, made: Mapping[str, Encoding] | None) -> dict[str, Encoding]:
    if output.siblings is not None:
        return {s.encoding: s.manifest_encoding for s in output.siblings if s.listed}
    return dict(made or {})


def _record(
    settings: Settings, recorded_ns: int, ctx: _Emitting, made: Mapping[str, tuple[SiblingRecord, ...]]
) -> BuildState:
    """The record of this build: each source's stat and references, each output's and sibling's stat."""
    kept = _kept_records(ctx)
    files, todo = (kept.copy(), _delta(ctx).changed) if kept is not None else ({}, tuple(ctx.outputs))
    for logical in todo:
        output = ctx.outputs[logical]
        if output.reused is not None:
            files[logical] = output.reused
            continue
        node, entry = ctx.planned.nodes[logical], output.entry
        # Siblings: right as they were, or made by this build (deferred ones: nothing vouches for them yet).
        siblings = output.siblings if output.siblings is not None else made.get(logical)
        a = node.asset
        files[logical] = FileRecord(
            source=Stat(a.size, a.mtime_ns, a.inode),
            references=node.refs if is_scanned(logical) else None,
            deps_key=dependency_key(node, ctx.output_path),
            digest=node.digest,
            output=output.record
            if output.record.siblings is siblings
            else replace(output.record, siblings=siblings),
            entry=entry,
        )
    return BuildState(settings.output, recorded_ns, files, settings.compression)


def _kept_records(ctx: _Emitting) -> dict[str, FileRecord] | None:
    """The last build's records, when they stand for every output but the changed ones: an output taken
    whole carries the record the last build made for it (``reused``, which _record keeps), so the records
    made together with the last build's outputs (:attr:`_Emitted.records`) are those very objects."""
    last = ctx.last
    if not _delta(ctx).same or last is None or ctx.state.files is not last.records:
        return None
    return last.records


def _sibling_records(where: str, path: str, listed: Mapping[str, Encoding]) -> tuple[SiblingRecord, ...]:
    """Every sibling now beside ``where`` (the compressor removed any that was wrong), with its stat, named
    by OUT path ``path``; taken right after compression, before anything names them."""
    records = []
    for name, suffix in ENCODING_SUFFIXES.items():
        stat = stat_of(f"{where}{suffix}")
        if stat is not None:
            records.append(SiblingRecord(name, path + suffix, stat, listed=name in listed))
    return tuple(records)


def _progress(reporter: Reporter | None, compressor: Compressor) -> Callable[[int], None] | None:
    """Turn the pool's "N still waiting" into a second run of the progress bar, for the compression tail."""
    total = compressor.stats.files
    if reporter is None or total == 0:
        return None
    reporter.start(total)
    done = 0

    def progress(waiting: int) -> None:
        nonlocal done
        now = max(0, total - waiting)
        if now > done:
            reporter.advance(now - done)
            done = now

    return progress


def _check_collisions(ctx: _Emitting) -> None:
    """No two sources may produce the same output name (a sibling's name included).

    A watch rebuild checks only the outputs that are not the last build's, against the last build's names:
    the whole check was the largest part of a one-file save on a 2,000-file tree.
    """
    last, delta = ctx.last, _delta(ctx)
    changed, gone = delta.changed, delta.gone
    if last is None:
        ctx.owners = {}
    else:
        if not changed and not gone:
            ctx.owners = last.owners
            return
        ctx.owners = last.owners.copy()  # dict(): 8x slower, once deletions have left holes in it
        for logical in (*changed, *gone):
            old = last.outputs.get(logical)
            for name in _output_names(old.entry.path) if old is not None else ():
                if ctx.owners.get(name) == logical:
                    del ctx.owners[name]
    owners = ctx.owners
    for logical in changed:
        for name in _output_names(ctx.outputs[logical].entry.path):
            other = owners.setdefault(name, logical)
            if other != logical:
                raise _collision(name, other, logical)


def _refuse_unhashed_names(logical: str, path: str, unhashed: frozenset[str]) -> None:
    """Refuse a hashed output whose name (or a sibling's) is a file published unhashed, before anything is
    written: OUT serves that file, and _check_collisions runs only once every output is written."""
    for name in _output_names(path):
        if name in unhashed:
            raise _collision(name, name, logical)


def _collision(name: str, other: str, logical: str) -> SourceError:
    return SourceError(
        f"output name {name!r} is also the output of {other!r}",
        path=logical,
        hint="rename one of them or remove it from 'unhashed'",
    )


def _output_names(path: str) -> tuple[str, ...]:
    # Every codec's suffix, whatever is switched on: a server picks a sibling by its name alone, and a
    # build must never take another output for a stale sibling (or the reverse).
    return (path, *(path + s for s in _SUFFIXES))


_SUFFIXES = tuple(ENCODING_SUFFIXES.values())


def _with_encodings(entry: ManifestEntry, encodings: Mapping[str, Encoding]) -> ManifestEntry:
    return replace(entry, encodings=dict(sorted(encodings.items()))) if encodings else entry


def _read_output(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise OutputError(f"cannot read back: {exc.strerror or exc}", path=str(path)) from None


def _compressor(config: Config, fresh: bool, expected: int) -> Compressor:
    from assetpipe.compress import Compressor, policy_for

    policy = policy_for(config)
    assert policy is not None, "only called when the settings compress"
    remote = None
    if config.cache_url:  # boto3 is imported only here, when a remote is configured
        from assetpipe.remote import RemoteTier

        remote = RemoteTier(config.cache_url, read_only=config.cache_url_mode == "read")
    return Compressor(
        policy, cache_dir=config.cache_dir, jobs=config.jobs, remote=remote, fresh=fresh, expected=expected
    )


__all__ = ["AssetpipeError", "BuildReport", "ConfigError", "build"]
