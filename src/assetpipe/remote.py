"""A shared second cache level behind the local one: a directory or an S3-compatible bucket.

A remote store is anything with ``get(key) -> bytes | None`` and ``put(key, payload)`` (:class:`Store`):
the local :class:`~assetpipe.cache.Cache` is one (a ``file://`` URL, e.g. a shared volume), :class:`S3Store`
the other (an ``s3://bucket/prefix`` URL). The compressor sees only :class:`RemoteTier`, which wraps a store
for one build: a store that fails (unreachable, timed out, 403, 5xx) is switched off for the rest of the
build at its first failure, so a dead remote costs one bounded timeout, never a failed or hung build, and
the build says why in one warning line.

Credentials, region and endpoint come from the standard AWS sources only (environment variables, the
shared config and credentials files and their profiles, ``AWS_ENDPOINT_URL`` for S3-compatible services,
instance roles), never from assetpipe's config file, which is usually committed. boto3 is imported only
when a remote is configured (``pip install 'assetpipe[s3]'``), so plain builds start as fast as before.

Nothing read from a remote is trusted: the compressor checks that every payload decompresses to exactly
the input's bytes before it is used or copied into the local cache (a shared cache is shared with every
branch, and a poisoned entry must never reach OUT).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from assetpipe.cache import PACK_MAX_PAYLOAD, Cache, pack, unpack
from assetpipe.errors import AssetpipeError
from assetpipe.s3url import S3Location, parse_s3_url

#: Seconds to wait for a connection, then for each response: a remote that does not answer within these
#: costs at most a few of them once (it is switched off at its first failure).
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
#: botocore's "standard" retry mode: attempts per request in all (it backs off on 5xx and throttling).
MAX_ATTEMPTS = 2
#: Requests in flight at once (one HTTP connection each); remote I/O waits on the network, not the CPU.
CONNECTIONS = 16
#: A cache object bigger than this is not read (no sibling of a web asset comes near it).
MAX_OBJECT_BYTES = 64 * 1024 * 1024
#: Where the cache's entries live under the URL's prefix (versioned with the entry format).
CACHE_PREFIX = "assetpipe-cache/1/"
#: Packs of small entries, under CACHE_PREFIX (see RemoteTier).
PACK_DIR = "packs/"
#: Staged small entries past this many bytes are uploaded as a pack at once.
PACK_UPLOAD_BYTES = 16 * 1024 * 1024
#: A build reads the newest packs up to this many bytes (held in memory until used: a 1x-corpus build's
#: pack is 3.3 MB); entries in older packs are still found as single objects.
PACKS_READ_BYTES = 48 * 1024 * 1024


class RemoteError(AssetpipeError):
    """A remote store could not be reached or refused a request; the message says which and why."""


class Store(Protocol):
    """A content-addressed key -> bytes store; ``get`` is None for a key it does not hold."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, payload: bytes) -> None: ...


def s3_client(connections: int = CONNECTIONS) -> Any:
    """A boto3 S3 client from the standard AWS sources, with bounded timeouts and retries.

    RemoteError when boto3 is not installed, or the AWS settings are unusable (a malformed config file, an
    unknown profile, an invalid ``AWS_ENDPOINT_URL``).
    """
    try:
        import boto3
        from botocore.config import Config as BotoConfig
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise RemoteError("an s3:// remote needs boto3", hint="pip install 'assetpipe[s3]'") from None
    config = BotoConfig(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        max_pool_connections=connections,
        # Checksums are sent where assetpipe asks for them (SHA-256, verified by the store).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session()
        # S3-compatible services rarely care about the region, but a request must be signed for one.
        region = session.region_name or "us-east-1"
        return session.client("s3", region_name=region, config=config)
    except (BotoCoreError, ValueError) as exc:
        raise RemoteError(f"cannot set up the AWS client: {exc}") from None


def describe(exc: BaseException) -> str:
    """A short reason for a failed request: 'access denied (403 InvalidAccessKeyId)', 'timed out', ..."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        code = exc.response.get("Error", {}).get("Code", "?")
        if status == 403 or code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return f"access denied ({status} {code})"
        if code in ("NoSuchBucket",):
            return f"no such bucket ({status} {code})"
        return f"request failed ({status} {code})"
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return "timed out"
    if isinstance(exc, EndpointConnectionError):
        endpoint = urlsplit(str(exc.kwargs.get("endpoint_url", ""))).netloc or "the endpoint"
        return f"unreachable (cannot connect to {endpoint})"
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials found (environment, shared credentials file or profile)"
    return f"{type(exc).__name__}: {exc}"


def request_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a boto3 request raises when the service cannot be used."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


def sha256_b64(payload: bytes) -> str:
    """The base64 SHA-256 S3 checks an upload against (``ChecksumSHA256``)."""
    return base64.b64encode(hashlib.sha256(payload).digest()).decode("ascii")


class S3Store:
    """Cache entries as objects ``<prefix>assetpipe-cache/1/<key>`` in an S3-compatible bucket.

    An object is written with one PUT (atomic on S3: readers see the old object, the new one or none) and a
    SHA-256 the store verifies, so concurrent builds writing the same key are safe: a key names its input
    and recipe, and every writer writes bytes that decompress to the same input.
    """

    def __init__(self, location: S3Location, client: Any | None = None) -> None:
        self.location = location
        self.client = client if client is not None else s3_client()
        self._errors = request_errors()

    def _key(self, key: str) -> str:
        return self.location.key(CACHE_PREFIX + key)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, None when there is none; RemoteError when the store cannot be used."""
        try:
            response = self.client.get_object(Bucket=self.location.bucket, Key=self._key(key))
        except self._errors as exc:
            if http_status(exc) == 404 and _code(exc) in ("NoSuchKey", "404"):
                return None
            raise RemoteError(describe(exc), path=self.location.url) from None
        body = response["Body"]
        try:
            if int(response.get("ContentLength", 0)) > MAX_OBJECT_BYTES:
                return None
            return bytes(body.read())
        except self._errors as exc:
            raise RemoteError(describe(exc), path=self.location.url) from None
        finally:
            body.close()

    def pack_names(self) -> list[str]:
        """The names of the packs under the prefix, newest first (a name starts with its time)."""
        prefix = self._key(PACK_DIR)
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix
            )
            for page in pages:
                names += [obj["Key"][len(prefix) :] for obj in page.get("Contents", [])]
        except self._errors as exc:
            raise RemoteError(describe(exc), path=self.location.url) from None
        return sorted((n for n in names if n.endswith(".pack") and "/" not in n), reverse=True)

    def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` under ``key``; RemoteError when the store refuses or cannot be reached."""
        try:
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=self._key(key),
                Body=payload,
                ChecksumSHA256=sha256_b64(payload),
                ContentType="application/octet-stream",
            )
        except self._errors as exc:
            raise RemoteError(describe(exc), path=self.location.url) from None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed request (404, 403, ...), None when it got no answer."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def open_store(url: str) -> Store:
    """The store a ``cache_url`` names; RemoteError when its client cannot be set up."""
    if url.startswith("file:"):
        return Cache(Path(unquote(urlsplit(url).path)))
    return S3Store(parse_s3_url(url, what="cache_url"))


@dataclass(frozen=True, slots=True)
class RemoteStats:
    """What one build asked of the remote: hits (verified), misses, rejected entries, failed requests."""

    hits: int = 0
    misses: int = 0
    rejected: int = 0  # found, but not decompressing to the input: never used
    errors: int = 0
    uploads: int = 0
    read_only: bool = False  # cache_url_mode = "read": nothing was (or would have been) written

    def summary(self) -> str:
        mode = " (read-only)" if self.read_only else ""
        text = f"remote{mode} {self.hits} hits, {self.misses} misses, {self.errors} errors"
        return text + (f", {self.rejected} rejected" if self.rejected else "")


class RemoteTier:
    """One build's use of a remote store: switched off at its first failure, with one warning saying why.

    Safe to use from many threads. ``get`` and ``put`` never raise: a remote is an optimisation.

    A store that can list packs (:class:`S3Store`) also gets the small entries a build uploads as one pack
    object (the local cache's pack format), and a build reads the newest packs once, before its first
    lookup: a warm build of a site's thousands of small siblings costs a few GETs instead of thousands (each
    request costs far more than its few hundred bytes: signing, a round trip, the gateway's work). Every
    small entry is also stored on its own, so a pack past :data:`PACKS_READ_BYTES` only costs speed.

    ``read_only`` (``cache_url_mode = "read"``): the store is read and never written, not even a pack; for
    builds whose results must not reach builds that trust the cache (pull requests from forks).
    """

    def __init__(self, url: str, store: Store | None = None, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._lock = threading.Lock()
        self._hits = self._misses = self._rejected = self._errors = self._uploads = 0
        self._failure: str | None = None
        self._rejection: str | None = None
        self._store: Store | None = store
        self._packed: dict[str, bytes] | None = None  # loaded at the first get()
        self._pack_lock = threading.Lock()
        self._staged: list[tuple[str, bytes]] = []
        self._staged_bytes = 0
        self._ready = threading.Event()
        if store is None:
            # Importing boto3 and making a client costs 0.3-2 s: done beside the build's first emits.
            threading.Thread(target=self._open, name="assetpipe-remote-open", daemon=True).start()
        else:
            self._ready.set()

    def _open(self) -> None:
        try:
            self._store = open_store(self.url)
        except RemoteError as exc:
            self._fail(exc)
        except Exception as exc:  # a broken AWS config file, say: the remote is only an optimisation
            self._fail(RemoteError(f"{type(exc).__name__}: {exc}"))
        finally:
            self._ready.set()

    def _current(self) -> Store | None:
        self._ready.wait()
        with self._lock:
            return self._store

    def _fail(self, exc: RemoteError) -> None:
        with self._lock:
            self._errors += 1
            if self._failure is None:
                self._failure = str(exc.message) + (f" ({exc.hint})" if exc.hint else "")
                self._store = None

    @property
    def available(self) -> bool:
        return self._current() is not None

    def get(self, key: str) -> bytes | None:
        """The remote payload for ``key`` (unverified: the caller checks it), or None."""
        store = self._current()
        if store is None:
            return None
        # Taken out when used: the memory goes with it, and the local cache has the entry from now on.
        packed = self._packs(store).pop(key, None)
        if packed is not None:
            return packed
        try:
            payload = store.get(key)
        except RemoteError as exc:
            self._fail(exc)
            return None
        except Exception as exc:  # anything else a client library raises: still only an optimisation
            self._fail(RemoteError(f"{type(exc).__name__}: {exc}"))
            return None
        if payload is None:
            with self._lock:
                self._misses += 1
        return payload

    def _packs(self, store: Store) -> dict[str, bytes]:
        """The records of the newest packs (read once, by the first caller; the others wait for it)."""
        with self._pack_lock:
            if self._packed is not None:
                return self._packed
            self._packed = {}
            names = getattr(store, "pack_names", None)
            if names is None:
                return self._packed
            total = 0
            try:
                for name in names():
                    raw = store.get(PACK_DIR + name)
                    if raw is None:
                        continue  # pruned meanwhile
                    for key, payload in unpack(raw).items():
                        self._packed.setdefault(key, payload)  # newest first: the newest record wins
                    total += len(raw)
                    if total >= PACKS_READ_BYTES:
                        break
            except RemoteError as exc:
                self._fail(exc)
            except Exception as exc:
                self._fail(RemoteError(f"{type(exc).__name__}: {exc}"))
            return self._packed

    def verified(self, hit: bool, why: str = "") -> None:
        """Count a payload from :meth:`get` as a hit, or as rejected (with the first rejection's reason)."""
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._rejected += 1
                self._misses += 1
                self._rejection = self._rejection or why

    def put(self, key: str, payload: bytes) -> None:
        if self.read_only:
            return
        store = self._current()
        if store is None:
            return
        try:
            store.put(key, payload)
        except RemoteError as exc:
            self._fail(exc)
            return
        except Exception as exc:
            self._fail(RemoteError(f"{type(exc).__name__}: {exc}"))
            return
        with self._lock:
            self._uploads += 1
            if len(payload) > PACK_MAX_PAYLOAD or not hasattr(store, "pack_names"):
                return
            self._staged.append((key, payload))
            self._staged_bytes += len(payload)
            full = self._staged_bytes >= PACK_UPLOAD_BYTES
        if full:
            self.flush()

    def flush(self) -> None:
        """Upload the small entries staged since the last flush as one pack (at the end of a build)."""
        if self.read_only:
            return  # nothing is ever staged; said here too, so no path can write
        with self._lock:
            staged, self._staged, self._staged_bytes = self._staged, [], 0
            store = self._store
        if not staged or store is None:
            return
        # Unique per process and moment: concurrent builds each add their own pack.
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}.pack"
        try:
            store.put(PACK_DIR + name, pack(sorted(staged)))
        except RemoteError as exc:
            self._fail(exc)
        except Exception as exc:
            self._fail(RemoteError(f"{type(exc).__name__}: {exc}"))

    @property
    def stats(self) -> RemoteStats:
        with self._lock:
            return RemoteStats(
                self._hits, self._misses, self._rejected, self._errors, self._uploads, self.read_only
            )

    def warnings(self) -> list[str]:
        """At most one line per kind of trouble, for the build's warnings."""
        with self._lock:
            lines = []
            if self._failure is not None:
                lines.append(f"remote cache {self.url} not used: {self._failure}; compressed locally")
            if self._rejection is not None:
                lines.append(
                    f"remote cache {self.url}: {self._rejected} entr{'y' if self._rejected == 1 else 'ies'} "
                    f"ignored ({self._rejection})"
                )
            return lines


#: Keys per listing page when pruning, and so per DeleteObjects request (which takes at most 1,000).
PRUNE_PAGE = 1000


@dataclass(frozen=True, slots=True)
class RemotePruneReport:
    """What :func:`prune` found under the cache's prefix, and deleted (or, with ``dry_run``, would)."""

    url: str  # where the entries live: s3://bucket/prefix/assetpipe-cache/1/
    cutoff: float  # entries last modified before this (seconds since the epoch) are old
    dry_run: bool
    deleted: int
    deleted_bytes: int
    kept: int

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.cutoff))
        return (
            f"{verb} {self.deleted} objects ({self.deleted_bytes} bytes) last modified before {when} from "
            f"{self.url}; {self.kept} kept"
        )


def prune(
    url: str,
    age: float,
    *,
    now: float | None = None,
    dry_run: bool = False,
    client: Any | None = None,
    page_size: int = PRUNE_PAGE,
) -> RemotePruneReport:
    """Delete the remote cache's objects last modified more than ``age`` seconds before ``now``.

    Only objects under ``<prefix>assetpipe-cache/1/`` are looked at (a publish may share the prefix). The
    listing is read a page at a time and each page's old objects are deleted before the next page is asked
    for, so memory stays bounded by a page however big the cache. RemoteError (one line) when the store
    cannot be listed or refuses a deletion; what was deleted before stays deleted (running again resumes).
    """
    if url.startswith("file:"):
        raise RemoteError(
            "pruning by age works on s3:// caches",
            path=url,
            hint="a file:// cache is a directory: remove old files with e.g. find DIR -mtime +30 -delete",
        )
    location = parse_s3_url(url, what="cache_url")
    where = location.url + CACHE_PREFIX
    try:
        client = client if client is not None else s3_client()
    except RemoteError as exc:
        raise RemoteError(exc.message, path=where, hint=exc.hint) from None
    errors = request_errors()
    cutoff = max(0.0, (time.time() if now is None else now) - age)
    deleted = deleted_bytes = kept = 0
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket,
            Prefix=location.key(CACHE_PREFIX),
            PaginationConfig={"PageSize": max(1, min(page_size, PRUNE_PAGE))},
        )
        for page in pages:
            contents = page.get("Contents", [])
            old = [obj for obj in contents if _modified(obj) < cutoff]
            kept += len(contents) - len(old)
            if old and not dry_run:
                _delete(client, location.bucket, [obj["Key"] for obj in old], where)
            deleted += len(old)
            deleted_bytes += sum(int(obj.get("Size", 0)) for obj in old)
    except errors as exc:
        raise RemoteError(f"cannot prune the remote cache: {describe(exc)}", path=where) from None
    return RemotePruneReport(where, cutoff, dry_run, deleted, deleted_bytes, kept)


def _modified(obj: dict[str, Any]) -> float:
    """A listed object's LastModified in seconds; infinitely new when the store gave none (never pruned)."""
    when = obj.get("LastModified")
    return when.timestamp() if isinstance(when, datetime) else float("inf")


def _delete(client: Any, bucket: str, keys: list[str], where: str) -> None:
    """DeleteObjects requests of at most 1,000 keys; a key the store could not delete is a RemoteError."""
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start : start + 1000]]
        result = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        _raise_first(result, where)


def _raise_first(result: dict[str, Any], where: str) -> None:
    if result.get("Errors"):
        error = result["Errors"][0]
        why = f"{error.get('Code', '?')} {error.get('Message', '')}".strip()
        raise RemoteError(
            f"cannot delete {error.get('Key')}: {why}",
            path=where,
            hint="pruning needs a credential that may delete objects (s3:DeleteObject)",
        )
