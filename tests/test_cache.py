"""The content-addressed compression cache: keys, digest-checked reads, atomic writes, pruning."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from assetpipe.cache import STALE_TEMP_SECONDS, Cache, key
from assetpipe.files import TEMP_PREFIX

DIGEST = hashlib.sha256(b"input").digest()


def entry_path(cache: Cache, entry_key: str) -> Path:
    (path,) = [p for p, _ in cache.entries() if p.name == entry_key]
    return path


def test_a_stored_payload_is_read_back_unchanged(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "brotli", "quality=11")
    cache.put(k, b"\x00compressed\n bytes")
    assert cache.get(k) == b"\x00compressed\n bytes"


def test_a_missing_entry_is_a_miss(tmp_path: Path) -> None:
    assert Cache(tmp_path / "cache").get(key(DIGEST, "zlib", "level=9")) is None


def test_keys_differ_by_input_compressor_and_settings() -> None:
    keys = {
        key(DIGEST, "zopfli", "iterations=15"),
        key(DIGEST, "zopfli", "iterations=5"),
        key(DIGEST, "zlib", "iterations=15"),
        key(hashlib.sha256(b"other").digest(), "zopfli", "iterations=15"),
        # Fields are length-prefixed, so moving a character across the boundary changes the key.
        key(DIGEST, "zopfli;", "iterations=15"[1:]),
    }
    assert len(keys) == 5
    assert key(DIGEST, "zopfli", "iterations=15") == key(DIGEST, "zopfli", "iterations=15")


def test_a_truncated_entry_is_a_miss_and_is_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "brotli", "q")
    cache.put(k, b"x" * 1000)
    path = entry_path(cache, k)
    path.write_bytes(path.read_bytes()[:-10])
    assert cache.get(k) is None
    assert not path.exists()


def test_an_entry_with_a_flipped_byte_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "brotli", "q")
    cache.put(k, b"abcdefgh" * 100)
    path = entry_path(cache, k)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01
    path.write_bytes(bytes(raw))
    assert cache.get(k) is None


def test_a_foreign_or_empty_file_under_an_entry_name_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "brotli", "q")
    path = tmp_path / "cache" / k[:2] / k
    path.parent.mkdir(parents=True)
    for junk in (b"", b"not an entry", b"assetpipe-cache 1 zz 3\nabc"):
        path.write_bytes(junk)
        assert cache.get(k) is None


def test_a_cache_copied_elsewhere_still_hits_like_a_restored_ci_cache(tmp_path: Path) -> None:
    k = key(DIGEST, "zlib", "level=9")
    Cache(tmp_path / "a").put(k, b"payload")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert Cache(tmp_path / "b").get(k) == b"payload"


def test_an_unwritable_cache_location_is_skipped_silently(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    cache = Cache(blocker)
    k = key(DIGEST, "zlib", "level=9")
    cache.put(k, b"payload")
    assert cache.get(k) is None


def test_prune_removes_least_recently_used_entries_until_under_the_budget(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    keys = [key(DIGEST, "zlib", str(i)) for i in range(4)]
    for i, k in enumerate(keys):
        cache.put(k, bytes([i]) * 1000)
        past = time.time_ns() - (10 - i) * 1_000_000_000
        os.utime(entry_path(cache, k), ns=(past, past))
    assert cache.get(keys[0]) is not None  # a hit makes the oldest entry the most recently used
    entry_size = entry_path(cache, keys[0]).stat().st_size

    report = cache.prune(max_bytes=2 * entry_size)

    assert (report.entries, report.removed) == (4, 2)
    assert report.bytes_before == 4 * entry_size
    assert [cache.get(k) is not None for k in keys] == [True, False, False, True]


def test_prune_within_budget_removes_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.put(key(DIGEST, "zlib", "9"), b"payload")
    assert cache.prune(max_bytes=1 << 20).removed == 0
    assert Cache(tmp_path / "never-made").prune().entries == 0


def test_prune_removes_temp_files_left_by_a_crashed_writer(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.put(key(DIGEST, "zlib", "9"), b"payload")
    shard = next(p for p in (tmp_path / "cache").iterdir())
    old = shard / f"{TEMP_PREFIX}old"
    fresh = shard / f"{TEMP_PREFIX}fresh"
    old.write_bytes(b"half")
    fresh.write_bytes(b"in flight")
    past = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(old, (past, past))

    cache.prune()

    assert not old.exists()
    assert fresh.exists()
    assert [p.name for p, _ in cache.entries()] == [key(DIGEST, "zlib", "9")]
