"""The remote cache against a real SeaweedFS S3 gateway: shared hits, poisoned entries, faults."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import brotli
import pytest

from assetpipe import remote
from assetpipe.codecs import decode
from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.remote import CACHE_PREFIX, RemoteTier, S3Store
from assetpipe.s3url import parse_s3_url
from assetpipe.shard import Shard
from tests.conftest import Tree, write_tree
from tests.seaweed import (  # noqa: F401 (fixtures)
    READER_KEY,
    READER_SECRET,
    Seaweed,
    s3_env,
    seaweed,
    start_seaweed,
)

SITE: Tree = {
    **{f"css/part{i}.css": f".p{i} {{ color: #{i:06x}; }}\n" * (40 + i) for i in range(8)},
    **{f"js/mod{i}.js": f"export const v{i} = {i};\n// {'x' * 50}\n" * (30 + i) for i in range(6)},
    "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'>" + "<g/>" * 200 + "</svg>",
    "img/photo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "robots.txt": "User-agent: *\nDisallow:\n" * 20,
}
SIBLINGS = 2 * 16  # br and gzip for every file but the png


def make_config(tmp_path: Path, src: Path, name: str, url: str | None, mode: str = "read-write") -> Config:
    return Config(
        source=src,
        output=tmp_path / name / "out",
        cache_dir=tmp_path / name / "cache",
        cache_url=url,
        cache_url_mode=mode,
    )


def out_files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".assetpipe" not in p.parts
    }


@pytest.fixture
def site(make_source: Callable[[Tree], Path]) -> Path:
    return make_source(SITE)


@pytest.fixture
def url(s3_env: Seaweed) -> str:
    return f"s3://{s3_env.new_bucket()}/team/cache"


def test_a_fresh_directory_with_an_empty_local_cache_gets_every_sibling_from_the_remote(
    tmp_path: Path, site: Path, url: str
) -> None:
    first = build(make_config(tmp_path, site, "a", url))
    assert first.compressed == SIBLINGS and first.remote is not None and first.remote.uploads == SIBLINGS
    second = build(make_config(tmp_path, site, "b", url))
    assert second.compressed == 0
    assert second.remote is not None and (second.remote.hits, second.remote.errors) == (SIBLINGS, 0)
    assert out_files(tmp_path / "a" / "out") == out_files(tmp_path / "b" / "out")
    assert not second.warnings
    assert "remote 32 hits, 0 misses, 0 errors" in second.summary()


def test_remote_hits_are_kept_in_the_local_cache_so_the_next_build_does_not_ask_again(
    tmp_path: Path, site: Path, url: str
) -> None:
    build(make_config(tmp_path, site, "a", url))
    config = make_config(tmp_path, site, "b", url)
    build(config)
    again = build(replace(config, output=tmp_path / "b" / "out2"))
    assert again.remote is not None and again.remote.hits == 0 and again.cache_hits == SIBLINGS


def test_a_poisoned_remote_entry_is_never_served(
    tmp_path: Path, site: Path, url: str, s3_env: Seaweed
) -> None:
    build(make_config(tmp_path, site, "a", url))
    location = parse_s3_url(url)
    client = s3_env.client()
    keys = [
        o["Key"] for o in client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix)["Contents"]
    ]
    evil = brotli.compress(b"alert('pwned')")  # a valid stream, of other bytes
    for key in keys:
        client.put_object(Bucket=location.bucket, Key=key, Body=evil)
    report = build(make_config(tmp_path, site, "b", url))
    out = tmp_path / "b" / "out"
    manifest = Manifest.load(out / "manifest.json")
    for entry in manifest.assets.values():
        original = (out / entry.path).read_bytes()
        for name, enc in entry.encodings.items():
            assert decode(name, (out / enc.path).read_bytes(), len(original)) == original
    assert report.remote is not None and report.remote.hits == 0 and report.remote.rejected == SIBLINGS
    assert report.compressed == SIBLINGS
    assert [w for w in report.warnings if "ignored" in w] == [
        f"remote cache {url}: {SIBLINGS} entries ignored (an entry did not decompress to its input)"
    ]
    # Not copied into the local cache either: a build from it alone compresses again or hits good entries.
    third = build(replace(make_config(tmp_path, site, "b", None), output=tmp_path / "b" / "out3"))
    assert third.cache_rejected == 0


def test_bad_credentials_make_the_build_warn_and_compress_locally(
    tmp_path: Path, site: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    report = build(make_config(tmp_path, site, "a", url))
    assert report.compressed == SIBLINGS
    assert report.remote is not None and report.remote.errors >= 1 and report.remote.hits == 0
    (warning,) = report.warnings
    assert warning.startswith(f"remote cache {url} not used: access denied (403 ")
    assert warning.endswith("; compressed locally")


def test_a_gateway_that_never_answers_costs_a_bounded_timeout(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "READ_TIMEOUT", 0.5)
    monkeypatch.setattr(remote, "MAX_ATTEMPTS", 1)
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
        report = build(make_config(tmp_path, site, "a", "s3://some-bucket/cache"))
    assert report.compressed == SIBLINGS
    (warning,) = report.warnings
    assert "not used: timed out; compressed locally" in warning


class StopAfter:
    """A Reporter that stops the gateway once half of the sources are emitted."""

    def __init__(self, server: Seaweed) -> None:
        self.server = server
        self.count = 0
        self.total = 0

    def start(self, total: int) -> None:
        self.total = self.total or total

    def advance(self, count: int = 1) -> None:
        self.count += count
        if self.count == self.total // 2:
            self.server.stop()

    def finish(self) -> None: ...
    def waiting(self, message: str) -> None: ...


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seaweed]:
    server = start_seaweed(tmp_path / "own-seaweed")
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    try:
        yield server
    finally:
        server.stop()


def test_the_gateway_stopped_in_the_middle_of_a_build_leaves_a_complete_build_and_one_warning(
    tmp_path: Path, site: Path, own_server: Seaweed
) -> None:
    url = f"s3://{own_server.new_bucket()}/cache"
    report = build(make_config(tmp_path, site, "a", url), reporter=StopAfter(own_server))
    assert own_server.process.poll() is not None
    out = tmp_path / "a" / "out"
    assert len(Manifest.load(out / "manifest.json").assets) == len(SITE)
    assert report.remote is not None and report.remote.errors >= 1
    (warning,) = report.warnings
    assert warning.startswith(f"remote cache {url} not used: ")
    # Everything in OUT is whole: a build from scratch without any remote makes the same files.
    plain = build(make_config(tmp_path, site, "b", None))
    assert plain.files == report.files
    assert out_files(out) == out_files(tmp_path / "b" / "out")


def test_two_builds_at_once_on_the_same_prefix_both_succeed_and_leave_sound_entries(
    tmp_path: Path, site: Path, url: str
) -> None:
    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assetpipe", "build", "-s", str(site), "-o", str(tmp_path / name / "out"),
             "--cache-dir", str(tmp_path / name / "cache"), "-q"],
            env={**os.environ, "ASSETPIPE_CACHE_URL": url}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    procs: dict[str, subprocess.CompletedProcess[str]] = {}
    threads = [threading.Thread(target=lambda n=n: procs.__setitem__(n, run(n))) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(p.returncode, p.stderr) for p in procs.values()] == [(0, ""), (0, "")]
    assert out_files(tmp_path / "a" / "out") == out_files(tmp_path / "b" / "out")
    third = build(make_config(tmp_path, site, "c", url))
    assert third.remote is not None and (third.remote.hits, third.remote.rejected) == (SIBLINGS, 0)


def test_shards_fill_the_remote_and_the_final_build_compresses_nothing(
    tmp_path: Path, site: Path, url: str
) -> None:
    calls = []
    for k in (1, 2, 3):
        report = build(make_config(tmp_path, site, f"shard{k}", url), shard=Shard(k, 3))
        assert report.shard == Shard(k, 3) and report.compressed > 0
        assert not (tmp_path / f"shard{k}" / "out" / "manifest.json").exists()  # publishes nothing
        calls.append(report.compressed)
        assert report.summary().startswith(f"shard {k}/3: ")
    assert sum(calls) == SIBLINGS  # every sibling compressed exactly once across the shards
    final = build(make_config(tmp_path, site, "final", url))
    assert final.compressed == 0 and final.remote is not None and final.remote.hits == SIBLINGS


def test_s3_store_gets_what_it_put_and_none_for_a_missing_key(url: str, s3_env: Seaweed) -> None:
    location = parse_s3_url(url)
    store = S3Store(location)
    store.put("ab" * 32, b"payload")
    assert store.get("ab" * 32) == b"payload"
    assert store.get("cd" * 32) is None
    head = s3_env.client().head_object(Bucket=location.bucket, Key=location.prefix + CACHE_PREFIX + "ab" * 32)
    assert head["ContentLength"] == 7


def test_an_unusable_remote_is_off_after_its_first_failure(tmp_path: Path) -> None:
    class Broken:
        calls = 0

        def get(self, key: str) -> bytes | None:
            Broken.calls += 1
            raise remote.RemoteError("access denied (403 AccessDenied)")

        def put(self, key: str, payload: bytes) -> None:
            Broken.calls += 1
            raise remote.RemoteError("access denied (403 AccessDenied)")

    tier = RemoteTier("s3://bucket/x", Broken())
    assert [tier.get("k"), tier.get("k")] == [None, None]
    tier.put("k", b"x")
    assert Broken.calls == 1 and not tier.available
    assert tier.warnings() == [
        "remote cache s3://bucket/x not used: access denied (403 AccessDenied); compressed locally"
    ]


def test_a_plain_build_never_imports_the_aws_client(tmp_path: Path, site: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from assetpipe.config import Config; "
        "from assetpipe.pipeline import build; "
        f"build(Config(source=Path({str(site)!r}), output=Path({str(tmp_path / 'o')!r}), cache_dir=None)); "
        "print('boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_a_directory_can_be_the_remote(tmp_path: Path, site: Path) -> None:
    shared = f"file://{tmp_path / 'shared'}"
    build(make_config(tmp_path, site, "a", shared))
    second = build(make_config(tmp_path, site, "b", shared))
    assert second.compressed == 0 and second.remote is not None and second.remote.hits == SIBLINGS


def test_a_build_reads_the_small_entries_from_one_pack_object(
    tmp_path: Path, site: Path, url: str, s3_env: Seaweed
) -> None:
    build(make_config(tmp_path, site, "a", url))
    location = parse_s3_url(url)
    client = s3_env.client()
    listed = client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix)["Contents"]
    packs = [o["Key"] for o in listed if "/packs/" in o["Key"]]
    assert len(packs) == 1
    for obj in listed:  # only the pack is left
        if obj["Key"] not in packs:
            client.delete_object(Bucket=location.bucket, Key=obj["Key"])
    report = build(make_config(tmp_path, site, "b", url))
    assert report.compressed == 0 and report.remote is not None and report.remote.hits == SIBLINGS


def test_a_pack_of_other_bytes_is_never_served(tmp_path: Path, site: Path, url: str, s3_env: Seaweed) -> None:
    from assetpipe.cache import pack, unpack

    build(make_config(tmp_path, site, "a", url))
    location = parse_s3_url(url)
    client = s3_env.client()
    (key,) = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix)["Contents"]
        if "/packs/" in o["Key"]
    ]
    records = unpack(client.get_object(Bucket=location.bucket, Key=key)["Body"].read())
    evil = pack([(k, brotli.compress(b"alert('pwned')")) for k in sorted(records)])  # intact, wrong
    client.put_object(Bucket=location.bucket, Key=key, Body=evil)
    report = build(make_config(tmp_path, site, "b", url))
    assert report.remote is not None and report.remote.rejected == len(records) and report.remote.hits == 0
    out = tmp_path / "b" / "out"
    for entry in Manifest.load(out / "manifest.json").assets.values():
        original = (out / entry.path).read_bytes()
        for name, enc in entry.encodings.items():
            assert decode(name, (out / enc.path).read_bytes(), len(original)) == original


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every request the remote's own boto3 client sends, as (method, URL path), seen on the way out."""
    sent: list[tuple[str, str]] = []
    real = remote.s3_client

    def watched(connections: int = remote.CONNECTIONS) -> object:
        client = real(connections)
        client.meta.events.register(
            "before-send.s3", lambda request, **_: sent.append((request.method, request.url))
        )
        return client

    monkeypatch.setattr(remote, "s3_client", watched)
    return sent


def bucket_keys(server: Seaweed, url: str) -> dict[str, object]:
    location = parse_s3_url(url)
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=location.bucket)
    return {o["Key"]: o["LastModified"] for page in pages for o in page.get("Contents", [])}


def as_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credential of an untrusted job: SeaweedFS lets it Read and List, nothing else."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER_SECRET)


def test_a_read_only_credential_cannot_write_so_a_read_write_build_with_it_warns(
    tmp_path: Path, site: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_reader(monkeypatch)
    report = build(make_config(tmp_path, site, "a", url))
    assert report.remote is not None and report.remote.errors >= 1 and report.remote.uploads == 0
    (warning,) = report.warnings
    assert "not used: access denied (403 AccessDenied)" in warning


def test_a_read_only_remote_gives_its_hits_and_never_sends_a_write(
    tmp_path: Path,
    site: Path,
    url: str,
    s3_env: Seaweed,
    monkeypatch: pytest.MonkeyPatch,
    requests_sent: list[tuple[str, str]],
) -> None:
    build(make_config(tmp_path, site, "trusted", url))  # the main branch fills the cache
    before = bucket_keys(s3_env, url)
    changed = {**SITE, "css/part0.css": ".changed { color: red }\n" * 80}  # a pull request's change
    src = write_tree(tmp_path / "pr-src", changed)
    as_reader(monkeypatch)
    assert any(method == "PUT" for method, _ in requests_sent)  # the trusted build's, seen by the same watch
    requests_sent.clear()
    report = build(make_config(tmp_path, src, "pr", url, mode="read"))
    assert report.remote is not None and report.remote.read_only
    assert (report.remote.hits, report.remote.misses, report.remote.errors) == (SIBLINGS - 2, 2, 0)
    assert (report.compressed, report.remote.uploads) == (2, 0)
    assert report.warnings == []
    assert "remote (read-only) 30 hits, 2 misses, 0 errors" in report.summary()
    methods = {method for method, _ in requests_sent}
    assert methods == {"GET"} and len(requests_sent) >= 3  # a listing, the pack, the two misses
    assert bucket_keys(s3_env, url) == before  # nothing added, nothing rewritten


def test_the_environment_makes_a_cli_build_read_only(
    tmp_path: Path, site: Path, url: str, s3_env: Seaweed
) -> None:
    env = {**os.environ, **s3_env.env(), "ASSETPIPE_CACHE_URL": url, "ASSETPIPE_CACHE_URL_MODE": "read"}
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", "build", "-s", str(site), "-o", str(tmp_path / "out"),
         "--cache-dir", str(tmp_path / "cache"), "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "remote (read-only) 0 hits, 32 misses, 0 errors" in result.stderr
    counts = json.loads(result.stdout)["summary"]["remote"]
    assert (counts["read_only"], counts["misses"], counts["uploads"]) == (True, 32, 0)
    assert bucket_keys(s3_env, url) == {}


def test_a_read_only_tier_never_calls_put_even_through_flush() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.puts: list[str] = []

        def get(self, key: str) -> bytes | None:
            return None

        def put(self, key: str, payload: bytes) -> None:
            self.puts.append(key)

        def pack_names(self) -> list[str]:
            return []

    store = Recorder()
    tier = RemoteTier("s3://bucket/x", store, read_only=True)
    assert tier.get("k") is None
    tier.put("k", b"small")
    tier.flush()
    assert store.puts == [] and tier.stats.uploads == 0 and tier.stats.read_only


# -- assetpipe cache prune --remote -----------------------------------------------------------------------


def cache_objects(server: Seaweed, url: str) -> dict[str, float]:
    """The remote cache's objects: key -> LastModified (seconds since the epoch)."""
    location = parse_s3_url(url)
    pages = server.client().get_paginator("list_objects_v2").paginate(
        Bucket=location.bucket, Prefix=location.prefix + CACHE_PREFIX
    )
    return {o["Key"]: o["LastModified"].timestamp() for page in pages for o in page.get("Contents", [])}


def test_prune_deletes_entries_older_than_the_age_page_by_page_and_nothing_else(
    tmp_path: Path, site: Path, s3_env: Seaweed
) -> None:
    bucket = s3_env.new_bucket()
    url = f"s3://{bucket}/team"
    build(make_config(tmp_path, site, "a", url))
    s3_env.client().put_object(Bucket=bucket, Key="team/site/app.css", Body=b"published")  # shares the prefix
    s3_env.client().put_object(Bucket=bucket, Key="team/assetpipe-cache/2/x", Body=b"not ours")
    entries = cache_objects(s3_env, url)
    assert len(entries) == SIBLINGS + 1  # every entry, and the build's pack
    newest = max(entries.values())
    day = 86400.0
    # A day after the newest entry was written, none is older than two days: nothing goes.
    report = remote.prune(url, 2 * day, now=newest + day, page_size=5)
    assert (report.deleted, report.kept) == (0, SIBLINGS + 1)
    # Exactly `age` after the newest: the newest are not older than the age, so they would be kept.
    boundary = remote.prune(url, day, now=newest + day, page_size=5, dry_run=True)
    assert boundary.kept == sum(1 for t in entries.values() if t == newest) >= 1
    dry = remote.prune(url, day, now=newest + day + 1, page_size=5, dry_run=True)
    assert (dry.deleted, dry.kept) == (SIBLINGS + 1, 0) and cache_objects(s3_env, url) == entries
    assert dry.line().startswith(f"would delete {SIBLINGS + 1} objects (")
    report = remote.prune(url, day, now=newest + day + 1, page_size=5)  # 7 pages, deleting as it goes
    assert (report.deleted, report.deleted_bytes) == (dry.deleted, dry.deleted_bytes)
    assert cache_objects(s3_env, url) == {}
    left = {o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert left == {"team/site/app.css", "team/assetpipe-cache/2/x"}
    assert report.line() == (
        f"deleted {SIBLINGS + 1} objects ({report.deleted_bytes} bytes) last modified before "
        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(newest + 1))} from s3://{bucket}/team/{CACHE_PREFIX}; 0 kept"
    )
    # The next build compresses again and fills the cache again.
    again = build(make_config(tmp_path, site, "b", url))
    assert again.remote is not None and again.remote.hits == 0 and again.remote.uploads == SIBLINGS


def test_prune_keeps_what_was_written_after_the_cutoff(tmp_path: Path, site: Path, url: str, s3_env: Seaweed) -> None:
    build(make_config(tmp_path, site, "a", url))
    old = cache_objects(s3_env, url)
    time.sleep(1.1)  # S3's LastModified has whole seconds: the next object is a second newer at least
    S3Store(parse_s3_url(url)).put("ef" * 32, b"late entry")
    late = cache_objects(s3_env, url)[parse_s3_url(url).key(CACHE_PREFIX + "ef" * 32)]
    assert late > max(old.values())
    report = remote.prune(url, 3600, now=late + 3600)  # the late entry is exactly an hour old: kept
    assert (report.deleted, report.kept) == (len(old), 1)
    assert list(cache_objects(s3_env, url)) == [parse_s3_url(url).key(CACHE_PREFIX + "ef" * 32)]


def run_cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assetpipe", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def test_cache_prune_on_the_command_line_reads_cache_url_from_the_config(
    tmp_path: Path, site: Path, url: str, s3_env: Seaweed
) -> None:
    build(make_config(tmp_path, site, "a", url))
    (tmp_path / "assetpipe.toml").write_text(f'cache_url = "{url}"\n', encoding="utf-8")
    env = {k: v for k, v in s3_env.env().items()}
    dry = run_cli("cache", "prune", "--remote", "--age", "0", "--dry-run", env=env, cwd=tmp_path)
    assert (dry.returncode, dry.stderr) == (0, "")
    assert dry.stdout.startswith(f"would delete {SIBLINGS + 1} objects (")
    assert len(cache_objects(s3_env, url)) == SIBLINGS + 1
    young = run_cli("cache", "prune", "--remote", "--age", "30d", env=env, cwd=tmp_path)
    assert young.stdout.startswith("deleted 0 objects (0 bytes)") and young.stdout.endswith(
        f"; {SIBLINGS + 1} kept\n"
    )
    gone = run_cli("cache", "prune", "--remote", "--age", "0s", "--url", url, env=env)
    assert gone.returncode == 0 and gone.stdout.startswith(f"deleted {SIBLINGS + 1} objects (")
    assert cache_objects(s3_env, url) == {}


def test_cache_prune_with_bad_credentials_fails_with_one_line(url: str, s3_env: Seaweed) -> None:
    result = run_cli("cache", "prune", "--remote", "--age", "30d", "--url", url, env=s3_env.env(secret="wrong"))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(
        f"error: {url}/{CACHE_PREFIX}: cannot prune the remote cache: access denied (403 "
    )
    assert result.stderr.count("\n") == 1


def test_cache_prune_with_a_read_only_credential_deletes_nothing_and_says_why(
    tmp_path: Path, site: Path, url: str, s3_env: Seaweed
) -> None:
    build(make_config(tmp_path, site, "a", url))
    before = cache_objects(s3_env, url)
    env = s3_env.env(access_key=READER_KEY, secret=READER_SECRET)
    dry = run_cli("cache", "prune", "--remote", "--age", "0", "--url", url, "--dry-run", env=env)
    assert dry.returncode == 0 and dry.stdout.startswith(f"would delete {SIBLINGS + 1} objects")
    result = run_cli("cache", "prune", "--remote", "--age", "0", "--url", url, env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: {url}/{CACHE_PREFIX}: cannot delete ")
    assert "AccessDenied" in result.stderr and result.stderr.count("\n") == 1
    assert cache_objects(s3_env, url) == before


def test_cache_prune_against_an_unreachable_store_fails_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once it is closed
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}  # fmt: skip
    result = run_cli("cache", "prune", "--remote", "--age", "1d", "--url", "s3://some-bucket/c", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: s3://some-bucket/c/{CACHE_PREFIX}: cannot prune the remote cache: "
        f"unreachable (cannot connect to 127.0.0.1:{port})\n"
    )


@pytest.mark.parametrize("age", ["30x", "-1d", "nan", "d", "inf"])
def test_cache_prune_refuses_an_age_it_cannot_read(age: str) -> None:
    result = run_cli("cache", "prune", "--remote", "--age", age, "--url", "s3://some-bucket/c", env={})
    assert result.returncode == 2 and "Invalid value for '--age'" in result.stderr


def test_cache_prune_needs_remote_and_a_cache_url(tmp_path: Path) -> None:
    env = {"ASSETPIPE_CACHE_URL": ""}
    local = run_cli("cache", "prune", "--age", "30d", env=env, cwd=tmp_path)
    assert local.returncode == 2 and "only --remote is supported" in local.stderr
    none = run_cli("cache", "prune", "--remote", "--age", "30d", env=env, cwd=tmp_path)
    assert none.returncode == 2 and "no remote cache: pass --url" in none.stderr


def test_the_lifecycle_rule_in_the_docs_is_one_the_store_takes(url: str, s3_env: Seaweed) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = docs[docs.index("#### Pruning the remote cache") :]
    rule = json.loads(section[section.index("```json\n") + 8 : section.index("\n```", section.index("```json"))])
    (prefix,) = [r["Filter"]["Prefix"] for r in rule["Rules"]]
    assert prefix.endswith("/" + CACHE_PREFIX.split("/")[0] + "/")  # the cache's objects, not a publish's
    client, bucket = s3_env.client(), parse_s3_url(url).bucket
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rule)
    assert client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rule["Rules"]


def test_cache_prune_with_unusable_aws_settings_fails_with_one_line(s3_env: Seaweed) -> None:
    env = {**s3_env.env(), "AWS_ENDPOINT_URL": "not-a-url"}
    result = run_cli("cache", "prune", "--remote", "--age", "1d", "--url", "s3://some-bucket/c", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: s3://some-bucket/c/{CACHE_PREFIX}: cannot set up the AWS client: Invalid endpoint: not-a-url\n"
    )


def test_prune_refuses_a_directory_remote_with_a_hint() -> None:
    with pytest.raises(remote.RemoteError, match="pruning by age works on s3:// caches") as info:
        remote.prune("file:///mnt/shared/cache", 30 * 86400)
    assert info.value.hint is not None and "find" in info.value.hint
