"""build(config): the one module that composes the stages, and reads as the data flow.

plan (read what changed, resolve references, order) -> emit each source in dependency order (rewrite,
digest, name) and write it (hashed: at once; unhashed: staged) -> compress (a pool, overlapping) ->
publish (unhashed sets swapped in one burst, manifest last and atomic) -> record. Any error before publish
leaves OUT serving exactly what it served before: hashed files already written are new names nothing
names yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from assetpipe.asset import is_scanned
from assetpipe.budgets import enforce
from assetpipe.config import Config
from assetpipe.emit import dependency_key, entry_for, final_bytes
from assetpipe.errors import AssetpipeError, ConfigError, OutputError, SourceError
from assetpipe.files import ensure_directory, write_atomic
from assetpipe.fingerprint import Fingerprint, fingerprint, hashed_path
from assetpipe.lock import output_lock
from assetpipe.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Encoding, Manifest, ManifestEntry
from assetpipe.plan import Node, Plan, plan
from assetpipe.publish import Staging, publish
from assetpipe.reuse import holds, output_intact, siblings_intact
from assetpipe.sources import check_layout, scan_with_memo
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


class Reporter(Protocol):
    """Progress callbacks; the CLI draws a bar, tests and watch pass nothing."""

    def start(self, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def finish(self) -> None: ...
    def waiting(self, message: str) -> None: ...


@dataclass(slots=True)
class BuildReport:
    """What a build did, for the summary line and for callers."""

    manifest: Manifest
    manifest_path: Path
    files: int = 0
    written: int = 0
    reused: int = 0
    read: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    encoded_bytes: dict[str, int] = field(default_factory=dict)  # per encoding: bytes of the siblings
    encoded_from: dict[str, int] = field(default_factory=dict)  # per encoding: bytes of their originals
    cache_hits: int = 0
    compressed: int = 0  # compressor calls made (cache misses)
    compressor_seconds: float = 0.0
    deferred: int = 0  # outputs published without their siblings (``defer_compression``)
    manifest_changed: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.files} files ({self.written} written, {self.read} read)", f"{_size(self.bytes_out)}"]
        for name in sorted(self.encoded_bytes):
            size, original = self.encoded_bytes[name], self.encoded_from.get(name, 0)
            saving = f" (-{1 - size / original:.0%} of {_size(original)})" if original else ""
            parts.append(f"{name} {_size(size)}{saving}")
        if self.compressed or self.cache_hits:
            parts.append(f"{self.compressed} compressed, {self.cache_hits} cache hits")
        return "built " + ", ".join(parts) + f" in {self.seconds:.2f}s -> {self.manifest_path}"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def settings_of(config: Config) -> Settings:
    """The two settings keys a build record is valid for (the only place they are computed)."""
    output = settings_key(
        "v2", config.source.resolve(), config.output.resolve(), config.base_url, config.unhashed,
        config.broken_references,
    )  # fmt: skip
    compress = config.compress and (config.brotli or config.gzip)
    compression = settings_key(
        config.brotli, config.gzip, config.gzip_backend, config.min_size, config.min_saving
    ) if compress else "off"  # fmt: skip
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
) -> BuildReport:
    """Build SRC into OUT; see the module docstring for the order and the guarantees.

    ``state`` lets a long-running caller (watch) keep the records in memory between builds; without it
    they are loaded from and saved to the cache directory. ``touched`` (with ``state``) names the logical
    paths a watcher saw change since that state, so unchanged directories are not re-listed. ``repair``
    trusts no record: every output and sibling already in OUT is checked byte for byte and restored.
    ``defer_compression`` publishes new outputs without siblings (watch's first pass; siblings that are
    already right stay listed), leaving them for the next build.
    """
    started = time.perf_counter()
    check_layout(config)
    out = config.output.resolve()
    try:
        ensure_directory(out)
    except OSError as exc:
        raise OutputError(f"cannot create output directory: {exc.strerror or exc}", path=str(out)) from None
    on_wait = reporter.waiting if reporter is not None else None
    with output_lock(out, wait=wait, on_wait=on_wait):
        report, new_state = _build_locked(config, out, reporter, state, touched, repair, defer_compression)
    if changed is not None:
        changed(new_state)
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True, slots=True)
class _Output:
    """One emitted output: its entry, and whether OUT holds it already (record) or it was just put there."""

    entry: ManifestEntry  # without encodings
    record: OutputRecord | None  # OUT holds it as recorded; None: written or staged by this build
    siblings: tuple[SiblingRecord, ...] | None  # siblings that are right as they are; None: compress
    staged: bool = False


def _build_locked(
    config: Config,
    out: Path,
    reporter: Reporter | None,
    state: BuildState | None,
    touched: Collection[str] | None,
    repair: bool,
    defer: bool,
) -> tuple[BuildReport, BuildState]:
    settings = settings_of(config)
    persisted = state is None  # a caller that passes its state (watch) keeps it in memory
    state = _previous_state(config, out, settings, state, repair)
    recorded_ns = now_ns()
    assets, scan_memo = scan_with_memo(config, memo=state.scan_memo, touched=touched)
    planned = plan(config, assets, state)
    report = BuildReport(manifest=Manifest(config.base_url, {}), manifest_path=out / MANIFEST_NAME)
    report.read, report.warnings = planned.read, list(planned.warnings)
    compressing = settings.compression != "off"
    compressor: Compressor | None = None  # started at the first output that needs siblings
    staging = Staging(out)
    outputs: dict[str, _Output] = {}
    owners: dict[str, str] = {}

    def output_path(logical: str) -> str:
        return logical if logical in planned.unhashed else outputs[logical].entry.path

    if reporter is not None:
        reporter.start(len(planned.order))
    try:
        for logical in planned.order:
            if reporter is not None:
                reporter.advance()
            node = planned.nodes[logical]
            output, data = _emit(node, planned, output_path, out, staging, config.base_path, compressing)
            outputs[logical] = output
            _claim(owners, output.entry.path, logical, compressing)
            report.bytes_in += node.asset.size
            report.bytes_out += output.entry.size
            report.reused += output.record is not None
            report.written += output.record is None
            report.read += data is not None and node.digest is None
            if output.siblings is None:
                if defer:
                    report.deferred += 1
                    continue
                compressor = compressor or _compressor(config)
                _submit(compressor, out, staging, logical, output, data)
        results = compressor.results(progress=_progress(reporter, compressor)) if compressor else {}
    except BaseException:
        if compressor is not None:
            compressor.close(cancel=True)  # a failed or interrupted build stops at once
        staging.discard()
        raise
    finally:
        if reporter is not None:
            reporter.finish()
    if compressor is not None:
        compressor.close()
        stats = compressor.stats
        report.cache_hits, report.compressed = stats.cache_hits, stats.compressor_calls
        report.compressor_seconds = stats.compressor_seconds

    encodings = {logical: _encodings(o, results.get(o.entry.path)) for logical, o in outputs.items()}
    manifest = Manifest(
        base_url=config.base_url,
        assets={name: _with_encodings(o.entry, encodings[name]) for name, o in outputs.items()},
    )
    if config.budgets:  # before anything is published: over budget, OUT keeps serving the last build
        _enforce_budgets(config, manifest, staging, compressing and not defer)
    if config.snippets_dir is not None:
        # Before the manifest: a snippet that cannot be rendered safely fails the build, not half of it.
        from assetpipe.snippets import write_all

        write_all(manifest, config.snippets_dir, root=config.snippet_root or str(out))
    if compressor is None and not report.written:
        # Nothing written or compressed: when every record is as before and manifest.json is as the last
        # build left it, OUT already serves exactly this build (the no-op rebuild).
        new_state = _record(settings, recorded_ns, planned, outputs, {}, out, compressed=False)
        manifest_stat = stat_of(out / MANIFEST_NAME)
        if new_state.files == state.files and manifest_stat is not None and manifest_stat == state.manifest:
            new_state.manifest, new_state.scan_memo = manifest_stat, scan_memo
            report.manifest, report.files = manifest, len(manifest.assets)
            _count_encodings(report, manifest)
            return report, new_state  # the saved record still holds (its racy window only errs on reading)
    fresh = [out / o.entry.path for o in outputs.values() if o.record is None and not o.staged]
    fresh += [out / e.path for name, o in outputs.items() if o.siblings is None and not o.staged
              for e in encodings[name].values()]  # fmt: skip
    staged = {name: encodings[name] for name, o in outputs.items() if o.staged}
    report.manifest_changed = publish(out, manifest, fresh=fresh, staging=staging, staged=staged)
    _count_encodings(report, manifest)
    report.manifest, report.files = manifest, len(manifest.assets)

    new_state = _record(settings, recorded_ns, planned, outputs, encodings, out, compressor is not None)
    new_state.manifest, new_state.scan_memo = stat_of(out / MANIFEST_NAME), scan_memo
    if persisted and config.cache_dir is not None:
        save_state(state_path(config.cache_dir, out), new_state)
    return report, new_state


def _enforce_budgets(config: Config, manifest: Manifest, staging: Staging, siblings: bool) -> None:
    """Raise BudgetExceeded for a build over budget. Budgets in an encoding this build wrote no siblings in
    (compression off, or deferred by watch's first pass) are not judged on raw sizes."""
    written = [name for name, on in (("br", config.brotli), ("gzip", config.gzip)) if on and siblings]
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


def _emit(
    node: Node,
    planned: Plan,
    output_path: Callable[[str], str],
    out: Path,
    staging: Staging,
    base_path: str,
    compressing: bool,
) -> tuple[_Output, bytes | None]:
    """Emit one source and put it where it belongs: reused, already there, written (hashed) or staged."""
    logical = node.asset.logical_path
    unhashed = logical in planned.unhashed
    deps_key = dependency_key(node, output_path)
    rec = node.record
    if rec is not None and rec.deps_key == deps_key and output_intact(out, rec.output):
        # Unchanged source, unchanged dependency names, and OUT holds what the last build wrote there.
        entry = rec.entry or _entry_of(node, rec.output, unhashed)
        siblings = siblings_intact(out, rec.output) if compressing else ()
        return _Output(entry, rec.output, siblings), None
    data = final_bytes(node, output_path, base_path)
    fp = fingerprint(data)
    path = logical if unhashed else hashed_path(logical, fp.hash)
    entry = entry_for(node, path, fp, immutable=not unhashed)
    last = node.previous
    previous = last if last is not None and (last.path, last.hash) == (path, fp.hash) else None
    target = out / path
    if holds(target, data, previous.stat if previous is not None else None):
        stat = stat_of(target)
        if stat is None:
            raise OutputError("vanished while building", path=str(target))
        known = previous.siblings if previous is not None and previous.stat == stat else None
        record = OutputRecord(path, fp.hash, fp.integrity, stat, known)
        return _Output(entry, record, siblings_intact(out, record) if compressing else ()), data
    if unhashed:
        staging.stage(logical, data)
        return _Output(entry, None, None if compressing else (), staged=True), data
    write_atomic(target, data, fsync=False)
    return _Output(entry, None, None if compressing else ()), data


def _entry_of(node: Node, output: OutputRecord, unhashed: bool) -> ManifestEntry:
    fp = Fingerprint(hash=output.hash, integrity=output.integrity, size=output.stat.size)
    return entry_for(node, output.path, fp, immutable=not unhashed)


def _submit(
    compressor: Compressor, out: Path, staging: Staging, logical: str, output: _Output, data: bytes | None
) -> None:
    """Queue ``output``'s siblings: beside the staged copy for a staged file, else beside the file in OUT."""
    where = staging.path(logical) if output.staged else out / output.entry.path
    if data is None:
        data = _read_output(where)
    compressor.submit(where, output.entry.path, data, output.entry.content_type, where.stat().st_mtime_ns)


def _encodings(output: _Output, made: Mapping[str, Encoding] | None) -> dict[str, Encoding]:
    if output.siblings is not None:
        return {s.encoding: s.manifest_encoding for s in output.siblings if s.listed}
    return dict(made or {})


def _record(
    settings: Settings,
    recorded_ns: int,
    planned: Plan,
    outputs: Mapping[str, _Output],
    encodings: Mapping[str, Mapping[str, Encoding]],
    out: Path,
    compressed: bool,
) -> BuildState:
    """The record of this build: each source's stat and references, each output's and sibling's stat."""
    files: dict[str, FileRecord] = {}
    for logical, output in outputs.items():
        node, entry = planned.nodes[logical], output.entry
        stat = output.record.stat if output.record is not None else stat_of(out / entry.path)
        if stat is None:
            continue  # gone already: the next build writes it again
        if output.siblings is not None:
            siblings: tuple[SiblingRecord, ...] | None = output.siblings
        else:  # compressed by this build (or deferred: then nothing vouches for them yet)
            siblings = _sibling_records(out, entry.path, encodings[logical]) if compressed else None
        a = node.asset
        files[logical] = FileRecord(
            source=Stat(a.size, a.mtime_ns, a.inode),
            references=node.refs if is_scanned(logical) else None,
            deps_key=dependency_key(node, lambda d: outputs[d].entry.path),
            output=OutputRecord(entry.path, entry.hash, entry.integrity, stat, siblings),
            entry=entry,
        )
    return BuildState(settings.output, recorded_ns, files, settings.compression)


def _sibling_records(out: Path, path: str, listed: Mapping[str, Encoding]) -> tuple[SiblingRecord, ...]:
    """Every sibling of ``path`` now in OUT (the compressor removed any that was wrong), with its stat."""
    records = []
    for name, suffix in ENCODING_SUFFIXES.items():
        stat = stat_of(out / (path + suffix))
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


def _claim(owners: dict[str, str], out_path: str, logical: str, compressing: bool) -> None:
    for path in (out_path, *(out_path + s for s in ENCODING_SUFFIXES.values() if compressing)):
        other = owners.setdefault(path, logical)
        if other != logical:
            raise SourceError(
                f"output name {path!r} is also the output of {other!r}",
                path=logical,
                hint="rename one of them or remove it from 'unhashed'",
            )


def _with_encodings(entry: ManifestEntry, encodings: Mapping[str, Encoding]) -> ManifestEntry:
    return replace(entry, encodings=dict(sorted(encodings.items()))) if encodings else entry


def _count_encodings(report: BuildReport, manifest: Manifest) -> None:
    for entry in manifest.assets.values():
        for name, enc in entry.encodings.items():
            report.encoded_bytes[name] = report.encoded_bytes.get(name, 0) + enc.size
            report.encoded_from[name] = report.encoded_from.get(name, 0) + entry.size


def _read_output(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OutputError(f"cannot read back: {exc.strerror or exc}", path=str(path)) from None


def _compressor(config: Config) -> Compressor:
    from assetpipe.compress import CompressionPolicy, Compressor

    policy = CompressionPolicy(
        brotli=config.brotli,
        gzip=config.gzip,
        gzip_backend=config.gzip_backend,
        min_size=config.min_size,
        min_saving=config.min_saving,
    )
    return Compressor(policy, cache_dir=config.cache_dir, jobs=config.jobs)


__all__ = ["AssetpipeError", "BuildReport", "ConfigError", "build"]
