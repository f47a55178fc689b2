"""Precompressed siblings: NAME.br, NAME.gz (and NAME.zst where switched on) beside each output file, where
they pay.

Which encodings exist and how each is made is :mod:`assetpipe.codecs`' registry; this module decides which
siblings a file gets (:class:`CompressionPolicy`) and runs the calls. Where the time goes decides the design
(numbers in docs/compression.md, from benchmarks/bench_compress.py): brotli-11 costs about 1.5 ms per small
file and 1.5 s per MB; zopfli's cost is dominated by its block splitter, so gzip uses the size-dependent
recipe in :data:`assetpipe.codecs.ZOPFLI_RULES`: on the corpus 95.2% of zlib-9's bytes for 1/7 of zopfli-15's
CPU time.

Every call goes through a content-addressed cache (:mod:`assetpipe.cache`), so only bytes never seen with
these exact settings reach a compressor. A cache entry is untrusted input (a CI cache restored from another
branch, an older version's bug): every hit is decoded and must give exactly the file's bytes before it is
used; one that does not is dropped from the cache and the compressor runs. Work runs on a pool of threads,
largest first, while the pipeline is still hashing and writing other files: brotli, zopfli, zlib and zstd
release the GIL, and threads measured faster than processes here (no pickling of inputs and outputs, one
copy of each input in memory).

With a remote cache (:class:`assetpipe.remote.RemoteTier`), a task the local cache misses is first looked
up remotely on a separate pool of I/O threads, so network waits overlap with the compressor calls of other
tasks instead of holding a CPU worker; a remote payload is checked like a local one (it must decode to the
input) before it is used and copied into the local cache, and a compression result is uploaded on the
same I/O pool. Only a task both caches miss reaches the compression queue.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from assetpipe import child
from assetpipe.cache import DEFAULT_MAX_BYTES, Cache
from assetpipe.cache import key as cache_key
from assetpipe.codecs import (
    BROTLI_LGWIN,
    BROTLI_QUALITY,
    CODECS,
    METHODS_VERSION,
    SPLIT_MIN_SIZE,
    ZOPFLI_RULES,
    ZSTD_LEVEL,
    ZSTD_WINDOW_LOG,
    Codec,
    DecodeError,
    Method,
    brotli_compress,
    brotli_method,
    gzip_zlib,
    gzip_zopfli,
    zopfli_rule,
)
from assetpipe.errors import ConfigError, OutputError
from assetpipe.files import write_atomic, write_new
from assetpipe.manifest import Encoding

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    # Config not at run time: the lookup process imports this module, and needs none of it
    from assetpipe.config import Config
    from assetpipe.remote import RemoteStats, RemoteTier

#: Types that are already compressed: a sibling would save nothing and cost a compressor call.
DEFAULT_SKIP_EXTENSIONS: frozenset[str] = frozenset(
    {
        # images
        "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "heif", "jxl",
        # fonts (woff is zlib inside, woff2 brotli)
        "woff", "woff2",
        # archives and compressed streams
        "zip", "gz", "tgz", "bz2", "tbz", "xz", "txz", "zst", "br", "7z", "rar", "lz", "lzma",
        # audio and video
        "mp3", "m4a", "aac", "ogg", "oga", "opus", "flac", "mp4", "m4v", "webm", "mkv", "mov", "avi",
        "wmv", "asf", "flv", "swf", "mpeg", "mpg", "3gp", "3gpp",
    }
)  # fmt: skip

GZIP_BACKENDS = frozenset(CODECS["gzip"].backends)


@dataclass(frozen=True, slots=True)
class CompressionPolicy:
    """Which siblings to make and how; the defaults are reasoned in docs/compression.md.

    One bool per codec, named by its ``config_key`` (checked below), and ``<key>_backend`` for a codec
    with more than one backend.
    """

    brotli: bool = True
    gzip: bool = True
    zstd: bool = False  # opt-in: see docs/compression.md
    gzip_backend: str = "zopfli"  # or "zlib" (level 9): a few % bigger .gz, 50-100x less CPU
    min_size: int = 256
    min_saving: float = 0.05  # keep a sibling only if it is at most 95% of the original
    skip_extensions: frozenset[str] = DEFAULT_SKIP_EXTENSIONS

    def __post_init__(self) -> None:
        if self.gzip_backend not in GZIP_BACKENDS:
            raise ValueError(
                f"gzip_backend must be one of {sorted(GZIP_BACKENDS)}, not {self.gzip_backend!r}"
            )

    def enabled(self, codec: Codec) -> bool:
        """Whether this policy makes ``codec``'s siblings."""
        return bool(getattr(self, codec.config_key))

    def backend(self, codec: Codec) -> str:
        """The backend this policy uses for ``codec`` (its ``<key>_backend`` setting, else its default)."""
        return str(getattr(self, f"{codec.config_key}_backend", codec.default_backend))

    def encodings(self) -> tuple[str, ...]:
        """The encodings this policy makes, in the registry's order."""
        return tuple(name for name, codec in CODECS.items() if self.enabled(codec))

    def applies(self, rel_path: str, size: int) -> bool:
        """Whether a file of this name and size gets siblings at all (before the saving rule)."""
        ext = rel_path.rpartition(".")[2].lower() if "." in rel_path.rpartition("/")[2] else ""
        return size >= self.min_size and ext not in self.skip_extensions

    def keeps(self, original_size: int, compressed_size: int) -> bool:
        """The saving rule: keep a sibling only when it saves at least ``min_saving`` of the original."""
        return compressed_size <= original_size * (1.0 - self.min_saving)

    def fingerprint(self) -> str:
        """A stable string naming everything that decides which siblings exist and their bytes."""
        return ";".join(
            [
                f"br={int(self.brotli)}",
                f"gzip={int(self.gzip)}",
                f"zstd={int(self.zstd)}",
                f"backend={self.gzip_backend}",
                f"min_size={self.min_size}",
                f"min_saving={self.min_saving!r}",
                "skip=" + ",".join(sorted(self.skip_extensions)),
                f"zopfli={ZOPFLI_RULES}",
                f"brotli={BROTLI_QUALITY},{BROTLI_LGWIN}",
                f"zstd_level={ZSTD_LEVEL},{ZSTD_WINDOW_LOG}",
                f"methods={METHODS_VERSION}",
            ]
        )


_POLICY_FIELDS = {f.name for f in fields(CompressionPolicy)}
assert all(c.config_key in _POLICY_FIELDS for c in CODECS.values()), "a codec without a policy switch"


def policy_for(config: Config) -> CompressionPolicy | None:
    """The policy ``config`` asks for, or None when it makes no sibling at all (``compress`` off, or every
    codec switched off). Its :meth:`CompressionPolicy.fingerprint` names every setting that decides the
    siblings, for the build record.
    """
    settings: dict[str, Any] = {c.config_key: bool(getattr(config, c.config_key)) for c in CODECS.values()}
    if not config.compress or not any(settings.values()):
        return None
    for c in CODECS.values():
        if len(c.backends) > 1:
            settings[f"{c.config_key}_backend"] = getattr(config, f"{c.config_key}_backend")
    return CompressionPolicy(**settings, min_size=config.min_size, min_saving=config.min_saving)


# -- recipes ------------------------------------------------------------------------------------------------


def gzip_method(backend: str, size: int) -> Method:
    """The gzip recipe for an input of ``size`` bytes with ``backend``."""
    return CODECS["gzip"].backends[backend].method(size, False)


def is_text(content_type: str) -> bool:
    """Whether brotli's text mode suits this Content-Type (text/*, JSON, XML, SVG, JavaScript)."""
    media = content_type.partition(";")[0].strip().lower()
    return (
        media.startswith("text/")
        or media.endswith(("+json", "+xml", "/json", "/xml"))
        or media in {"application/javascript", "application/ecmascript"}
    )


def method_for(policy: CompressionPolicy, encoding: str, size: int, content_type: str) -> Method:
    """The recipe ``policy`` uses for ``encoding`` of a file of ``size`` bytes and ``content_type``."""
    codec = CODECS[encoding]
    return codec.backends[policy.backend(codec)].method(size, is_text(content_type))


def decodes_to(encoding: str, payload: bytes, data: bytes) -> bool:
    """Whether ``payload`` decodes as ``encoding`` to exactly ``data`` (never reading past its size).

    False too where the codec's library is missing here: what cannot be checked is not used.
    """
    try:
        return CODECS[encoding].decode(payload, len(data)) == data
    except (DecodeError, ConfigError):
        return False


# -- the pool ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompressionStats:
    """Counters of one Compressor, for the build summary and the benchmarks."""

    files: int = 0  # files submitted
    bytes_in: int = 0  # their total size
    encoded_in: Mapping[str, int] = field(default_factory=dict)  # per encoding: size of files given a sibling
    bytes_out: Mapping[str, int] = field(default_factory=dict)  # per encoding: size of those siblings
    siblings_written: int = 0
    siblings_unchanged: int = 0  # already on disk with the same bytes: left alone (mtime fixed if needed)
    cache_hits: int = 0
    cache_misses: int = 0
    cache_rejected: int = 0  # entries that did not decode to their input: dropped, and compressed again
    check_seconds: float = 0.0  # thread CPU seconds spent decoding cache hits to check them
    compressor_calls: int = 0
    compressor_seconds: float = 0.0  # thread CPU seconds inside compressor calls
    by_lookup_process: int = 0  # files whose siblings the lookup process took from the cache and placed
    remote: RemoteStats | None = None  # what the remote cache was asked, when there is one

    def saving(self, encoding: str) -> float:
        """Fraction of the original bytes a sibling saves on average (0.0 when there are none)."""
        size = self.encoded_in.get(encoding, 0)
        return 1.0 - self.bytes_out.get(encoding, 0) / size if size else 0.0


@dataclass(frozen=True, slots=True)
class _Task:
    out_path: str | Path
    rel_path: str
    data: bytes | None  # None: over the memory budget, read back from out_path
    digest: bytes
    size: int
    method: Method
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Job:
    """One file's siblings, as the lookup process takes them: each wanted one from the cache (decoded and
    checked against the file's bytes) put beside the file, and a stale one of each other encoding removed.

    Only names and digests cross the pipe: the process reads the file back (checked against ``digest``)
    from the page cache, where it was written a moment before.
    """

    where: str  # the output, or its staged copy: the siblings go beside it
    rel_path: str
    digest: bytes  # sha256 of the file's bytes
    size: int
    mtime_ns: int
    content_type: str
    wanted: tuple[tuple[str, str], ...]  # (encoding, cache key)
    unwanted: tuple[str, ...]  # encodings this file gets no sibling in: one found there must still be right


@dataclass(frozen=True, slots=True)
class _Answer:
    """What was done for one _Job (in the lookup process, or here)."""

    found: tuple[tuple[str, int, bool | None], ...] = ()  # (encoding, payload size, written; None: not kept)
    missed: tuple[str, ...] = ()  # encodings the cache had no right entry for: to compress
    rejected: tuple[str, ...] = ()  # keys of entries that did not decode to the file's bytes
    check_seconds: float = 0.0
    error: tuple[str, str | None] | None = None  # an OutputError's message and path


@dataclass(frozen=True, slots=True)
class _Setup:
    """What the lookup process is told first."""

    cache_dir: str
    policy: CompressionPolicy
    fsync: bool
    fresh: bool


class _Counters:
    """The mutable side of CompressionStats, guarded by the Compressor's lock."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "calls",
        "check",
        "cpu",
        "encoded_in",
        "files",
        "hits",
        "misses",
        "processed",
        "rejected",
        "unchanged",
        "written",
    )

    def __init__(self) -> None:
        self.files = self.bytes_in = self.hits = self.misses = self.calls = self.rejected = 0
        self.written = self.unchanged = self.processed = 0
        self.cpu = self.check = 0.0
        self.encoded_in: dict[str, int] = {}
        self.bytes_out: dict[str, int] = {}

    def snapshot(self) -> CompressionStats:
        return CompressionStats(
            files=self.files,
            bytes_in=self.bytes_in,
            encoded_in=dict(self.encoded_in),
            bytes_out=dict(self.bytes_out),
            siblings_written=self.written,
            siblings_unchanged=self.unchanged,
            cache_hits=self.hits,
            cache_misses=self.misses,
            cache_rejected=self.rejected,
            check_seconds=self.check,
            compressor_calls=self.calls,
            compressor_seconds=self.cpu,
            by_lookup_process=self.processed,
        )


def default_jobs() -> int:
    """CPUs this process may run on (the affinity mask, where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


#: Inputs held in memory while waiting for a worker, summed over tasks; past it a task re-reads its file.
MAX_PENDING_BYTES = 4 * 1024 * 1024
#: Estimated working memory of the compressor calls running at once (:func:`working_memory`). Two workers
#: on the two biggest files would push a 1x-corpus build past 150 MB, so a call that does not fit waits and
#: the worker takes the largest one that does (while a 5 MB JSON's brotli call runs, files up to about
#: 600 KB still fit beside it).
MAX_RUNNING_MEMORY = 72 * 1024 * 1024


def _malloc_trim() -> Callable[[], object]:
    """glibc's malloc_trim(0), or a no-op where there is none."""
    import ctypes  # here, not at import: a build that compresses nothing never needs it

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: libc's, without a search
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


@functools.cache
def _trimmer() -> Callable[[], object]:
    return _malloc_trim() if sys.platform.startswith("linux") else (lambda: None)


def release_memory() -> None:
    """After a big call, hand its freed working memory back to the OS: glibc keeps freed pages in each
    thread's arena, so without this a build's RSS stays at its peak (measured: 143 MB while compressing
    small files)."""
    _trimmer()()


#: Calls on inputs at least this big are followed by release_memory(). Each release makes the next calls
#: fault their working memory in again: after every call over 64 KB that cost 2 CPU s of page faults on
#: the 1x corpus (405,000 faults against 119,000 without); after calls over 256 KB, 223,000 with a peak of
#: 125 MB; after calls over 1 MB, 140,000 but peaks up to 145 MB, too near the 150 MB target.
RELEASE_AFTER_SIZE = 256 * 1024


def working_memory(encoding: str, compressor: str, size: int) -> int:
    """Peak memory of one compressor call on ``size`` bytes: the codec registry's measured model.

    Overestimating only costs parallelism, underestimating costs the memory bound, so the figures there
    are rounded up from ru_maxrss measurements.
    """
    return CODECS[encoding].backends[compressor].working_memory(size)


class Compressor:
    """Writes siblings for submitted files on a pool of threads, largest first; use as a context manager.

    ``submit`` returns at once: compression overlaps with whatever the caller does next (hashing and
    writing other files). ``results`` waits for everything submitted so far and raises the first error.
    Siblings are written atomically but not fsynced one by one (``fsync=False``): the caller syncs once
    before it writes the manifest, which is far cheaper than thousands of fsyncs.

    Cache hits of a large build go to a lookup process (see ``_by_lookups``): ``expected`` is how many
    files the caller may submit (an upper bound is fine); ``lookups`` True or False starts it at the first
    file or never (tests), None lets the measured rules decide.
    """

    def __init__(
        self,
        policy: CompressionPolicy,
        *,
        cache_dir: Path | None,
        jobs: int | None,
        fsync: bool = False,
        max_cache_bytes: int = DEFAULT_MAX_BYTES,
        remote: RemoteTier | None = None,
        fresh: bool = False,
        expected: int = 0,
        lookups: bool | None = None,
    ) -> None:
        self.policy = policy
        self.fresh = fresh  # write siblings whose names are free in place (files.write_new): OUT is new
        self.cache = Cache(cache_dir) if cache_dir is not None else None
        self.remote = remote
        self._io: ThreadPoolExecutor | None = None  # remote lookups and uploads, started at the first submit
        self.max_cache_bytes = max_cache_bytes
        self.fsync = fsync
        self._jobs = jobs if jobs is not None else default_jobs()
        self._cond = threading.Condition()
        # Sorted by (-size, seq): largest first, then submission order.
        self._queue: list[tuple[int, int, _Task]] = []
        self._running_memory = 0
        self._seq = 0
        self._pending = 0
        self._pending_bytes = 0
        self._closing = False
        self._error: BaseException | None = None
        self._results: dict[str, dict[str, Encoding]] = {}
        self._compressed: set[str] = set()
        self._fetched: set[str] = set()
        self._counters = _Counters()
        self._threads: list[threading.Thread] = []
        self._cancelled = False
        self._lookups_tried = lookups is False
        self._lookups_wanted = lookups
        self._expected = expected
        self._looked_up = 0  # local cache lookups, for the decision to start the lookup process
        # The lookup process, once started; its jobs are queued, sent in batches and answered in order.
        self._lookups: subprocess.Popen[bytes] | None = None
        self._lookups_alive = False
        self._lookups_reader: threading.Thread | None = None
        self._unsent: deque[_Job] = deque()
        self._sent: deque[tuple[list[_Job], int]] = deque()  # sent, not answered yet: (batch, message bytes)
        self._sent_bytes = 0
        self._send_lock = threading.Lock()
        self._draining = False  # results() was called: a last, partial batch may go

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Compressor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(cancel=exc is not None)

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers after the queued work (or drop the queue with ``cancel``) and join them.

        The cache's staged small entries are then written as a pack, and a build that added entries prunes
        the cache to ``max_cache_bytes`` (least recently used first), so the cache stays bounded without a
        separate command; a no-op build never walks it.
        """
        with self._cond:
            if cancel:
                self._pending -= len(self._queue)
                self._queue.clear()
                self._cancelled = True
            self._closing = True
            self._cond.notify_all()
        self._stop_lookups()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        if self._io is not None:
            # Uploads finish (each is bounded by the remote's timeouts, and a failing remote is off at once).
            self._io.shutdown(wait=True, cancel_futures=cancel)
            self._io = None
        if self.remote is not None:
            self.remote.flush()  # the build's small entries as one pack object
        if self.cache is not None:
            self.cache.flush()  # staged small entries become one pack (after a cancel too: they are sound)
            if self._counters.misses and not cancel:
                self.cache.prune(self.max_cache_bytes)

    def _start_workers(self) -> None:
        """Start the compression threads (the caller holds the lock), at the first cache miss: a build
        whose siblings all come from the cache never starts one."""
        for encoding in self.policy.encodings():
            # The codecs import their libraries on first use; two threads importing zopfli.zopfli at once
            # race ("cannot access submodule 'zopfli' of module 'zopfli'"), so import them here, first.
            decodes_to(encoding, method_for(self.policy, encoding, 0, "text/plain").run(b""), b"")
        for i in range(self._jobs):
            thread = threading.Thread(target=self._work, name=f"assetpipe-compress-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _start_io(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from assetpipe.remote import CONNECTIONS

        self._io = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="assetpipe-remote")

    # -- the caller's side -------------------------------------------------------------------------
    def submit(
        self, out_path: str | Path, rel_path: str, data: bytes, content_type: str, mtime_ns: int
    ) -> None:
        """Queue the siblings of ``out_path`` (already written, with ``data`` as its bytes)."""
        size = len(data)
        wanted = self.policy.encodings() if self.policy.applies(rel_path, size) else ()
        with self._cond:
            if self._closing:
                raise RuntimeError("Compressor is closed")
            self._counters.files += 1
            self._counters.bytes_in += size
            self._results[rel_path] = {}
        if self._by_lookups():
            self._hand_over(out_path, rel_path, data, content_type, mtime_ns, wanted)
            return
        for encoding in CODECS:
            if encoding not in wanted:
                # No sibling this time: one that is there from an earlier build must still be right.
                _remove_stale_sibling(_sibling(out_path, encoding), data, encoding)
        if not wanted:
            return
        digest = hashlib.sha256(data).digest()
        tasks: list[_Task] = []
        with self._cond:
            if self._closing:
                raise RuntimeError("Compressor is closed")
            if self.remote is not None and self._io is None:
                self._start_io()
            for encoding in wanted:
                keep = self._pending_bytes + size <= MAX_PENDING_BYTES
                if keep:
                    self._pending_bytes += size
                method = method_for(self.policy, encoding, size, content_type)
                task = _Task(out_path, rel_path, data if keep else None, digest, size, method, mtime_ns)
                tasks.append(task)
                self._pending += 1
        for task in tasks:
            if self._io is not None:
                self._io.submit(self._look_up, task)  # both caches first, off the CPU workers
            elif self.cache is not None:
                # A local hit (a read, a decode check, a write) is done here, on the caller's thread. On a
                # worker it cost more than it saved: the two threads took turns at the GIL for every small
                # step. Measured on a build into an empty OUT with a warm cache (1x corpus, 2 vCPUs): 16.5 s
                # with the lookups on two workers, 8.6 s on one.
                self._look_up(task, inline=True)
            else:
                with self._cond:
                    self._enqueue(task)
                    self._cond.notify_all()

    # -- the lookup process -------------------------------------------------------------------------
    # A build into an empty OUT with a warm cache (CI with a restored cache) is thousands of small steps per
    # file: read the entry, decode it and compare with the file's bytes, create the sibling, set its mtime.
    # On the caller's thread they took a third of that build; on threads they fought the caller for the GIL
    # (slower than inline, measured). A child process takes them while the caller emits and writes the
    # outputs; when the caller is done emitting it takes a share of what is left (see results()). Measured
    # on the 1x corpus (2,530 files, 2 vCPUs, OUT on a tmpfs, 4 alternating runs each): 1.8-2.4 s against
    # 2.4-3.1 s with the hits on the caller's thread. It costs CPU (0.2 s to start, and it reads each file
    # back): with the other CPU busy (load average 3 on this VM) it was 0.1-0.6 s slower instead.
    def _by_lookups(self) -> bool:
        """Whether this file's siblings go through the lookup process (started here when it pays)."""
        if self._lookups_tried:
            return self._lookups is not None
        if self.cache is None or self.remote is not None or self._jobs < 2:
            return False
        with self._cond:
            if self._lookups_tried:  # another thread submitting at the same time
                return self._lookups is not None
            files, hits, looked_up = self._counters.files, self._counters.hits, self._looked_up
            # Only for many files where the cache is likely to answer: a few files would not win back the
            # process's start (0.2 s of CPU, and as long before its first answer), and a cold build would
            # look its misses up twice. Into an empty OUT (CI with a restored cache) from the first file
            # when the cache has packs; else once LOOKUP_PROCESS_AFTER files found at least half of their
            # siblings in it.
            start = bool(self._lookups_wanted) or (
                files == 1 and self.fresh and self._expected > LOOKUP_PROCESS_AFTER and self.cache.packed()
            )
            start = start or (files > LOOKUP_PROCESS_AFTER and 2 * hits >= looked_up > 0)
            self._lookups_tried = start
        if start:
            self._start_lookups()
        return self._lookups is not None

    def _start_lookups(self) -> None:
        """Start the lookup process (once: see _by_lookups); where it cannot, the caller does its work as
        before."""
        assert self.cache is not None
        proc = child.spawn("assetpipe.compress._serve_lookups")
        if proc is None:
            return
        assert proc.stdin is not None
        try:
            setup = _Setup(str(self.cache.root), self.policy, self.fsync, self.fresh)
            pickle.dump(setup, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
        except (OSError, ValueError):
            child.stop(proc)
            return
        with self._cond:
            self._lookups, self._lookups_alive = proc, True
        self._lookups_reader = threading.Thread(
            target=self._read_answers, args=(proc,), name="assetpipe-lookups", daemon=True
        )
        self._lookups_reader.start()

    def _hand_over(
        self, out_path: str | Path, rel_path: str, data: bytes, content_type: str, mtime_ns: int,
        wanted: tuple[str, ...],
    ) -> None:  # fmt: skip
        """Queue the file's siblings for the lookup process (its bytes are not kept: it reads them back)."""
        size = len(data)
        digest = hashlib.sha256(data).digest()
        keys = []
        for encoding in wanted:
            method = method_for(self.policy, encoding, size, content_type)
            keys.append((encoding, cache_key(digest, method.compressor, method.settings)))
        unwanted = tuple(e for e in CODECS if e not in wanted)
        job = _Job(str(out_path), rel_path, digest, size, mtime_ns, content_type, tuple(keys), unwanted)
        with self._cond:
            self._pending += 1 + len(keys)  # the job, and each sibling until it is placed or compressed
            self._unsent.append(job)
        self._pump()

    def _task(self, job: _Job, encoding: str) -> _Task:
        """The compression task for a sibling of ``job`` the cache had no right entry for."""
        method = method_for(self.policy, encoding, job.size, job.content_type)
        return _Task(job.where, job.rel_path, None, job.digest, job.size, method, job.mtime_ns)

    def _pump(self, *, partial: bool = False, wait: bool = True) -> None:
        """Send whole batches (``partial``: a last, smaller one too) while less than LOOKUP_PIPE_BYTES of
        them wait for answers. The caller pumps at each file; the reader at each answer, unless the caller
        is sending (``wait`` False: the reader must never block, or the process could block on answers)."""
        proc = self._lookups
        if proc is None or proc.stdin is None or not self._send_lock.acquire(blocking=wait):
            return
        try:  # batches go down the pipe in the order they are booked in _sent
            while True:
                with self._cond:
                    if not self._lookups_alive or self._sent_bytes >= LOOKUP_PIPE_BYTES:
                        return
                    if len(self._unsent) < (1 if partial else LOOKUP_BATCH):
                        return
                    batch = [self._unsent.popleft() for _ in range(min(LOOKUP_BATCH, len(self._unsent)))]
                    message = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
                    self._sent.append((batch, len(message)))
                    self._sent_bytes += len(message)
                try:
                    proc.stdin.write(message)
                    proc.stdin.flush()
                except (OSError, ValueError):
                    return  # it is gone: its reader does here what it had not answered, at its end of file
        finally:
            self._send_lock.release()

    def _take_share(self) -> None:
        """The caller, done submitting, does queued jobs itself (the last first) while the process does the
        rest, or all of them if the process is gone."""
        while True:
            with self._cond:
                if not self._unsent or self._error is not None:
                    return
                job = self._unsent.pop()
            self._serve_here(job, None)
            self._pump(partial=True)

    def _read_answers(self, proc: subprocess.Popen[bytes]) -> None:
        """The reader thread: book each batch's answers; when the process ends (or says something that is
        not a whole answer), what it had not answered is done here."""
        assert proc.stdout is not None
        try:
            while (answered := self._next_answers(proc.stdout)) is not None:
                self._pump(partial=self._draining, wait=False)
                for job, answer in answered:
                    self._book(job, answer, processed=True)
        except BaseException as exc:  # a bug here: the build fails with it rather than wait for ever
            self._fail(exc)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with self._cond:
            self._lookups_alive = False
            left = [job for batch, _ in self._sent for job in batch]
            self._sent.clear()
            self._sent_bytes = 0
            cancelled = self._cancelled
        for job in left:
            if cancelled:
                with self._cond:
                    self._pending -= 1 + len(job.wanted)
                    self._cond.notify_all()
            else:
                self._serve_here(job, None)

    def _next_answers(self, stream: IO[bytes]) -> list[tuple[_Job, _Answer]] | None:
        """The next batch with its answers, or None at the process's end of file (it ended, or died) or
        when what it sent is not a whole batch of answers: it is used no more."""
        try:
            answers = pickle.load(stream)
        except Exception:
            return None
        with self._cond:
            batch, size = self._sent[0] if self._sent else ([], 0)
            if not isinstance(answers, list) or len(answers) != len(batch):
                return None
            self._sent.popleft()
            self._sent_bytes -= size
        return [
            (job, answer if isinstance(answer, _Answer) else _Answer(missed=tuple(e for e, _ in job.wanted)))
            for job, answer in zip(batch, answers, strict=True)
        ]

    def _serve_here(self, job: _Job, data: bytes | None) -> None:
        """Do ``job`` on this thread (what the lookup process would have done) and book it."""
        assert self.cache is not None
        try:
            answer = _serve(self.cache, job, data, self.policy, fsync=self.fsync, fresh=self.fresh)
            self._book(job, answer)
        except BaseException as exc:  # handed to the caller by results(), as a worker's are
            self._fail(exc)
            if not isinstance(exc, Exception) and threading.current_thread() is threading.main_thread():
                raise

    def _fail(self, exc: BaseException) -> None:
        """Hand ``exc`` to results() (the first error wins) and wake it."""
        with self._cond:
            if self._error is None:
                self._error = exc
            self._cond.notify_all()

    def _book(self, job: _Job, answer: _Answer, *, processed: bool = False) -> None:
        """Take ``answer`` for ``job`` (``processed``: the lookup process's): results and counters, rejected
        entries dropped, misses queued to compress."""
        if self.cache is not None:
            for entry_key in answer.rejected:
                self.cache.discard(entry_key)
        with self._cond:
            counters = self._counters
            counters.processed += processed
            counters.check += answer.check_seconds
            counters.rejected += len(answer.rejected)
            self._pending -= 1 + len(answer.found)
            if answer.error is not None:
                if self._error is None:
                    self._error = OutputError(answer.error[0], path=answer.error[1])
                self._cond.notify_all()
                return
            counters.hits += len(answer.found)
            if answer.found:
                self._fetched.add(job.rel_path)
            placed = self._results.setdefault(job.rel_path, {})
            for encoding, size, written in answer.found:
                sibling = self._count_sibling(encoding, job.rel_path, job.size, size, written)
                if sibling is not None:
                    placed[encoding] = sibling
            for encoding in answer.missed:
                if self._cancelled:
                    self._pending -= 1
                else:
                    self._enqueue(self._task(job, encoding))
            self._cond.notify_all()

    def _stop_lookups(self) -> None:
        """Let the process answer what it has and end (its end of file), and join its reader."""
        proc = self._lookups
        if proc is None:
            return
        assert proc.stdin is not None
        with self._send_lock:
            try:
                proc.stdin.close()  # it answers what it has, marks the packs it used, and ends
            except OSError:
                pass
        if self._lookups_reader is not None:
            self._lookups_reader.join()
        with self._cond:
            left, self._unsent = list(self._unsent), deque()
        for job in left:  # close() without results(): done here (after a cancel, dropped)
            if self._cancelled:
                with self._cond:
                    self._pending -= 1 + len(job.wanted)
            else:
                self._serve_here(job, None)

    def _enqueue(self, task: _Task) -> None:
        """Queue ``task`` for a compression worker (the caller holds the lock)."""
        # Largest first (then submission order): the big files decide when the pool is done.
        bisect.insort(self._queue, (-task.size, self._seq, task), key=lambda item: item[:2])
        self._seq += 1
        if not self._threads:
            self._start_workers()

    def results(self, progress: Callable[[int], None] | None = None) -> dict[str, dict[str, Encoding]]:
        """Wait for every submitted file: rel_path -> {encoding: Encoding} for the siblings kept.

        ``progress`` is told how many files are still waiting, about ten times a second, for a bar.
        """
        if self._lookups is not None:
            self._draining = True
            self._pump(partial=True)
            self._take_share()
        with self._cond:
            while self._pending and self._error is None:
                if progress is None:
                    self._cond.wait()
                else:
                    progress(self._pending)
                    self._cond.wait(timeout=0.1)
            if self._error is not None:
                raise self._error
            return {rel: dict(encs) for rel, encs in self._results.items()}

    @property
    def compressed(self) -> frozenset[str]:
        """The rel_paths that needed a compressor call."""
        with self._cond:
            return frozenset(self._compressed)

    @property
    def fetched(self) -> frozenset[str]:
        """The rel_paths that had a sibling from the cache."""
        with self._cond:
            return frozenset(self._fetched)

    @property
    def stats(self) -> CompressionStats:
        with self._cond:
            snapshot = self._counters.snapshot()
        return replace(snapshot, remote=self.remote.stats) if self.remote is not None else snapshot

    # -- the workers' side -------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while (index := self._next_index()) is None and (self._queue or not self._closing):
                    self._cond.wait()
                if index is None:
                    return
                _, _, task = self._queue.pop(index)
                memory = working_memory(task.method.encoding, task.method.compressor, task.size)
                self._running_memory += memory
            encoding: Encoding | None = None
            error: BaseException | None = None
            try:
                encoding = self._run(task)
            except BaseException as exc:  # handed to the caller by results()
                error = exc
            if task.size >= RELEASE_AFTER_SIZE:
                release_memory()
            with self._cond:
                self._running_memory -= memory
                self._done(task, encoding, error)

    def _done(self, task: _Task, encoding: Encoding | None, error: BaseException | None) -> None:
        """Book a finished task (the caller holds the lock)."""
        self._pending -= 1
        if task.data is not None:
            self._pending_bytes -= task.size
        if error is not None:
            if self._error is None:
                self._error = error
        elif encoding is not None:
            self._results.setdefault(task.rel_path, {})[task.method.encoding] = encoding
        self._cond.notify_all()

    def _look_up(self, task: _Task, *, inline: bool = False) -> None:
        """Finish ``task`` from the local or the remote cache, else queue it to compress.

        Run on an I/O thread (a remote is configured), or ``inline`` on the caller's: there an interrupt
        (Ctrl-C) goes to the caller at once, other errors to ``results()`` as a worker's do.
        """
        try:
            data = _read_task(task)
            method = task.method
            entry_key = cache_key(task.digest, method.compressor, method.settings)
            payload = self._cached(entry_key, method.encoding, data)
            if payload is None and self.remote is not None:
                payload = self._remote_cached(entry_key, method.encoding, data)
            if payload is None:
                with self._cond:
                    self._enqueue(task)
                    self._cond.notify_all()
                return
            encoding = self._finish(task, data, payload)
        except BaseException as exc:  # handed to the caller by results()
            with self._cond:
                self._done(task, None, exc)
            if inline and not isinstance(exc, Exception):
                raise
            return
        with self._cond:
            self._fetched.add(task.rel_path)
            self._done(task, encoding, None)

    def _remote_cached(self, entry_key: str, encoding: str, data: bytes) -> bytes | None:
        """The remote payload for ``entry_key`` if it decodes to exactly ``data`` (then kept locally too)."""
        assert self.remote is not None
        payload = self.remote.get(entry_key)
        if payload is None:
            return None
        start = time.thread_time()
        good = decodes_to(encoding, payload, data)
        cpu = time.thread_time() - start
        self.remote.verified(good, "an entry did not decompress to its input")
        with self._cond:
            self._counters.check += cpu
        if not good:
            return None  # never used, never copied into the local cache
        if self.cache is not None:
            self.cache.stage(entry_key, payload)
        return payload

    def _next_index(self) -> int | None:
        """The largest queued task whose working memory fits beside the running ones (any, if none run)."""
        if not self._queue:
            return None
        if self._running_memory == 0:
            return 0
        room = MAX_RUNNING_MEMORY - self._running_memory
        for index, (_, _, task) in enumerate(self._queue):
            if working_memory(task.method.encoding, task.method.compressor, task.size) <= room:
                return index
        return None

    def _run(self, task: _Task) -> Encoding | None:
        """Compress (or fetch from the cache) one sibling, decide whether it pays, put it on disk."""
        data = _read_task(task)
        method = task.method
        entry_key = cache_key(task.digest, method.compressor, method.settings)
        # Asked again even when looked up at submit: a file with the same bytes as one compressed since
        # (vendor trees repeat files) finds its entry staged in the cache by now.
        payload = self._cached(entry_key, method.encoding, data)
        if payload is not None:
            with self._cond:
                self._fetched.add(task.rel_path)
        else:
            start = time.thread_time()
            try:
                payload = method.run(data)
            except Exception as exc:
                raise OutputError(f"{method.compressor} failed: {exc}", path=task.rel_path) from exc
            cpu = time.thread_time() - start
            if self.cache is not None:
                self.cache.stage(entry_key, payload)
            self._upload(entry_key, payload)
            with self._cond:
                self._compressed.add(task.rel_path)
                self._counters.misses += 1
                self._counters.calls += 1
                self._counters.cpu += cpu
        return self._finish(task, data, payload)

    def _upload(self, entry_key: str, payload: bytes) -> None:
        """Send a compression result to the remote too, on the I/O pool (content-addressed: idempotent)."""
        if self.remote is None or self._io is None or not self.remote.available:
            return
        try:
            self._io.submit(self.remote.put, entry_key, payload)
        except RuntimeError:
            pass  # the pool is shutting down (a cancelled build): the remote is only an optimisation

    def _finish(self, task: _Task, data: bytes, payload: bytes) -> Encoding | None:
        """Decide whether ``payload`` pays and put it beside the output (or remove a stale sibling)."""
        written = _put(
            self.policy, task.out_path, task.size, data, payload, task.method.encoding, task.mtime_ns,
            fsync=self.fsync, fresh=self.fresh,
        )  # fmt: skip
        with self._cond:
            return self._count_sibling(task.method.encoding, task.rel_path, task.size, len(payload), written)

    def _count_sibling(
        self, encoding: str, rel_path: str, input_size: int, size: int, written: bool | None
    ) -> Encoding | None:
        """Count a sibling of ``size`` bytes put in place (``written`` None: it did not pay) and name it for
        the manifest (the caller holds the lock)."""
        if written is None:
            return None
        counters = self._counters
        counters.encoded_in[encoding] = counters.encoded_in.get(encoding, 0) + input_size
        counters.bytes_out[encoding] = counters.bytes_out.get(encoding, 0) + size
        if written:
            counters.written += 1
        else:
            counters.unchanged += 1
        return Encoding(path=rel_path + CODECS[encoding].suffix, size=size)

    def _cached(self, entry_key: str, encoding: str, data: bytes) -> bytes | None:
        """The cache's payload for ``entry_key`` if it decodes to exactly ``data`` (:func:`_checked`); a
        wrong one is dropped."""
        if self.cache is None:
            return None
        payload, rejected, cpu = _checked(self.cache, entry_key, encoding, data)
        if rejected:
            self.cache.discard(entry_key)
        with self._cond:
            self._looked_up += 1
            self._counters.check += cpu
            self._counters.hits += payload is not None
            self._counters.rejected += rejected
        return payload


#: The lookup process starts once this many files were submitted, if the cache answered at least half of
#: their lookups so far (a cold build, whose lookups all miss, never starts it).
LOOKUP_PROCESS_AFTER = 64
#: Jobs sent to the lookup process in one message (fewer, larger writes and wake-ups on both sides).
LOOKUP_BATCH = 32
#: Batches are sent while less than this many bytes of them wait for answers (about 100 jobs): enough to
#: keep the process busy, and half of a Linux pipe, so the caller's writes do not wait for the process.
LOOKUP_PIPE_BYTES = 32 * 1024

#: The lookup process's program. Ctrl-C is the build's to handle (it then closes the pipe); sys.path is
#: the build's, sent first, so the process imports the very assetpipe the build runs.
def _serve_lookups(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The lookup process: a _Setup, then batches of _Job until end of file, each answered in order."""
    child.serve_start(requests)  # dies with the build; the answers own stdout
    setup = pickle.load(requests)
    assert isinstance(setup, _Setup)
    cache = Cache(Path(setup.cache_dir))
    while True:
        try:
            jobs = pickle.load(requests)
        except EOFError:
            break
        done = [_serve(cache, job, None, setup.policy, fsync=setup.fsync, fresh=setup.fresh) for job in jobs]
        pickle.dump(done, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
    cache.flush()  # marks the packs it read from as used, for prune()


def _serve(
    cache: Cache, job: _Job, data: bytes | None, policy: CompressionPolicy, *, fsync: bool, fresh: bool
) -> _Answer:
    """Do ``job``: each wanted sibling taken from ``cache`` (:func:`_checked`) and put beside the file,
    and a stale sibling of each other encoding removed. ``data`` None: the file is read back (and checked
    against the job's digest) when needed. An OutputError is part of the answer; so are the keys of the
    entries that failed their check, for the caller to discard."""
    out_path = job.where  # a str: this runs thousands of times, and pathlib's parsing cost a tenth of it
    found: list[tuple[str, int, bool | None]] = []
    missed: list[str] = []
    rejected: list[str] = []
    check = 0.0
    try:
        for encoding in job.unwanted:
            target = _sibling(out_path, encoding)
            if os.path.isfile(target):  # only then are the file's bytes needed
                if data is None:
                    data = _read_back(out_path, job.rel_path, job.digest)
                _remove_stale_sibling(target, data, encoding)
        if job.wanted and data is None:
            data = _read_back(out_path, job.rel_path, job.digest)
        for encoding, entry_key in job.wanted:
            assert data is not None
            payload, bad, cpu = _checked(cache, entry_key, encoding, data)
            check += cpu
            if bad:
                rejected.append(entry_key)
            if payload is None:
                missed.append(encoding)
                continue
            written = _put(
                policy, out_path, job.size, data, payload, encoding, job.mtime_ns, fsync=fsync, fresh=fresh
            )
            found.append((encoding, len(payload), written))
    except OutputError as exc:
        return _Answer(rejected=tuple(rejected), check_seconds=check, error=(exc.message, exc.path))
    return _Answer(tuple(found), tuple(missed), tuple(rejected), check)


def _checked(cache: Cache, entry_key: str, encoding: str, data: bytes) -> tuple[bytes | None, bool, float]:
    """The cache's payload for ``entry_key`` if it decodes to exactly ``data``, whether there was one that
    did not (rejected), and the thread CPU seconds the check took.

    An entry can be intact (its digest matches) and still not be this input's compression: an older
    version's bug, or a CI cache restored from another branch. Decoding is cheap next to compressing
    (docs/compression.md), and copying a wrong entry would serve other bytes than the manifest's
    integrity describes.
    """
    payload = cache.get(entry_key)
    if payload is None:
        return None, False, 0.0
    start = time.thread_time()
    good = decodes_to(encoding, payload, data)
    cpu = time.thread_time() - start
    return (payload, False, cpu) if good else (None, True, cpu)


def _put(
    policy: CompressionPolicy, out_path: str | Path, size: int, data: bytes, payload: bytes, encoding: str,
    mtime_ns: int, *, fsync: bool, fresh: bool,
) -> bool | None:  # fmt: skip
    """Put ``payload`` beside ``out_path`` as its ``encoding`` sibling if it pays: True when written, False
    when it was there already; None when it does not pay (one there that is not right is removed)."""
    target = _sibling(out_path, encoding)
    if not policy.keeps(size, len(payload)):
        _remove_stale_sibling(target, data, encoding)
        return None
    return _place(target, payload, mtime_ns, fsync=fsync, fresh=fresh)


def _sibling(out_path: str | Path, encoding: str) -> str:
    return f"{out_path}{CODECS[encoding].suffix}"


def _read_task(task: _Task) -> bytes:
    """A task's bytes: kept in memory, or read back."""
    return task.data if task.data is not None else _read_back(task.out_path, task.rel_path, task.digest)


def _read_back(path: str | Path, rel_path: str, digest: bytes) -> bytes:
    """The bytes of a file that were not kept in memory, checked against the digest taken at submit."""
    try:
        data = _read(path)
    except OSError as exc:
        raise OutputError(f"cannot read back for compression: {exc.strerror or exc}", path=rel_path) from exc
    if hashlib.sha256(data).digest() != digest:
        raise OutputError("changed on disk while waiting to be compressed", path=rel_path)
    return data


def _read(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _place(target: str, payload: bytes, mtime_ns: int, *, fsync: bool, fresh: bool = False) -> bool:
    """Write ``payload`` to ``target`` unless it is there already; True when written.

    An unchanged sibling is not rewritten, so its inode, ETag and Last-Modified stay as they were; only its
    mtime is set to the original's if it differs. ``fresh``: a free name is written in place (write_new).
    """
    if fresh and not fsync and write_new(target, payload, mtime_ns=mtime_ns) is not None:
        return True
    try:
        st = os.stat(target)
        same = st.st_size == len(payload) and _read(target) == payload
    except OSError:
        same = False
    if not same:
        write_atomic(Path(target), payload, mtime_ns=mtime_ns, fsync=fsync)
        return True
    if st.st_mtime_ns != mtime_ns:
        try:
            os.utime(target, ns=(mtime_ns, mtime_ns))
        except OSError as exc:
            raise OutputError(f"cannot set mtime: {exc.strerror or exc}", path=str(target)) from exc
    return False


def _remove_stale_sibling(target: str, data: bytes, encoding: str) -> None:
    """Remove a sibling left by an earlier build unless it still decompresses to ``data``.

    Servers pick NAME.gz/NAME.br by existence (gzip_static, precompressed), not from the manifest: a stale
    one for a file whose bytes changed under the same name (an unhashed file) would serve old content.
    """
    try:
        if not os.path.isfile(target):
            return
        current = _read(target)
    except OSError:
        return
    if decodes_to(encoding, current, data):
        return
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(f"cannot remove stale sibling: {exc.strerror or exc}", path=str(target)) from exc


__all__ = [
    "DEFAULT_SKIP_EXTENSIONS",
    "SPLIT_MIN_SIZE",
    "ZOPFLI_RULES",
    "CompressionPolicy",
    "CompressionStats",
    "Compressor",
    "Method",
    "brotli_compress",
    "brotli_method",
    "decodes_to",
    "gzip_method",
    "gzip_zlib",
    "gzip_zopfli",
    "is_text",
    "method_for",
    "policy_for",
    "working_memory",
    "zopfli_rule",
]
