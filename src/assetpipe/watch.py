"""``assetpipe watch``: one build, then an incremental rebuild for every burst of changes under SRC and
the mounts.

Two halves with a seam between them. ``watch_loop`` is the library loop: it takes any iterable of change
batches (logical paths) and runs one build per batch, keeping the BuildState in memory so a rebuild stats
every file but reads and rewrites only what changed and what references it. ``run_watch`` feeds it from
watchdog: events are filtered (OUT, the cache, the snippets directory, dotfiles and temp files never
count), named by logical path (a mounted file by its mount's prefix), gathered into a batch until the
trees have been quiet for the debounce window, and handed over. SRC has one watch, and so has each mount
outside SRC and outside every other mount; the mounts are looked at again after each build, since an
``npm install`` can change which packages ``importmap_packages`` mounts, or replace a mounted folder.

Every build goes through ``pipeline.build`` and so takes OUT's lock and writes the manifest last: a broken
edit is reported and leaves the previous manifest and its files in place, and the next good save recovers.
"""

from __future__ import annotations

import errno
import os
import queue
import signal
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from assetpipe.builds import build_id, remove_record
from assetpipe.config import ALWAYS_EXCLUDED, Config, Mount
from assetpipe.errors import AssetpipeError
from assetpipe.files import ensure_directory
from assetpipe.importmap import load as load_importmap
from assetpipe.layout import STATE_DIR
from assetpipe.livereload import Announcer, LiveReloadServer
from assetpipe.manifest import MANIFEST_NAME, Manifest
from assetpipe.paths import is_hidden, logical_path, resolve_path
from assetpipe.patterns import PathSet, path_set
from assetpipe.pipeline import BuildReport, build
from assetpipe.state import BuildState, save_state, state_path

#: Seconds SRC must stay quiet before a batch is built: long enough to gather an editor's temp-file-and-
#: rename save or a checkout's burst into one rebuild, short enough not to be felt.
DEFAULT_DEBOUNCE = 0.05
#: However busy SRC stays (a process appending to a file under it), a batch is built after this long.
MAX_BATCH_SECONDS = 2.0
#: How often an idle loop looks at the stop flag; only bounds how long a stop takes, not a rebuild.
_POLL_SECONDS = 0.1
#: Paths named in a rebuild line before it says "N files" instead.
_NAMED_PATHS = 3


# -- which paths count -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MountedTree:
    """A mount as the watcher sees it: its real folder, its logical prefix and its own filters."""

    directory: Path  # resolved
    prefix: str  # "vendor/lit/"
    include: PathSet
    exclude: PathSet
    package: bool = False  # mounted by importmap_packages: its package.json shapes the import map

    @classmethod
    def of(cls, mount: Mount, *, package: bool = False) -> MountedTree:
        return cls(
            directory=resolve_path(mount.directory, f"mount {mount.prefix!r}"),
            prefix=mount.prefix,
            include=path_set(mount.include),
            exclude=path_set(mount.exclude),
            package=package,
        )


@dataclass(frozen=True, slots=True)
class PathFilter:
    """Maps an absolute path from the watcher to the logical paths it stands for: none if it can't matter.

    It mirrors sources.scan: what the build would never read never triggers a rebuild, above all OUT and
    the cache, whose writes would otherwise set off a rebuild after every rebuild. A path under SRC and a
    mount (a mount inside SRC) stands for a logical path in each that publishes it.
    """

    source: Path
    skip_dirs: tuple[Path, ...]
    include: PathSet
    exclude: PathSet
    mounts: tuple[MountedTree, ...] = ()

    def changed(self, path: str, *, is_directory: bool) -> list[str]:
        """The batch entries for an event at ``path``: logical paths, directories ending in '/'."""
        absolute = Path(path)
        if any(absolute.is_relative_to(d) for d in self.skip_dirs):
            return []
        found: list[str] = []
        relative = logical_path(absolute, self.source)
        if relative and self._counts("", relative, is_directory):  # "": SRC itself, None: outside it
            found.append(relative + "/" if is_directory else relative)
        for mount in self.mounts:
            relative = logical_path(absolute, mount.directory)
            if relative is None:
                continue
            if relative == "" or (mount.package and relative == "package.json"):
                # The mount's folder itself (removed, moved away), or what the import map is read from:
                # news for the whole mount.
                found.append(mount.prefix)
            elif self._counts(mount.prefix, relative, is_directory, mount):
                found.append(mount.prefix + relative + ("/" if is_directory else ""))
        return found

    def _counts(
        self, prefix: str, relative: str, is_directory: bool, mount: MountedTree | None = None
    ) -> bool:
        # Dot names (and with them write_atomic's .assetpipe-tmp-* and most editors' temp files) are never
        # published: the rule sources.scan applies, with its .well-known exception.
        if is_hidden(relative):
            return False
        if is_directory:
            # A directory can't be judged by the file patterns: deleting or moving one is news for every
            # file that was inside it, and watchdog reports no per-file event for that.
            return True
        logical = prefix + relative
        if not self.include.matches(logical) or self.exclude.matches(logical):
            return False
        return mount is None or (mount.include.matches(relative) and not mount.exclude.matches(relative))


def path_filter(config: Config, mounts: Iterable[MountedTree] = ()) -> PathFilter:
    """The filter for ``config``'s SRC and ``mounts``, skipping OUT, the cache and the snippets directory."""
    skip = [resolve_path(config.output, "output directory")]
    if config.cache_dir is not None:
        skip.append(resolve_path(config.cache_dir, "cache_dir"))
    if config.snippets_dir is not None:
        skip.append(resolve_path(config.snippets_dir, "snippets_dir"))
    return PathFilter(
        source=resolve_path(config.source, "source directory"),
        skip_dirs=tuple(skip),
        include=path_set(config.include),
        exclude=path_set(config.exclude + ALWAYS_EXCLUDED),
        mounts=tuple(mounts),
    )


# -- batching ------------------------------------------------------------------------------------------


def batches(
    changes: queue.Queue[str],
    window: float,
    stop: threading.Event,
    *,
    max_seconds: float = MAX_BATCH_SECONDS,
    idle: Callable[[], None] | None = None,
) -> Iterator[list[str]]:
    """Yield the paths queued in each burst: a batch closes once ``window`` seconds pass without news.

    Trailing-edge debounce, so a save through a temp file and a rename, or a checkout touching a thousand
    files, becomes one rebuild; ``max_seconds`` keeps a never-quiet tree from starving the build. ``idle``
    is called on this thread whenever a poll finds nothing queued (the watcher looks for a vanished mount).
    """
    while not stop.is_set():
        try:
            first = changes.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if idle is not None:
                idle()
            continue
        seen = {first}
        deadline = time.monotonic() + max_seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                # A zero window still takes whatever is already queued: one event rarely comes alone.
                seen.add(changes.get(timeout=min(window, left)) if window > 0 else changes.get_nowait())
            except queue.Empty:
                break
        if stop.is_set():
            return
        yield sorted(seen)


# -- the loop ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class BuildGuard:
    """Where stop requests (SIGINT, SIGTERM) meet the build: each one asks a little more urgently.

    Raising straight from a signal handler could land between a temp file's creation and its cleanup, so
    the first request stops after the current build (between builds: at once). A second stops at the next
    safe point: at once while the build is still reading (it has written nothing yet, or is only waiting
    for OUT's lock), else between two files; it never interrupts the final manifest write. A third
    stops at once wherever the build is.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    phase: str = "idle"  # idle | reading | writing | finishing
    requests: int = 0

    def request_stop(self) -> None:
        self.stop.set()
        if self.phase == "idle":
            return
        self.requests += 1
        if self.requests >= 3 or (self.requests == 2 and self.phase == "reading"):
            raise KeyboardInterrupt

    def at_safe_point(self) -> None:
        """Called between two files: honour a second request here."""
        if self.requests >= 2:
            raise KeyboardInterrupt


@dataclass(slots=True)
class _Echoes:
    """The build's Reporter: no progress bar while watching; it marks the phases for the guard, and a wait
    for OUT's lock is worth a line."""

    echo: Callable[[str], None]
    guard: BuildGuard

    def start(self, total: int) -> None:
        self.guard.phase = "writing"
        self.guard.at_safe_point()

    def advance(self, count: int = 1) -> None:
        self.guard.at_safe_point()

    def finish(self) -> None:
        self.guard.phase = "finishing"

    def waiting(self, message: str) -> None:
        self.echo(message)


def describe(paths: Sequence[str]) -> str:
    """What changed, for the rebuild line: a few paths by name, a burst by its size."""
    if not paths:
        return "changes"
    if len(paths) > _NAMED_PATHS:
        return f"{len(paths)} files"
    return ", ".join(paths)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _build_id(report: BuildReport) -> str:
    """The id of the build ``report`` describes (published by it, or already current)."""
    return report.build_id if report.build_id is not None else build_id(report.manifest)


def rebuild_line(paths: Sequence[str], report: BuildReport, before: Collection[str] = ()) -> str:
    """One line per rebuild: what changed, what was rebuilt, how long it took.

    Only published paths are named: in the new manifest, or in the one ``before`` it (a deleted file),
    or a folder. An editor's or ``sed -i``'s temporary file (``css/sedFIsWxT``) comes and goes unnamed.
    """
    paths = [p for p in paths if p.endswith("/") or p in report.manifest.assets or p in before]
    line = (
        f"changed {describe(paths)}: {report.written} written, {report.read} read "
        f"of {report.files} files in {_ms(report.seconds)}"
    )
    if not report.manifest_changed:
        line += ", manifest unchanged"
    return line


@dataclass(slots=True)
class _RebuildRecords:
    """Keeps a long watch session from piling up one build record per save in OUT/.assetpipe/builds.

    The first build's record stays (it is a real build of the tree); each rebuild's record replaces the
    previous rebuild's. Their files are not touched here: the current manifest protects its own, and
    ``assetpipe clean`` prunes the rest by the usual rule.
    """

    keep: str | None = None
    last: str | None = None

    def replace(self, out: Path, new_id: str) -> None:
        if self.last is not None and self.last not in (new_id, self.keep):
            try:
                remove_record(out, self.last)
            except AssetpipeError:
                pass  # a record that cannot be removed only costs disk space
        self.last = new_id


class BuildListener(Protocol):
    """Told about every build watch runs (live reload's Announcer): the new manifest, or the error line."""

    def built(self, manifest: Manifest) -> object: ...
    def failed(self, message: str) -> None: ...


def watch_loop(
    config: Config,
    changes: Iterable[Sequence[str]],
    echo: Callable[[str], None],
    *,
    guard: BuildGuard | None = None,
    out_changes: OutChanges | None = None,
    listener: BuildListener | None = None,
) -> BuildState | None:
    """Build once, then once per batch of changed paths; return the last good state.

    A batch holds logical paths, and directories as ``dir/``; it only names what changed for the rebuild
    line, since each build stats the whole tree and BuildState decides what to re-read.

    ``changes`` is the seam: run_watch passes watchdog's debounced batches, tests can pass any iterable.
    A build error is echoed in build's own ``error: file:line: ...`` form and the loop goes on; the state
    of the last good build is kept, so the next good save rebuilds from it. With ``out_changes`` (a
    watcher on OUT, started before the first build) a rebuild looks again only at the outputs it names.
    of the last good build is kept, so the next good save rebuilds from it. ``listener`` hears of each
    build as soon as its manifest is published (before a deferred compression pass) and of each error.
    """
    guard = guard if guard is not None else BuildGuard()
    reporter = _Echoes(echo, guard)
    state: BuildState | None = None

    def keep(new: BuildState) -> None:
        nonlocal state
        state = new

    records = _RebuildRecords()
    # Paths changed since the last good build: a failed build leaves them pending, so the next build
    # (which re-lists only the directories of what changed) still looks at them.
    pending: set[str] = set()
    published: list[frozenset[str]] = []  # the logical paths of the last good build, for the change line

    def failed(message: str) -> None:
        echo(f"error: {message}")
        if listener is not None:
            listener.failed(message)

    def run(paths: Sequence[str] | None) -> None:
        guard.phase = "reading"
        if paths is not None:
            pending.update(paths)
        touched = None if paths is None else frozenset(pending)
        try:
            # Manifest first: with compression on, a first build defers it and names the new files at once
            # (siblings that are still right stay listed), and a second build (same state, so it only
            # compresses what the first left) adds the new siblings and their encodings.
            report = build(
                config,
                reporter=reporter,
                state=state,
                changed=keep,
                touched=touched,
                defer_compression=True,
                out_touched=out_changes.take() if out_changes is not None else None,
            )
            before, published[:] = published[:], [frozenset(report.manifest.assets)]
            pending.clear()
            for warning in report.warnings:
                echo(f"warning: {warning}")
            if paths is None:
                echo(report.summary())
                records.keep = _build_id(report)
            else:
                echo(rebuild_line(paths, report, before[0] if before else ()))
                records.replace(resolve_path(config.output, "output directory"), _build_id(report))
            if listener is not None:
                # Now, not after compression: the new URLs are served already (siblings only add encodings).
                listener.built(report.manifest)
            if report.deferred and not guard.stop.is_set():
                guard.phase = "reading"
                compressed = build(
                    config,
                    reporter=reporter,
                    state=state,
                    changed=keep,
                    touched=touched,
                    out_touched=out_changes.take() if out_changes is not None else None,
                )
                if paths is None:
                    records.keep = _build_id(compressed)
                else:
                    records.replace(resolve_path(config.output, "output directory"), _build_id(compressed))
                if compressed.compressed or compressed.cache_hits:
                    echo(
                        f"  then {compressed.compressed} siblings compressed, "
                        f"{compressed.cache_hits} from the cache, in {_ms(compressed.seconds)}"
                    )
        except AssetpipeError as exc:
            failed(exc.render(config.source))
        except OSError as exc:
            # A file that vanishes between the walk and its stat (a checkout in progress): the event that
            # removed it is already queued, so the next batch builds the settled tree.
            where = f"{exc.filename}: " if exc.filename else ""
            failed(f"{where}{exc.strerror or exc}")
        finally:
            guard.phase = "idle"
            guard.requests = 0

    try:
        run(None)
        for paths in changes:
            if guard.stop.is_set():
                break
            run(paths)
            if guard.stop.is_set():
                break
    finally:
        if state is not None and config.cache_dir is not None:
            # Rebuilds keep their records in memory; leaving them in the cache makes the next
            # `assetpipe build` (or watch) incremental from here rather than from the first build.
            save_state(state_path(config.cache_dir, resolve_path(config.output, "output directory")), state)
    return state


# -- the watcher -------------------------------------------------------------------------------------


class OutChanges(FileSystemEventHandler):
    """Runs on watchdog's thread: remembers what happened in OUT, for the next build's look at OUT.

    Nothing here starts a build. A build given these paths (``out_touched``) looks again only at them, and
    takes every other output as its in-memory record says: a save costs what it changed instead of a stat
    of every output and sibling, while an output edited in OUT during the session is still restored. A
    directory moved or removed in OUT could hide news about the files inside, so it makes the next build
    look at everything.
    """

    def __init__(self, out: Path) -> None:
        self.out = str(out)
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._everything = False
        self._watched: tuple[int, int] | None = None  # OUT's (device, inode) when its watch was added
        self._orphaned = False  # OUT itself went (its watch with it): every later build looks at all of it

    def watching(self) -> None:
        """Remember which folder the watch on OUT covers (called once the watch is added)."""
        self._watched = _identity(Path(self.out))

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, event.dest_path):
            if not raw:
                continue
            relative = os.path.relpath(os.fsdecode(raw), self.out)
            if relative == "." and isinstance(event, (DirDeletedEvent, DirMovedEvent)):
                self._orphaned = True  # even if a new OUT takes the old inode number
            if relative.startswith(("..", STATE_DIR + os.sep)) or relative in (".", STATE_DIR):
                continue  # outside OUT, or assetpipe's own state (lock, staging, build records)
            with self._lock:
                if event.is_directory:
                    self._everything = self._everything or not isinstance(event, DirCreatedEvent)
                else:
                    self._paths.add(relative.replace(os.sep, "/"))

    def take(self) -> frozenset[str] | None:
        """The OUT paths changed since the last call; None when the next build must look at all of OUT.

        Always None once OUT is not the folder the watch was added on (removed, moved, made again): the
        watch went with the old folder, and nothing reports what happens in the new one.
        """
        if self._watched is not None and _identity(Path(self.out)) != self._watched:
            self._orphaned = True
        if self._orphaned:
            return None
        with self._lock:
            taken = None if self._everything else frozenset(self._paths)
            self._paths.clear()
            self._everything = False
        return taken


class _Queueing(FileSystemEventHandler):
    """Runs on watchdog's thread: turns each event into logical paths on the queue, filtering as it goes.

    One handler serves every watch (SRC's and the mounts'); ``paths`` is replaced whole when the mounts
    change, and a reference swap is atomic, so the watchdog thread always sees one filter or the other.
    """

    def __init__(self, paths: PathFilter, changes: queue.Queue[str]) -> None:
        self.paths = paths
        self.changes = changes
        # Mount folders whose removal or move an event reported (:meth:`_Watches.sync` reads it).
        self.gone: set[Path] = set()
        # A package.json changed somewhere watched: which packages are mounted may have changed.
        self.package_json = False

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = self.paths
        if any(
            os.path.basename(os.fsdecode(raw)) == "package.json" for raw in (event.src_path, event.dest_path)
        ):
            self.package_json = True
        if isinstance(event, (DirDeletedEvent, DirMovedEvent)):
            gone = Path(os.fsdecode(event.src_path))
            if any(m.directory == gone for m in paths.mounts):
                self.gone.add(gone)
        # A move counts at both ends: the old name drops out of the manifest, the new one comes in.
        for raw in (event.src_path, event.dest_path):
            if raw:
                for logical in paths.changed(os.fsdecode(raw), is_directory=event.is_directory):
                    self.changes.put(logical)


#: Only events that can change what a build sees: opens and read-only closes (which the build's own reads
#: cause) and directory "modified" events (echoes of file events) are never subscribed to.
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileModifiedEvent,
    FileClosedEvent,
]


_WATCH_LIMIT_HINT = "on Linux, raise fs.inotify.max_user_watches if the tree is large"


def _identity(directory: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None when it is gone (or no longer a folder)."""
    try:
        st = directory.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(directory) else None


def _outermost(config: Config, trees: Iterable[MountedTree]) -> dict[Path, MountedTree]:
    """The mounts that need a watch of their own: not inside SRC (whose watch sees them already), not inside
    another mount, and not one the build refuses (overlapping OUT, containing SRC)."""
    src = resolve_path(config.source, "source directory")
    out = resolve_path(config.output, "output directory")
    chosen: dict[Path, MountedTree] = {}
    for tree in sorted(trees, key=lambda t: len(t.directory.parts)):
        where = tree.directory
        if where.is_relative_to(out) or out.is_relative_to(where) or src.is_relative_to(where):
            continue
        if where.is_relative_to(src) or any(where.is_relative_to(d) for d in chosen):
            continue
        chosen[where] = tree
    return chosen


class _Watches:
    """The observer's watches on the mounts, kept in step with the config's mounts and the packages.

    After every build the mounts are worked out again (the packages' only when a package.json or a mount
    folder changed): a package ``npm install`` added gets a watch, one no longer mounted loses it. On every
    idle poll the watched folders are looked at: one that vanished,
    moved away or was replaced (``rm -rf node_modules && npm install``) is watched again once it is back.
    A watch set up during the session queues its mount's prefix, so whatever changed in the folder before
    the watch began is built.
    """

    def __init__(
        self, config: Config, observer: BaseObserver, handler: _Queueing, echo: Callable[[str], None]
    ) -> None:
        self.config = config
        self.observer = observer
        self.handler = handler
        self.echo = echo
        self.watched: dict[Path, tuple[ObservedWatch, tuple[int, int]]] = {}
        self.packages: tuple[MountedTree, ...] = ()  # as the last import map that loaded had them
        self.packages_stale = True  # the last reading failed, or never happened
        self.missing: tuple[Path, ...] = ()

    def _trees(self, reread: bool) -> list[MountedTree]:
        trees: list[MountedTree] = []
        for mount in self.config.mounts:
            try:
                trees.append(MountedTree.of(mount))
            except AssetpipeError:
                continue  # a mount that cannot even be resolved: the build says why
        if self.config.importmap_packages and (reread or self.packages_stale or self.handler.package_json):
            # Only when a package.json (or a mount folder) changed: reading every package costs a few
            # tens of milliseconds, which a save of the app's own CSS should not pay twice.
            self.handler.package_json = False  # before reading: a change during the read is seen next time
            try:
                self.packages = tuple(
                    MountedTree.of(m, package=True) for m in load_importmap(self.config).mounts
                )
                self.packages_stale = False
            except AssetpipeError:
                # A package.json half written by npm: keep the last packages, read again after the next
                # build (which says what is wrong).
                self.packages_stale = True
        return [*trees, *self.packages]

    def sync(self, *, starting: bool = False) -> None:
        """Watch what is mounted now; ``starting`` (before the first build): a failure to watch raises."""
        moved = any(_identity(d) != seen for d, (_, seen) in self.watched.items())
        trees = self._trees(starting or moved or bool(self.missing))
        self.handler.paths = path_filter(self.config, trees)
        wanted = _outermost(self.config, trees)
        for directory, (watch, seen) in list(self.watched.items()):
            if directory not in wanted or _identity(directory) != seen:
                self.observer.unschedule(watch)
                del self.watched[directory]
                if directory in wanted and directory not in self.handler.gone:
                    # Moved away or replaced without a word from the kernel (a watched folder's own move
                    # sends no event): a build must say the mount is missing, or read the new folder.
                    self.handler.changes.put(wanted[directory].prefix)
            self.handler.gone.discard(directory)
        missing: list[Path] = []
        for directory, tree in wanted.items():
            if directory in self.watched:
                continue
            identity = _identity(directory)
            if identity is None:
                missing.append(directory)  # looked for on every idle poll; the build names the mount
                continue
            try:
                watch = self.observer.schedule(
                    self.handler, str(directory), recursive=True, event_filter=_EVENTS
                )
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):  # gone between the stat and the watch
                    missing.append(directory)
                    continue
                message = f"cannot watch mount {tree.prefix!r}: {exc.strerror or exc}"
                if starting:
                    raise AssetpipeError(message, path=str(directory), hint=_WATCH_LIMIT_HINT) from None
                self.echo(f"warning: {directory}: {message}")
                continue
            self.watched[directory] = (watch, identity)
            if not starting:
                self.handler.changes.put(tree.prefix)
        self.missing = tuple(missing)

    def poll(self) -> None:
        """On an idle tick: a watched mount folder moved away or replaced, or a missing one back, is watched
        anew (which queues a rebuild). A few stats: one per mount folder."""
        if any(_identity(d) is not None for d in self.missing) or any(
            _identity(d) != seen for d, (_, seen) in self.watched.items()
        ):
            self.sync()

    # As a BuildListener: each build may have mounted other packages, or found a folder gone.
    def built(self, manifest: Manifest) -> None:
        self.sync()

    def failed(self, message: str) -> None:
        self.sync()


@dataclass(frozen=True, slots=True)
class _Listeners:
    """Several BuildListeners as one."""

    listeners: tuple[BuildListener, ...]

    def built(self, manifest: Manifest) -> None:
        for listener in self.listeners:
            listener.built(manifest)

    def failed(self, message: str) -> None:
        for listener in self.listeners:
            listener.failed(message)


def _observer(
    config: Config, changes: queue.Queue[str], out_changes: OutChanges, echo: Callable[[str], None]
) -> tuple[BaseObserver, _Watches]:
    """A started watchdog observer on SRC and the mounts outside it (recursive) that queues the logical
    path of every change, and on OUT, whose changes it only remembers (:class:`OutChanges`)."""
    observer = Observer()
    source = str(resolve_path(config.source, "source directory"))
    handler = _Queueing(path_filter(config), changes)
    watches = _Watches(config, observer, handler, echo)
    try:
        observer.schedule(handler, source, recursive=True, event_filter=_EVENTS)
        ensure_directory(resolve_path(config.output, "output directory"))
        observer.schedule(out_changes, out_changes.out, recursive=True, event_filter=_EVENTS)
        out_changes.watching()
        observer.start()  # where the watches are set up, and fail
    except OSError as exc:
        raise AssetpipeError(
            f"cannot watch: {exc.strerror or exc}", path=source, hint=_WATCH_LIMIT_HINT
        ) from None
    try:
        watches.sync(starting=True)  # once started: each mount's watch is set up, or fails, by its name
    except BaseException:
        observer.stop()
        observer.join()
        raise
    return observer, watches


def _current(config: Config) -> Manifest | None:
    try:
        return Manifest.load(config.output / MANIFEST_NAME)
    except AssetpipeError:
        return None


def _install_signals(guard: BuildGuard) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to the guard; return the function that puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers can only be set from the main thread (a test's thread)

    def handle(signum: int, frame: FrameType | None) -> None:
        guard.request_stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run_watch(
    config: Config,
    *,
    debounce: float | None,
    echo: Callable[[str], None],
    stop: threading.Event | None = None,
    live_reload: tuple[str, int] | None = None,
) -> None:
    """Build, then rebuild on every change under SRC or a mount until SIGINT, SIGTERM or ``stop``; return
    normally.

    The observer starts before the first build, so an edit made while it runs is not missed.
    ``live_reload`` (host, port) serves live reload events there while watching (see livereload.py).
    """
    window = DEFAULT_DEBOUNCE if debounce is None else debounce
    guard = BuildGuard(stop=stop if stop is not None else threading.Event())
    changes: queue.Queue[str] = queue.Queue()
    server = LiveReloadServer(*live_reload).start() if live_reload is not None else None
    # Seeded with OUT's manifest as it is, so the first build announces what changed since the last session.
    listener = Announcer(server.broadcaster, _current(config)) if server is not None else None
    restore = _install_signals(guard)
    try:
        with warnings.catch_warnings():
            # watchdog warns when a directory created while it adds watches would get a second watch; it
            # keeps one, so the warning is only noise on the user's terminal.
            warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)
            out_changes = OutChanges(resolve_path(config.output, "output directory"))
            observer, watches = _observer(config, changes, out_changes, echo)
            try:
                compression = "on" if config.compress else "off"
                echo(
                    f"watching {config.source} (debounce {_ms(window)}, compression {compression}); "
                    "press Ctrl-C to stop"
                )
                if server is not None:
                    echo(f"live reload on {server.url} (live_reload_tag() loads it)")
                batch = batches(changes, window, guard.stop, idle=watches.poll)
                listeners = _Listeners((watches,) if listener is None else (listener, watches))
                watch_loop(config, batch, echo, guard=guard, out_changes=out_changes, listener=listeners)
            finally:
                observer.stop()
                observer.join()
    except KeyboardInterrupt:
        pass  # a stop request that could not wait: the build stopped at a safe point (see BuildGuard)
    finally:
        restore()
        if server is not None:
            server.close()  # open pages see the stream end and retry until a new watcher answers
    echo("stopped")
