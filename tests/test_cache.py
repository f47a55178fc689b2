"""The content-addressed compression cache: keys, digest-checked reads, atomic writes, pruning."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from assetpipe import cache as cache_module
from assetpipe.cache import MAX_PACKS, PACK_MAX_PAYLOAD, STALE_TEMP_SECONDS, Cache, key
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


# -- packs: small payloads staged in memory, written as one file per build ---------------------------------


def packs(root: Path) -> list[Path]:
    return sorted((root / "packs").glob("*.pack"))


def test_staged_small_payloads_become_one_pack_file_and_read_back(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    keys = [key(DIGEST, "brotli", str(i)) for i in range(50)]
    for i, k in enumerate(keys):
        cache.stage(k, b"payload %d" % i)
    assert cache.get(keys[7]) == b"payload 7"  # staged entries hit before they reach the disk
    assert packs(tmp_path / "cache") == []
    cache.flush()
    assert len(packs(tmp_path / "cache")) == 1
    assert [p for p, _ in Cache(tmp_path / "cache").entries()] == packs(tmp_path / "cache")
    fresh = Cache(tmp_path / "cache")  # the next build
    assert [fresh.get(k) for k in keys] == [b"payload %d" % i for i in range(50)]


def test_a_big_staged_payload_is_an_entry_file_of_its_own(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "brotli", "big")
    cache.stage(k, b"x" * (PACK_MAX_PAYLOAD + 1))
    assert entry_path(cache, k).stat().st_size > PACK_MAX_PAYLOAD
    cache.flush()
    assert packs(tmp_path / "cache") == []


def pack_of_three(root: Path) -> tuple[Path, list[str]]:
    """A pack holding b"A" * 100, b"B" * 100 and b"C" * 100, and their keys in that order."""
    cache = Cache(root)
    keys = [key(DIGEST, "zlib", str(i)) for i in range(3)]
    for i, k in enumerate(keys):
        cache.stage(k, bytes([65 + i]) * 100)
    cache.flush()
    (pack,) = packs(root)
    return pack, keys


def test_a_corrupted_pack_record_is_a_miss_and_its_neighbours_still_hit(tmp_path: Path) -> None:
    pack, keys = pack_of_three(tmp_path / "cache")
    raw = bytearray(pack.read_bytes())
    raw[raw.index(b"B" * 100) + 50] ^= 0x01  # one byte of the middle payload
    pack.write_bytes(bytes(raw))
    fresh = Cache(tmp_path / "cache")
    assert [fresh.get(k) for k in keys] == [b"A" * 100, None, b"C" * 100]


def test_a_discarded_loose_entry_is_removed_at_once(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "brotli", "q")
    cache.put(k, b"intact but wrong")
    path = entry_path(cache, k)
    cache.discard(k)
    assert not path.exists()
    assert cache.get(k) is None
    assert Cache(tmp_path / "cache").get(k) is None


def test_a_discarded_pack_record_stops_being_returned_and_leaves_the_pack_at_flush(tmp_path: Path) -> None:
    pack, keys = pack_of_three(tmp_path / "cache")
    cache = Cache(tmp_path / "cache")
    assert cache.get(keys[1]) == b"B" * 100
    cache.discard(keys[1])
    assert cache.get(keys[1]) is None, "this process forgets it at once"
    cache.flush()
    assert b"B" * 100 not in pack.read_bytes(), "the pack is rewritten without the record"
    fresh = Cache(tmp_path / "cache")  # the next build
    assert [fresh.get(k) for k in keys] == [b"A" * 100, None, b"C" * 100]


def test_a_pack_whose_only_records_are_discarded_is_removed(tmp_path: Path) -> None:
    pack, keys = pack_of_three(tmp_path / "cache")
    cache = Cache(tmp_path / "cache")
    for k in keys:
        assert cache.get(k) is not None
        cache.discard(k)
    cache.flush()
    assert not pack.exists()


def test_rewriting_a_pack_without_a_record_drops_corrupted_records_too(tmp_path: Path) -> None:
    pack, keys = pack_of_three(tmp_path / "cache")
    raw = bytearray(pack.read_bytes())
    raw[raw.index(b"C" * 100) + 50] ^= 0x01
    pack.write_bytes(bytes(raw))
    cache = Cache(tmp_path / "cache")
    assert cache.get(keys[0]) == b"A" * 100
    cache.discard(keys[0])
    cache.flush()
    fresh = Cache(tmp_path / "cache")
    assert [fresh.get(k) for k in keys] == [None, b"B" * 100, None], "the rewrite must not re-digest a bad one"


def test_a_discarded_staged_payload_never_reaches_the_disk(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    k = key(DIGEST, "zlib", "staged")
    cache.stage(k, b"wrong")
    cache.discard(k)
    cache.flush()
    assert cache.get(k) is None
    assert packs(tmp_path / "cache") == []


def test_a_truncated_or_foreign_pack_yields_only_its_whole_records(tmp_path: Path) -> None:
    pack, keys = pack_of_three(tmp_path / "cache")
    pack.write_bytes(pack.read_bytes()[:-10])  # a restore that stopped short
    (tmp_path / "cache" / "packs" / "junk.pack").write_bytes(b"not a pack at all")
    fresh = Cache(tmp_path / "cache")
    last = keys.index(max(keys))  # records are in key order: the cut one is the last key's
    assert [fresh.get(k) for k in keys] == [None if i == last else bytes([65 + i]) * 100 for i in range(3)]


def test_many_packs_are_merged_keeping_the_biggest_and_every_entry(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = Cache(root)
    for i in range(20):
        first.stage(key(DIGEST, "cold", str(i)), b"cold build %d" % i)
    first.flush()
    (cold_pack,) = packs(root)
    small_keys = []
    for build in range(MAX_PACKS + 1):  # one pack per later build
        cache = Cache(root)
        small_keys.append(key(DIGEST, "warm", str(build)))
        cache.stage(small_keys[-1], b"build %d" % build)
        cache.flush()
    assert len(packs(root)) == 3  # merged into two when the 17th appeared, then one more
    assert cold_pack in packs(root)  # the big one is never rewritten
    fresh = Cache(root)
    assert [fresh.get(k) for k in small_keys] == [b"build %d" % b for b in range(MAX_PACKS + 1)]
    assert fresh.get(key(DIGEST, "cold", "19")) == b"cold build 19"


def test_prune_removes_a_least_recently_used_pack_whole_and_a_hit_refreshes_it(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    for name in ("old", "new"):
        cache = Cache(root)
        cache.stage(key(DIGEST, name, "1"), name.encode() * 100)
        cache.flush()
    old_pack, new_pack = packs(root)
    past = time.time_ns() - 10_000_000_000
    for pack in (old_pack, new_pack):
        os.utime(pack, ns=(past, past))
    reader = Cache(root)
    assert reader.get(key(DIGEST, "old", "1")) == b"old" * 100
    reader.flush()  # the end of a build: the pack it read from counts as used now
    Cache(root).prune(max_bytes=old_pack.stat().st_size)
    assert packs(root) == [old_pack]


def test_a_build_writes_its_small_siblings_to_one_pack_and_a_fresh_out_hits_them(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.pipeline import build

    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"icon{i}.svg").write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg"><path d="M{i} 0h{i}"/>' * 20
        )
    cache_dir = tmp_path / "cache"
    first = build(Config(source=src, output=tmp_path / "out1", cache_dir=cache_dir))
    assert first.compressed == 60
    assert len(packs(cache_dir)) == 1
    assert not [p for p in cache_dir.iterdir() if p.name != "packs" and len(p.name) == 2]  # no entry files
    second = build(Config(source=src, output=tmp_path / "out2", cache_dir=cache_dir))
    assert (second.compressed, second.cache_hits) == (0, 60)
    for sibling in (tmp_path / "out1").rglob("*.br"):
        assert (
            tmp_path / "out2" / sibling.relative_to(tmp_path / "out1")
        ).read_bytes() == sibling.read_bytes()


def test_staged_payloads_past_the_memory_cap_are_written_as_packs_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "PACK_FLUSH_BYTES", 250)
    cache = Cache(tmp_path / "cache")
    keys = [key(DIGEST, "brotli", str(i)) for i in range(10)]
    assert cache.get(keys[0]) is None  # the pack index is loaded (empty) before any pack exists
    for i, k in enumerate(keys):
        cache.stage(k, bytes([48 + i]) * 100)
    assert len(packs(tmp_path / "cache")) == 3  # after the 3rd, 6th and 9th payload
    assert cache.get(keys[0]) == b"0" * 100  # the same cache finds what it wrote in a pack
    cache.flush()
    assert len(packs(tmp_path / "cache")) == 4
    assert [Cache(tmp_path / "cache").get(k) for k in keys] == [bytes([48 + i]) * 100 for i in range(10)]


def test_a_later_cache_in_the_same_process_sees_packs_written_and_removed_since(tmp_path: Path) -> None:
    # The index of the packs is remembered per process (watch makes a Cache per build) only while every
    # pack is as it was: a pack another writer adds, or one that goes, is seen by the next Cache.
    first = [key(DIGEST, "brotli", f"a{i}") for i in range(3)]
    writer = Cache(tmp_path / "cache")
    for k in first:
        writer.stage(k, b"first " + k.encode())
    writer.flush()
    assert Cache(tmp_path / "cache").get(first[0]) == b"first " + first[0].encode()
    later = key(DIGEST, "brotli", "later")
    other = Cache(tmp_path / "cache")
    other.stage(later, b"later")
    other.flush()
    assert Cache(tmp_path / "cache").get(later) == b"later"
    for pack in packs(tmp_path / "cache"):
        pack.unlink()
    assert Cache(tmp_path / "cache").get(first[0]) is None
