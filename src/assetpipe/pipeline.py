"""build(config): the one module that composes the stages, top to bottom.

scan -> find references -> resolve into a graph -> for each asset in dependency order: rewrite, digest,
name, write -> compress (overlapping, in a pool) -> manifest last and atomically -> build record ->
snippets. Any error before the manifest is written leaves the previous manifest byte-identical; files
already written are content-addressed new names, harmless to old readers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assetpipe import references
from assetpipe.asset import Asset, Kind, Reference, is_module, is_scanned
from assetpipe.builds import record_build
from assetpipe.config import Config
from assetpipe.errors import AssetpipeError, BrokenReference, ConfigError, OutputError, SourceError
from assetpipe.files import ensure_directory, make_durable, write_atomic
from assetpipe.fingerprint import fingerprint, hashed_path
from assetpipe.graph import build_order_by_weight
from assetpipe.lock import STATE_DIR, output_lock
from assetpipe.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Encoding, Manifest, ManifestEntry
from assetpipe.media_types import media_type
from assetpipe.patterns import path_set
from assetpipe.references.resolve import Target, new_url, resolve
from assetpipe.references.text import decode_utf8
from assetpipe.rewrite import splice
from assetpipe.sources import check_layout, scan_with_memo
from assetpipe.state import BuildState, FileRecord, load_state, now_ns, save_state, settings_key, state_path

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


@dataclass(slots=True)
class _Node:
    asset: Asset
    record: FileRecord | None  # trusted record from the last build, when the file is unchanged
    text: str | None = None
    digest: bytes | None = None  # of the bytes the references were found in, when read by this build
    refs: tuple[Reference, ...] = ()
    targets: list[tuple[Reference, Target]] = field(default_factory=list)


def _settings(config: Config) -> str:
    return settings_key(
        "v1", config.source.resolve(), config.output.resolve(), config.base_url, config.unhashed,
        config.broken_references,
    )  # fmt: skip


def _compress_settings(config: Config) -> str:
    return settings_key(
        config.compress, config.brotli, config.gzip, config.gzip_backend, config.min_size, config.min_saving
    )


def _read(asset: Asset) -> bytes:
    try:
        with open(asset.source, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}", path=asset.logical_path) from None


def _check_collisions(config: Config, unhashed: set[str]) -> None:
    for logical in sorted(unhashed):
        top = logical.split("/", 1)[0]
        if logical == MANIFEST_NAME or top == STATE_DIR:
            raise SourceError(
                f"output name would collide with OUT/{logical}, which assetpipe owns",
                path=logical,
                hint="rename the file or remove it from 'unhashed'",
            )


def build(
    config: Config,
    *,
    reporter: Reporter | None = None,
    wait: bool = True,
    state: BuildState | None = None,
    changed: Callable[[BuildState], None] | None = None,
    touched: Collection[str] | None = None,
) -> BuildReport:
    """Build SRC into OUT; see the module docstring for the order and the guarantees.

    ``state`` lets a long-running caller (watch) keep the per-file records in memory between builds;
    without it they are loaded from and saved to the cache directory. ``touched`` (with ``state``) names
    the logical paths a watcher saw change since that state, so unchanged directories are not re-listed.
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
        report, new_state = _build_locked(config, out, reporter, state, touched)
    if changed is not None:
        changed(new_state)
    report.seconds = time.perf_counter() - started
    return report


def _build_locked(
    config: Config,
    out: Path,
    reporter: Reporter | None,
    state: BuildState | None,
    touched: Collection[str] | None,
) -> tuple[BuildReport, BuildState]:
    settings = _settings(config)
    persisted = state is None and config.cache_dir is not None
    if state is None or state.settings != settings:
        state = (
            load_state(state_path(config.cache_dir, out), settings)
            if persisted and config.cache_dir is not None
            else BuildState(settings=settings)
        )
    recorded_ns = now_ns()
    assets, scan_memo = scan_with_memo(config, memo=state.scan_memo, touched=touched)
    by_path = {a.logical_path: a for a in assets}
    unhashed_set = path_set(config.unhashed)
    unhashed = {a.logical_path for a in assets if unhashed_set.matches(a.logical_path)}
    _check_collisions(config, unhashed)
    report = BuildReport(manifest=Manifest(config.base_url, {}), manifest_path=out / MANIFEST_NAME)
    base_path = config.base_path

    # -- find references (reading only text files that changed) -------------------------------------
    nodes: dict[str, _Node] = {}
    edges: dict[str, list[str]] = {}
    where: dict[tuple[str, str], tuple[int, int]] = {}
    for asset in assets:
        record = state.unchanged(asset)
        node = _Node(asset, record)
        nodes[asset.logical_path] = node
        if not is_scanned(asset.logical_path):
            continue
        if record is not None and record.references is not None:
            node.refs = record.references
        else:
            raw = _read(asset)
            report.read += 1
            node.refs = references.find(asset.logical_path, decode_utf8(raw, asset.logical_path))
            # The text is read again when written, not held: holding every stylesheet and script from
            # here to there was the build's largest use of memory. The digest proves it is the same.
            node.digest = hashlib.sha256(raw).digest()
        deps: list[str] = []
        for ref in node.refs:
            try:
                target = resolve(asset.logical_path, ref, base_path, by_path)
            except BrokenReference as exc:
                if config.broken_references == "warn":
                    report.warnings.append(str(exc))
                    continue
                raise
            if target is None:
                continue
            node.targets.append((ref, target))
            if target.logical_path not in deps:
                deps.append(target.logical_path)
                where[(asset.logical_path, target.logical_path)] = (ref.line, ref.column)
        edges[asset.logical_path] = deps

    # An unhashed file's URL does not depend on its bytes, so a reference to one needs no ordering: a
    # loop through an unhashed file is no cycle (the way out of one, offered in the cycle error).
    ordering = {name: [d for d in deps if d not in unhashed] for name, deps in edges.items()}
    order = build_order_by_weight(list(nodes), ordering, {a.logical_path: a.size for a in assets}, where)

    def output_path(logical: str) -> str:
        return logical if logical in unhashed else entries[logical].path

    # -- rewrite, digest, name, write: dependencies first -------------------------------------------
    compressor = _compressor(config)
    compress_ok = state.compress_settings == _compress_settings(config)
    entries: dict[str, ManifestEntry] = {}
    new_files: dict[str, FileRecord] = {}
    output_owner: dict[str, str] = {}
    pending_encodings: set[str] = set()
    deferred: list[tuple[str, Path, bytes]] = []  # unhashed files whose bytes changed
    written_logicals: list[str] = []
    if reporter is not None:
        reporter.start(len(order))
    try:
        for logical in order:
            node = nodes[logical]
            asset = node.asset
            deps = edges.get(logical, [])
            # What the output depends on besides the file's own bytes: its dependencies' output names.
            deps_key = "\0".join(f"{d}\1{output_path(d)}" for d in deps) if deps else ""
            rec = node.record
            output = rec.output if rec is not None and rec.deps_key == deps_key else None
            if (
                output is not None
                and rec is not None
                and rec.entry is not None
                and compressor is None
                and _output_present(out, output)
            ):
                # Unchanged file, unchanged dependencies, output on disk: last build's entry stands as it
                # is (the common case of a rebuild, where per-file work is what costs).
                _claim(output_owner, rec.entry.path, logical)
                entries[logical] = rec.entry
                new_files[logical] = rec
                report.reused += 1
                report.bytes_in += asset.size
                report.bytes_out += rec.entry.size
                if reporter is not None:
                    reporter.advance()
                continue
            out_path: str
            data: bytes | None
            if output is not None and _output_present(out, output):
                out_path = output["path"]
                fp_hash, integrity, size = output["hash"], output["integrity"], output["size"]
                data = None
                report.reused += 1
            else:
                data = _final_bytes(node, output_path, base_path, report)
                node.text = None  # keep peak memory near one file, not the whole tree
                fp = fingerprint(data)
                fp_hash, integrity, size = fp.hash, fp.integrity, fp.size
                out_path = logical if logical in unhashed else hashed_path(logical, fp.hash)
                if logical in unhashed:
                    # Replaced in place, so written last, just before the manifest (see _write_unhashed).
                    if _needs_write(out / out_path, data, hashed=False):
                        deferred.append((logical, out / out_path, data))
                        written_logicals.append(logical)
                        report.written += 1
                elif _needs_write(out / out_path, data, hashed=True):
                    write_atomic(out / out_path, data, fsync=False)
                    written_logicals.append(logical)
                    report.written += 1
            _claim(output_owner, out_path, logical)
            if compressor is not None:
                for suffix in ENCODING_SUFFIXES.values():
                    _claim(output_owner, out_path + suffix, logical)
            report.bytes_in += asset.size
            report.bytes_out += size
            content_type = media_type(logical)
            imports = tuple(
                sorted(
                    {
                        t.logical_path
                        for r, t in node.targets
                        if r.kind is Kind.MODULE and is_module(t.logical_path)
                    }
                )
            )
            entry = ManifestEntry(
                path=out_path,
                hash=fp_hash,
                integrity=integrity,
                size=size,
                content_type=content_type,
                immutable=logical not in unhashed,
                encodings={},
                dependencies=tuple(sorted(deps)),
                imports=imports,
            )
            entries[logical] = entry
            new_files[logical] = FileRecord(
                size=asset.size,
                mtime_ns=asset.mtime_ns,
                inode=asset.inode,
                references=node.refs if is_scanned(logical) else None,
                deps_key=deps_key,
                output={"path": out_path, "hash": fp_hash, "integrity": integrity, "size": size},
                entry=entry,
            )
            if compressor is not None and not (deferred and deferred[-1][0] == logical):
                previous = state.encodings.get(logical) if compress_ok else None
                if (
                    previous is None
                    or previous.get("for") != out_path
                    or not _siblings_present(out, previous)
                ):
                    written_to = out / out_path
                    if data is None:
                        data = _read_output(written_to)
                    compressor.submit(written_to, out_path, data, content_type, written_to.stat().st_mtime_ns)
                    pending_encodings.add(logical)
            if reporter is not None:
                reporter.advance()

        # -- siblings: wait for the pool; then the manifest, last ---------------------------------------
        encodings: dict[str, dict[str, Encoding]] = {}
        if compressor is not None:
            # Hashed siblings first (the long part, with its own progress bar); the unhashed files wait
            # until all else is done.
            compressor.results(progress=_compression_progress(reporter, len(pending_encodings)))
        for logical, path, data in deferred:
            write_atomic(path, data, fsync=False)
            if compressor is None:
                # Servers pick a sibling just because it exists: one of the old bytes must go.
                for suffix in ENCODING_SUFFIXES.values():
                    Path(str(path) + suffix).unlink(missing_ok=True)
            if compressor is not None:
                compressor.submit(
                    path, entries[logical].path, data, entries[logical].content_type, path.stat().st_mtime_ns
                )
                pending_encodings.add(logical)
        if compressor is not None:
            results = compressor.results()
            for logical, entry in entries.items():
                if logical in pending_encodings:
                    encodings[logical] = dict(results.get(entry.path, {}))
                else:
                    prev = state.encodings.get(logical, {}).get("encodings", {})
                    encodings[logical] = {
                        name: Encoding(path=str(e["path"]), size=int(e["size"])) for name, e in prev.items()
                    }
            stats = compressor.stats
            report.cache_hits = stats.cache_hits
            report.compressed = stats.compressor_calls
            report.compressor_seconds = stats.compressor_seconds
    except BaseException:
        if compressor is not None:
            compressor.close(cancel=True)  # a failed or interrupted build stops at once
            compressor = None
        raise
    finally:
        if compressor is not None:
            compressor.close()
        if reporter is not None:
            reporter.finish()

    final = {
        logical: _with_encodings(entry, encodings.get(logical, {})) for logical, entry in entries.items()
    }
    for entry in final.values():
        for enc_name, enc in entry.encodings.items():
            report.encoded_bytes[enc_name] = report.encoded_bytes.get(enc_name, 0) + enc.size
            report.encoded_from[enc_name] = report.encoded_from.get(enc_name, 0) + entry.size
    manifest = Manifest(base_url=config.base_url, assets=final)
    if config.snippets_dir is not None:
        # Before the manifest: a snippet that cannot be rendered safely fails the build, not half of it.
        from assetpipe.snippets import write_all

        write_all(manifest, config.snippets_dir, root=config.snippet_root or str(out), cors=config.cors)
    manifest_file = out / MANIFEST_NAME
    manifest_text = manifest.dumps()
    text = manifest_text.encode("utf-8")
    try:
        previous_bytes = manifest_file.read_bytes()
    except OSError:
        previous_bytes = None
    # Recorded before it goes live: a record of a build that never landed is harmless, while a live
    # build without a record could have its files pruned by clean.
    record_build(out, manifest, text=manifest_text)
    if previous_bytes != text:
        # Every file the manifest names reaches the disk before the manifest does.
        fresh = [out / final[name].path for name in written_logicals] + [
            out / enc.path for name in pending_encodings for enc in final[name].encodings.values()
        ]
        make_durable(fresh)
        manifest.write(out, manifest_text)
        report.manifest_changed = True
    report.manifest = manifest
    report.files = len(final)

    new_state = BuildState(
        settings=state.settings,
        recorded_ns=recorded_ns,
        files=new_files,
        encodings={
            logical: {"for": entry.path, "encodings": {n: e.to_json() for n, e in entry.encodings.items()}}
            for logical, entry in final.items()
        }
        if compressor is not None
        else {},  # an uncompressed build vouches for no sibling
        compress_settings=_compress_settings(config) if compressor is not None else "",
        scan_memo=scan_memo,
    )
    if persisted and config.cache_dir is not None:
        save_state(state_path(config.cache_dir, out), new_state)
    return report, new_state


def _compression_progress(reporter: Reporter | None, total: int) -> Callable[[int], None] | None:
    """Turn the pool's "N still waiting" into a second run of the progress bar, for the compression tail."""
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


def _claim(owner: dict[str, str], out_path: str, logical: str) -> None:
    other = owner.setdefault(out_path, logical)
    if other != logical:
        raise SourceError(
            f"output name {out_path!r} is also the output of {other!r}",
            path=logical,
            hint="rename one of them or remove it from 'unhashed'",
        )


def _with_encodings(entry: ManifestEntry, encodings: dict[str, Encoding]) -> ManifestEntry:
    return replace(entry, encodings=dict(sorted(encodings.items()))) if encodings else entry


def _output_present(out: Path, output: Mapping[str, Any]) -> bool:
    try:
        return bool(os.stat(os.path.join(out, output["path"])).st_size == output["size"])
    except (OSError, KeyError):
        return False


def _siblings_present(out: Path, previous: Mapping[str, Any]) -> bool:
    encodings = previous.get("encodings")
    if not isinstance(encodings, dict):
        return False
    return all(isinstance(enc, dict) and _output_present(out, enc) for enc in encodings.values())


def _read_output(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OutputError(f"cannot read back: {exc.strerror or exc}", path=str(path)) from None


def _final_bytes(
    node: _Node, output_path: Callable[[str], str], base_path: str, report: BuildReport
) -> bytes:
    """The bytes to write: the source with each resolved reference spliced to its target's new URL."""
    asset = node.asset
    if not is_scanned(asset.logical_path):
        report.read += 1
        return _read(asset)
    raw = _read(asset)
    if node.digest is not None:  # read once already to find its references
        if hashlib.sha256(raw).digest() != node.digest:
            raise SourceError("changed while building; run the build again", path=asset.logical_path)
        if not node.targets:
            return raw
        node.text = decode_utf8(raw, asset.logical_path)
    else:  # references came from the record, but the text is needed to rewrite
        report.read += 1
        node.text = decode_utf8(raw, asset.logical_path)
        if references.find(asset.logical_path, node.text) != node.refs:
            raise SourceError("changed while building; run the build again", path=asset.logical_path)
        if not node.targets:
            return raw
    replacements = [
        (
            ref.start,
            ref.end,
            new_url(asset.logical_path, target, output_path(target.logical_path), base_path),
        )
        for ref, target in node.targets
    ]
    return splice(node.text, replacements).encode("utf-8")


def _needs_write(path: Path, data: bytes, *, hashed: bool) -> bool:
    """False when identical bytes are already there: not rewriting keeps mtimes, and so ETags, stable."""
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    if st is not None and st.st_size == len(data):
        # A hashed name is content-addressed: same size means same bytes (verify re-checks digests).
        if hashed:
            return False
        try:
            if path.read_bytes() == data:
                return False
        except OSError:
            pass
    return True


def _compressor(config: Config) -> Compressor | None:
    if not config.compress or not (config.brotli or config.gzip):
        return None
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
