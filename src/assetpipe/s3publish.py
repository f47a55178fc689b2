"""Publish OUT to an S3-compatible bucket: ``assetpipe publish --output dist --to s3://bucket/prefix``.

It reads what verify and clean read (manifest.json and the files under OUT), never the build. Each file and
each sibling becomes its own object, with the headers a CDN in front passes on: the original's
Content-Type, ``Content-Encoding`` on siblings, ``Cache-Control: public, max-age=31536000, immutable``
exactly for what the manifest marks immutable and ``no-cache`` for the rest; every upload carries a SHA-256
the store verifies before it stores the object.

The order keeps the bucket serving one whole build at every moment, like the local publish:

1. OUT is verified first (:func:`assetpipe.verify.verify`): a file that does not match the manifest stops
   publish before anything is sent;
2. hashed files and their siblings (new names nothing live names yet), concurrently; an object already
   there with the same bytes is skipped (see "Skipping" below);
3. the build's record under ``.assetpipe/builds/`` (what remote retention keeps);
4. only when all of that succeeded, unhashed files, each as a set: its live siblings that change are
   deleted first (clients then get the file itself), the file, then its new siblings;
5. manifest.json last.

A run that fails or is killed leaves the previous manifest live; running again skips what is there and
finishes. ``keep`` applies clean's retention rule (:func:`assetpipe.clean.kept_builds`) to the bucket after
a successful publish: objects no kept build references are deleted, then the records of dropped builds.

Skipping rests on a checksum the store computed itself. An object listed with the file's size whose ETag
is a plain MD5 (32 hex digits: a single-part upload without SSE-KMS or SSE-C, where S3 defines the ETag as
the MD5 of the bytes) equal to the file's is the file: no request beyond the listing (a different MD5 would
need someone with write access to the bucket forging a collision, who could replace the manifest anyway).
Any other ETag (a multipart upload's "-N", an encrypted object's) is not trusted either way: every object is
uploaded with ``ChecksumSHA256`` (the store verifies it and keeps it) and the same value in user metadata
(``x-amz-meta-assetpipe-sha256``), and such an object is asked for its checksum (HeadObject with
``ChecksumMode=ENABLED``); it is skipped only when the store's full-object SHA-256, or, when the store returns
none, the metadata's, is the file's (and every other full-object checksum the store keeps that can be
computed here agrees). An object whose content cannot be established is uploaded again: a skip is never a
guess.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from assetpipe.builds import BuildRecord, build_id
from assetpipe.clean import kept_builds
from assetpipe.codecs import CODECS
from assetpipe.errors import ManifestError, OutputError
from assetpipe.lock import output_lock
from assetpipe.manifest import MANIFEST_NAME, Manifest
from assetpipe.remote import (
    CACHE_PREFIX,
    RemoteError,
    describe,
    http_status,
    request_errors,
    s3_client,
    sha256_b64,
)
from assetpipe.s3url import S3Location, parse_s3_url
from assetpipe.verify import verify

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: Build records live here under the prefix (as in OUT/.assetpipe/builds/); never served, never pruned.
RECORDS = ".assetpipe/builds/"
DEFAULT_JOBS = 8
#: User metadata every upload carries (``x-amz-meta-assetpipe-sha256``): the base64 SHA-256 of its bytes, for
#: a store that keeps the metadata but does not return the checksum it verified.
SHA256_METADATA = "assetpipe-sha256"

#: Other full-object checksums a store may return (HeadObject, ChecksumMode=ENABLED) that are computed here
#: to cross-check a SHA-256 taken from the metadata: a writer's claim, where these are the store's own.
CROSS_CHECKS: dict[str, Callable[[bytes], str]] = {
    "ChecksumCRC32": lambda body: _b64(zlib.crc32(body).to_bytes(4, "big")),
    "ChecksumSHA1": lambda body: _b64(hashlib.sha1(body, usedforsecurity=False).digest()),
}

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class StoredChecksum:
    """What establishes an object's bytes: a SHA-256 (the store's, else the metadata's) and the other
    full-object checksums the store keeps that can be computed here (:data:`CROSS_CHECKS`)."""

    sha256: str
    others: tuple[tuple[str, str], ...] = ()

    def matches(self, body: bytes) -> bool:
        """Whether ``body`` has every one of these checksums."""
        return self.sha256 == sha256_b64(body) and all(CROSS_CHECKS[n](body) == v for n, v in self.others)


@dataclass(frozen=True, slots=True)
class SameMD5:
    """An object whose listed ETag is a plain MD5 (see the module docstring): it holds the bytes with it."""

    md5: str

    def matches(self, body: bytes) -> bool:
        return hashlib.md5(body, usedforsecurity=False).hexdigest() == self.md5


_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


def plain_md5(etag: str | None) -> str | None:
    """The MD5 an ETag states, when it is one (quoted 32 lowercase hex digits), else None."""
    value = (etag or "").strip('"').lower()
    return value if _PLAIN_MD5.fullmatch(value) else None


class PublishError(RemoteError):
    """Publishing stopped; the bucket still serves the previous manifest."""


@dataclass(frozen=True, slots=True)
class Upload:
    """One object to send: OUT path, and the headers it is stored with."""

    path: str  # relative to OUT (POSIX); the object key is the prefix + this
    content_type: str
    cache_control: str
    content_encoding: str | None = None


@dataclass(slots=True)
class PublishReport:
    """What publish sent (or, with ``dry_run``, would send), skipped and deleted; paths under the prefix."""

    to: str
    dry_run: bool
    build_id: str = ""
    uploaded: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    skipped: int = 0
    deleted: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        verb = "would" if self.dry_run else ""
        up, rm = (f"{verb} upload", f"{verb} delete") if verb else ("uploaded", "deleted")
        out = [f"{up} {self.to}{key}" for key in self.uploaded]
        out += [f"{rm} {self.to}{key}" for key in self.deleted]
        out.append(
            f"{up} {len(self.uploaded)} objects ({self.bytes_sent} bytes), {self.skipped} already there, "
            f"{rm} {len(self.deleted)}; {self.to} serves build {self.build_id} ({self.seconds:.2f}s)"
        )
        return out


def uploads(manifest: Manifest) -> tuple[list[Upload], list[Upload]]:
    """(hashed files and their siblings, unhashed files and their siblings): the objects a build is."""
    hashed: list[Upload] = []
    unhashed: list[Upload] = []
    for logical in sorted(manifest.assets):
        entry = manifest.assets[logical]
        cache = IMMUTABLE if entry.immutable else NO_CACHE
        group = hashed if entry.immutable else unhashed
        group.append(Upload(entry.path, entry.content_type, cache))
        for name, enc in sorted(entry.encodings.items()):
            group.append(Upload(enc.path, entry.content_type, cache, CODECS[name].name))
    return hashed, unhashed


def publish(
    out_dir: Path,
    to: str,
    *,
    dry_run: bool = False,
    jobs: int = DEFAULT_JOBS,
    keep: int | None = None,
    age: float = 3600,
    now: float | None = None,
    client: Any | None = None,
    on_put: Callable[[str], None] | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> PublishReport:
    """Upload OUT to ``to`` (``s3://bucket/prefix``) in the order of the module docstring.

    ``keep`` (with ``age``) prunes the bucket afterwards with clean's rule; ``on_put`` is told each key
    uploaded, in order (for tests and progress).
    """
    location = parse_s3_url(to, what="--to")
    Manifest.load(out_dir / MANIFEST_NAME)  # before the lock: a mistyped --output stays untouched
    # OUT's lock, as clean takes it: a build cannot change OUT between verifying and sending.
    with output_lock(out_dir, wait=wait, on_wait=on_wait):
        return _publish_locked(out_dir, location, dry_run, jobs, keep, age, now, client, on_put)


def _publish_locked(
    out_dir: Path,
    location: S3Location,
    dry_run: bool,
    jobs: int,
    keep: int | None,
    age: float,
    now: float | None,
    client: Any | None,
    on_put: Callable[[str], None] | None,
) -> PublishReport:
    started = time.perf_counter()
    manifest_path = out_dir / MANIFEST_NAME
    manifest = Manifest.load(manifest_path)
    checked = verify(out_dir)
    if not checked.ok:
        first = checked.problems[0]
        raise ManifestError(
            f"{first.path}: {first.what}",
            path=str(out_dir),
            hint=f"{len(checked.problems)} problem(s); run 'assetpipe verify' and rebuild before publishing",
        )
    manifest_bytes = _read(manifest_path)
    bid = build_id(manifest, manifest_bytes.decode("utf-8"))
    try:
        client = client if client is not None else s3_client(jobs)
    except RemoteError as exc:
        raise PublishError(exc.message, path=location.url, hint=exc.hint) from None
    sender = _Sender(location, client, jobs, on_put)
    report = PublishReport(to=location.url, dry_run=dry_run, build_id=bid)
    listed = sender.listing(location.prefix)
    hashed, unhashed = uploads(manifest)
    sizes = {u.path: _size(out_dir / u.path) for u in (*hashed, *unhashed)}
    sizes[MANIFEST_NAME] = len(manifest_bytes)
    # Only an object of the file's size can hold its bytes; one whose ETag is the file's MD5 does (module
    # docstring), and only the others are asked for their checksum.
    same_size = sorted(p for p, size in sizes.items() if listed.get(p) == size)
    stored: dict[str, StoredChecksum | SameMD5 | None] = {}
    for path in same_size:
        md5 = plain_md5(sender.etags.get(path))
        body = manifest_bytes if path == MANIFEST_NAME else None
        if md5 is not None and SameMD5(md5).matches(body if body is not None else _read(out_dir / path)):
            stored[path] = SameMD5(md5)
    stored.update(sender.checksums([p for p in same_size if p not in stored]))
    when = time.time() if now is None else now
    record = BuildRecord(bid, when, frozenset(manifest.output_files()))
    record_upload = Upload(RECORDS + bid + ".json", "application/json", NO_CACHE)
    record_bytes = (json.dumps(record.to_json(), sort_keys=True, separators=(",", ":")) + "\n").encode()

    def send(items: Iterable[Upload]) -> None:
        todo = []
        for upload in items:
            # Read only to compare (not kept: a big OUT is read again when it is sent).
            if upload.path in stored and _holds(stored, upload.path, _read(out_dir / upload.path)):
                report.skipped += 1
            else:
                todo.append(upload)
                report.uploaded.append(upload.path)
                report.bytes_sent += sizes[upload.path]
        if not dry_run:
            sender.put_all([(u, functools.partial(_read, out_dir / u.path)) for u in todo])

    send(hashed)
    # Recorded before it goes live (a build going live again gets a fresh time: retention counts from
    # then), unless the bucket serves this build already and holds its record.
    live = _holds(stored, MANIFEST_NAME, manifest_bytes) and record_upload.path in listed
    if not live:
        report.uploaded.append(record_upload.path)
        report.bytes_sent += len(record_bytes)
        if not dry_run:
            sender.put_all([(record_upload, lambda: record_bytes)])
    for group in _sets(unhashed):
        bodies = [(u, _read(out_dir / u.path)) for u in group]
        stale = _stale_siblings(group[0].path, bodies, listed, stored)
        report.deleted += stale
        if not dry_run:
            sender.delete(stale)  # before the file: every moment serves one version, whatever is asked
        send(group)
    if _holds(stored, MANIFEST_NAME, manifest_bytes):
        report.skipped += 1
    else:
        report.uploaded.append(MANIFEST_NAME)
        report.bytes_sent += len(manifest_bytes)
        if not dry_run:  # the bytes verified and named by the build id, not a re-read
            sender.put_all([(Upload(MANIFEST_NAME, "application/json", NO_CACHE), lambda: manifest_bytes)])
    if keep is not None:
        report.deleted += _prune(sender, listed, manifest, bid, keep, age, when, dry_run)
    report.seconds = time.perf_counter() - started
    return report


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OutputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise OutputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def _holds(stored: Mapping[str, StoredChecksum | SameMD5 | None], path: str, body: bytes) -> bool:
    """Whether the bucket holds ``body`` at ``path``, as the checksums kept for the object establish."""
    checksum = stored.get(path)
    return checksum is not None and checksum.matches(body)


def _sets(unhashed: list[Upload]) -> list[list[Upload]]:
    """Unhashed uploads grouped as file + its siblings (as :func:`uploads` lists them: file first)."""
    groups: list[list[Upload]] = []
    for upload in unhashed:
        if upload.content_encoding is None:
            groups.append([upload])
        else:
            groups[-1].append(upload)
    return groups


def _stale_siblings(
    path: str,
    bodies: list[tuple[Upload, bytes]],
    listed: Mapping[str, int],
    stored: Mapping[str, StoredChecksum | SameMD5 | None],
) -> list[str]:
    """Siblings of unhashed ``path`` in the bucket that the new set does not have with the same bytes."""
    new = {u.path: b for u, b in bodies}
    stale = []
    for codec in CODECS.values():
        key = path + codec.suffix
        if key in listed and not (key in new and _holds(stored, key, new[key])):
            stale.append(key)
    return stale


def _prune(
    sender: _Sender,
    listed: Mapping[str, int],
    manifest: Manifest,
    current: str,
    keep: int,
    age: float,
    now: float,
    dry_run: bool,
) -> list[str]:
    """Clean's rule on the bucket: delete what no kept build references, then the dropped records."""
    records = sorted(sender.records(), key=lambda r: (-r.created, r.id))
    if not any(r.id == current for r in records):
        records.append(BuildRecord(current, now, frozenset(manifest.output_files())))  # a dry run
    kept = kept_builds(records, keep=keep, age=age, now=now, current=current)
    protected = set(manifest.output_files()).union(*(r.files for r in kept))
    # Never: the manifest, the records, a remote cache that shares the prefix.
    ours = (".assetpipe/", CACHE_PREFIX)
    doomed = sorted(k for k in listed if k not in protected and k != MANIFEST_NAME and not k.startswith(ours))
    kept_ids = {r.id for r in kept}
    dropped = [RECORDS + r.id + ".json" for r in records if r.id not in kept_ids]
    if not dry_run:
        # Files first, records last: if publish dies half-way, the records still list what is left.
        sender.delete(doomed)
        sender.delete(dropped)
    return doomed + dropped


class _Sender:
    """The bucket side: list, put (concurrently, checksummed), delete; failures become PublishError."""

    def __init__(
        self, location: S3Location, client: Any, jobs: int, on_put: Callable[[str], None] | None
    ) -> None:
        self.location = location
        self.client = client
        self.jobs = max(1, jobs)
        self.on_put = on_put
        self._errors = request_errors()
        self.etags: dict[str, str] = {}  # path -> ETag, as the last listing gave them

    def _fail(self, exc: BaseException, what: str) -> PublishError:
        return PublishError(
            f"{what}: {describe(exc)}",
            path=self.location.url,
            hint="the previous manifest is still live; run publish again to resume",
        )

    def listing(self, prefix: str) -> dict[str, int]:
        """Every object under the prefix: path relative to it -> size."""
        found: dict[str, int] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    found[obj["Key"][len(prefix) :]] = int(obj["Size"])
                    self.etags[obj["Key"][len(prefix) :]] = str(obj.get("ETag", ""))
        except self._errors as exc:
            raise self._fail(exc, "cannot list the bucket") from None
        return found

    def records(self) -> list[BuildRecord]:
        """The build records in the bucket; an unreadable one stops pruning (it may protect files)."""
        listed = self.listing(self.location.key(RECORDS))
        records = []
        for name in sorted(listed):
            try:
                key = self.location.key(RECORDS + name)
                body = self.client.get_object(Bucket=self.location.bucket, Key=key)
                data = json.loads(body["Body"].read())
                records.append(
                    BuildRecord(str(data["id"]), float(data["created"]), frozenset(map(str, data["files"])))
                )
            except self._errors as exc:
                raise self._fail(exc, f"cannot read build record {name}") from None
            except (ValueError, KeyError, TypeError) as exc:
                raise PublishError(
                    f"unreadable build record {RECORDS}{name}: {exc}",
                    path=self.location.url,
                    hint="delete it if that build is gone",
                ) from None
        return records

    def checksum(self, path: str) -> StoredChecksum | None:
        """What establishes the bytes at ``path`` (:class:`StoredChecksum`); None when nothing does."""
        try:
            head = self.client.head_object(
                Bucket=self.location.bucket, Key=self.location.key(path), ChecksumMode="ENABLED"
            )
        except self._errors as exc:
            if http_status(exc) == 404:
                return None  # deleted since the listing: uploaded again
            if http_status(exc) == 403:
                raise PublishError(
                    f"cannot read the checksum of {path}: {describe(exc)}",
                    path=self.location.url,
                    hint="publish reads checksums (HeadObject): the credential needs s3:GetObject",
                ) from None
            raise self._fail(exc, f"cannot read the checksum of {path}") from None
        # A multipart upload's checksums are of its parts' checksums ("...-3"): not of the bytes.
        composite = head.get("ChecksumType") == "COMPOSITE"
        kept = {
            name: value
            for name in ("ChecksumSHA256", *CROSS_CHECKS)
            if isinstance(value := head.get(name), str) and value and not composite and "-" not in value
        }
        claimed = (head.get("Metadata") or {}).get(SHA256_METADATA)
        sha256 = kept.pop("ChecksumSHA256", None) or (claimed if isinstance(claimed, str) else None)
        return StoredChecksum(sha256, tuple(sorted(kept.items()))) if sha256 else None

    def checksums(self, paths: list[str]) -> dict[str, StoredChecksum | None]:
        """:meth:`checksum` of each of ``paths``, on ``jobs`` threads; the first failure is raised."""
        return dict(zip(paths, self._each(self.checksum, paths), strict=True))

    def _put(self, upload: Upload, read: Callable[[], bytes]) -> None:
        body = read()
        checksum = sha256_b64(body)
        extra = {"ContentEncoding": upload.content_encoding} if upload.content_encoding else {}
        try:
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(upload.path),
                Body=body,
                ContentType=upload.content_type,
                CacheControl=upload.cache_control,
                ChecksumSHA256=checksum,  # the store verifies it, keeps it and returns it to checksum()
                Metadata={SHA256_METADATA: checksum},
                **extra,
            )
        except self._errors as exc:
            raise self._fail(exc, f"cannot upload {upload.path}") from None
        if self.on_put is not None:
            self.on_put(upload.path)

    def put_all(self, items: list[tuple[Upload, Callable[[], bytes]]]) -> None:
        """Upload ``items`` on ``jobs`` threads; the first failure stops the rest and is raised."""
        self._each(lambda item: self._put(*item), items)

    def _each(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        """``fn`` of each item on ``jobs`` threads, results in order; the first failure is raised.

        It cancels what has not started: a store that stops answering costs a few bounded timeouts, not one
        per object.
        """
        if not items:
            return []
        with ThreadPoolExecutor(min(self.jobs, len(items)), thread_name_prefix="assetpipe-publish") as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def delete(self, paths: list[str]) -> None:
        for start in range(0, len(paths), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": self.location.key(p)} for p in paths[start : start + 1000]]
            try:
                result = self.client.delete_objects(
                    Bucket=self.location.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except self._errors as exc:
                raise self._fail(exc, "cannot delete") from None
            if result.get("Errors"):
                error = result["Errors"][0]
                why = f"{error.get('Code')} {error.get('Message', '')}".strip()
                raise PublishError(f"cannot delete {error.get('Key')}: {why}", path=self.location.url)
