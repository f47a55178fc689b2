"""Precompressed siblings: exact round trips, skip and saving rules, the cache path, determinism."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import brotli
import pytest

from assetpipe import cache as cache_module
from assetpipe import compress
from assetpipe.cache import Cache
from assetpipe.codecs import CODECS, zstd_module
from assetpipe.compress import (
    SPLIT_MIN_SIZE,
    CompressionPolicy,
    Compressor,
    gzip_method,
    gzip_zlib,
    gzip_zopfli,
    is_text,
    zopfli_rule,
)
from assetpipe.errors import OutputError
from assetpipe.manifest import Encoding
from tests.support import assert_helper_dies_with_its_build, small_tmpfs

MTIME_NS = 1_600_000_000_123_456_789
WORDS = "color margin padding display flex grid none auto solid border radius font weight url var".split()


def text_of(size: int, seed: int = 0) -> bytes:
    """Compressible but not trivial text of ``size`` bytes (CSS-like words, seeded)."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += f".c{rng.randrange(500)} {{ {rng.choice(WORDS)}: {rng.choice(WORDS)} {rng.randrange(99)}px; }}\n".encode()
    return bytes(out[:size])


def noise(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


SITE: dict[str, bytes] = {
    "css/app.abc123.css": text_of(3000, 1),
    "js/big.def456.js": text_of(SPLIT_MIN_SIZE + 5000, 2),  # takes the block-splitting zopfli path
    "img/icon.0a1b2c.svg": b'<svg xmlns="http://www.w3.org/2000/svg">' + text_of(800, 3) + b"</svg>",
    "data/list.9f9f9f.json": b'{"items": [' + b",".join(b'"item"' for _ in range(400)) + b"]}",
    "fonts/x.111111.ttf": text_of(2000, 4),  # binary type, compressible: generic brotli mode
}


def write_out(out: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(MTIME_NS, MTIME_NS))


def run(
    out: Path,
    files: dict[str, bytes],
    *,
    policy: CompressionPolicy | None = None,
    cache_dir: Path | None = None,
    jobs: int = 2,
    lookups: bool | None = None,
    fresh: bool = False,
) -> tuple[dict[str, dict[str, Encoding]], compress.CompressionStats]:
    """Write ``files`` into ``out`` and compress them all, as the pipeline does (``lookups`` True: cache hits
    through the lookup process, False: on this thread)."""
    write_out(out, files)
    policy = policy or CompressionPolicy()
    with Compressor(policy, cache_dir=cache_dir, jobs=jobs, lookups=lookups, fresh=fresh) as compressor:
        for rel, data in files.items():
            compressor.submit(out / rel, rel, data, content_type_of(rel), MTIME_NS)
        results = compressor.results()
    return results, compressor.stats


def content_type_of(rel: str) -> str:
    from assetpipe.media_types import media_type

    return media_type(rel)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- round trips and format ---------------------------------------------------------------------------


def test_every_sibling_decompresses_to_exactly_its_files_bytes(tmp_path: Path) -> None:
    results, _ = run(tmp_path / "out", SITE)
    for rel, data in SITE.items():
        assert set(results[rel]) == {"br", "gzip"}, rel
        br = tmp_path / "out" / results[rel]["br"].path
        gz = tmp_path / "out" / results[rel]["gzip"].path
        assert brotli.decompress(br.read_bytes()) == data
        assert gzip.decompress(gz.read_bytes()) == data


def test_encodings_name_the_sibling_paths_and_sizes(tmp_path: Path) -> None:
    results, _ = run(tmp_path / "out", {"css/app.abc123.css": SITE["css/app.abc123.css"]})
    encodings = results["css/app.abc123.css"]
    assert encodings["br"].path == "css/app.abc123.css.br"
    assert encodings["gzip"].path == "css/app.abc123.css.gz"
    for enc in encodings.values():
        assert (tmp_path / "out" / enc.path).stat().st_size == enc.size


def test_siblings_carry_the_originals_mtime(tmp_path: Path) -> None:
    results, _ = run(tmp_path / "out", SITE)
    for encodings in results.values():
        for enc in encodings.values():
            assert (tmp_path / "out" / enc.path).stat().st_mtime_ns == MTIME_NS


@pytest.mark.parametrize("backend", ["zopfli", "zlib"])
def test_gzip_header_has_no_file_name_and_mtime_zero(tmp_path: Path, backend: str) -> None:
    results, _ = run(tmp_path / "out", SITE, policy=CompressionPolicy(brotli=False, gzip_backend=backend))
    for encodings in results.values():
        header = (tmp_path / "out" / encodings["gzip"].path).read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[3] == 0, "FLG: no FNAME, no FEXTRA, no comment"
        assert header[4:8] == b"\0\0\0\0", "MTIME is zero"


@pytest.mark.parametrize("max_blocks", [0, 8])
def test_zopfli_beats_zlib_on_text_and_both_round_trip(max_blocks: int) -> None:
    data = text_of(40_000, 7)
    small = gzip_zopfli(data, iterations=1, max_blocks=max_blocks)
    assert gzip.decompress(small) == data
    assert gzip.decompress(gzip_zlib(data)) == data
    assert len(small) < len(gzip_zlib(data))


def test_the_gzip_recipe_splits_blocks_only_from_the_threshold_up() -> None:
    assert "blocks=0" in gzip_method("zopfli", SPLIT_MIN_SIZE - 1).settings
    assert zopfli_rule(SPLIT_MIN_SIZE - 1)[1] == 0
    assert zopfli_rule(SPLIT_MIN_SIZE)[1] > 0
    assert zopfli_rule(10**9)[1] > 0
    assert (
        gzip_method("zopfli", SPLIT_MIN_SIZE).settings != gzip_method("zopfli", SPLIT_MIN_SIZE - 1).settings
    )
    assert gzip_method("zlib", 10).compressor == "zlib"


def test_text_types_are_recognised_for_brotli_text_mode() -> None:
    for ct in ("text/css; charset=utf-8", "application/json", "image/svg+xml", "application/manifest+json"):
        assert is_text(ct), ct
    for ct in ("font/ttf", "application/wasm", "application/octet-stream"):
        assert not is_text(ct), ct


# -- policy: skips, switches, the saving rule ------------------------------------------------------------


def test_already_compressed_types_get_no_siblings_and_no_compressor_call(tmp_path: Path) -> None:
    files = {"img/a.1.png": text_of(4000), "fonts/b.2.WOFF2": text_of(4000), "media/c.3.mp4": text_of(4000)}
    results, stats = run(tmp_path / "out", files)
    assert results == {rel: {} for rel in files}
    assert stats.compressor_calls == 0
    assert tree(tmp_path / "out").keys() == files.keys()


def test_files_under_the_minimum_size_get_no_siblings(tmp_path: Path) -> None:
    policy = CompressionPolicy(min_size=1000)
    results, stats = run(tmp_path / "out", {"a.1.css": text_of(999), "b.2.css": text_of(1000)}, policy=policy)
    assert results["a.1.css"] == {}
    assert set(results["b.2.css"]) == {"br", "gzip"}
    assert stats.compressor_calls == 2


def test_a_disabled_encoding_is_not_made(tmp_path: Path) -> None:
    results, _ = run(tmp_path / "out", SITE, policy=CompressionPolicy(brotli=False))
    assert all(set(encs) == {"gzip"} for encs in results.values())
    assert not list((tmp_path / "out").rglob("*.br"))


def test_a_sibling_that_saves_less_than_five_percent_is_not_kept(tmp_path: Path) -> None:
    files = {"data/noise.1.txt": noise(4000), "css/app.2.css": text_of(4000)}
    results, stats = run(tmp_path / "out", files)
    assert results["data/noise.1.txt"] == {}
    assert not (tmp_path / "out" / "data/noise.1.txt.gz").exists()
    assert not (tmp_path / "out" / "data/noise.1.txt.br").exists()
    assert stats.compressor_calls == 4  # it was tried: the rule is about the result
    assert set(stats.bytes_out) == {"br", "gzip"}
    assert stats.encoded_in == {"br": 4000, "gzip": 4000}


def test_the_saving_rule_keeps_exactly_ninety_five_percent_and_drops_more() -> None:
    policy = CompressionPolicy()
    assert policy.keeps(1000, 950)
    assert not policy.keeps(1000, 951)
    assert CompressionPolicy(min_saving=0.0).keeps(1000, 1000)


def test_an_unknown_gzip_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="gzip_backend"):
        CompressionPolicy(gzip_backend="lzma")


def test_the_policy_fingerprint_changes_with_any_setting() -> None:
    prints = {
        CompressionPolicy().fingerprint(),
        CompressionPolicy(brotli=False).fingerprint(),
        CompressionPolicy(gzip_backend="zlib").fingerprint(),
        CompressionPolicy(min_saving=0.1).fingerprint(),
        CompressionPolicy(skip_extensions=frozenset({"png"})).fingerprint(),
        CompressionPolicy(zstd=True).fingerprint(),
    }
    assert len(prints) == 6


def test_a_stale_sibling_that_no_longer_matches_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "robots.txt.gz").write_bytes(gzip.compress(b"old content"))
    (out / "kept.txt.gz").write_bytes(gzip.compress(b"tiny"))
    run(out, {"robots.txt": noise(2000), "kept.txt": b"tiny"})
    assert not (out / "robots.txt.gz").exists(), "would serve the old robots.txt to gzip clients"
    assert (out / "kept.txt.gz").exists(), "still decompresses to the file: harmless, left alone"


# -- zstd (opt-in) ------------------------------------------------------------------------------------


def test_zstd_on_writes_zst_siblings_that_decompress_to_the_file(tmp_path: Path) -> None:
    results, _ = run(tmp_path / "out", SITE, policy=CompressionPolicy(zstd=True))
    for rel, data in SITE.items():
        assert set(results[rel]) == {"br", "gzip", "zstd"}, rel
        zst = tmp_path / "out" / results[rel]["zstd"].path
        assert zst.name == rel.rpartition("/")[2] + ".zst"
        assert zstd_module().decompress(zst.read_bytes()) == data
        assert zst.stat().st_size == results[rel]["zstd"].size
        assert zst.stat().st_mtime_ns == MTIME_NS


def test_zstd_is_off_by_default_and_no_zst_sibling_is_written(tmp_path: Path) -> None:
    results, _ = run(tmp_path / "out", SITE)
    assert all("zstd" not in encodings for encodings in results.values())
    assert not list((tmp_path / "out").rglob("*.zst"))


def test_zstd_alone_writes_only_zst_siblings_the_same_with_any_jobs(tmp_path: Path) -> None:
    only = CompressionPolicy(brotli=False, gzip=False, zstd=True)
    run(tmp_path / "one", SITE, policy=only, jobs=1)
    run(tmp_path / "four", SITE, policy=only, jobs=4)
    assert tree(tmp_path / "one") == tree(tmp_path / "four")
    assert {p.suffix for p in (tmp_path / "one").rglob("*.*.*") if p.suffix in (".br", ".gz", ".zst")} == {".zst"}


def test_a_zst_sibling_of_old_bytes_is_removed_when_zstd_is_switched_off(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "robots.txt.zst").write_bytes(zstd_module().compress(b"User-agent: *\nDisallow: /old\n"))
    run(out, {"robots.txt": text_of(2000)})
    assert not (out / "robots.txt.zst").exists(), "Caddy would serve the old robots.txt to zstd clients"


# -- cache --------------------------------------------------------------------------------------------


def entry_key_for(policy: CompressionPolicy, encoding: str, rel: str, data: bytes) -> str:
    method = compress.method_for(policy, encoding, len(data), content_type_of(rel))
    return cache_module.key(hashlib.sha256(data).digest(), method.compressor, method.settings)


def only(encoding: str) -> CompressionPolicy:
    """A policy that makes only ``encoding``'s siblings."""
    return CompressionPolicy(**{codec.config_key: name == encoding for name, codec in CODECS.items()})


def cache_bytes(cache_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(cache_dir.rglob("*")) if p.is_file())


@pytest.mark.parametrize("lookups", [False, True], ids=["here", "lookup-process"])
@pytest.mark.parametrize("stored", ["loose", "packed"])
@pytest.mark.parametrize("encoding", sorted(CODECS))
def test_an_intact_cache_entry_of_other_bytes_is_refused_dropped_and_recompressed(
    tmp_path: Path, encoding: str, stored: str, lookups: bool
) -> None:
    # A poisoned CI cache, or an older version's bug: the entry passes its digest check, but it is the
    # compression of other bytes (of the same size, so only the content gives it away).
    rel, data = "js/app.1.js", text_of(6000, seed=1)
    other = text_of(6000, seed=2)
    policy = only(encoding)
    method = compress.method_for(policy, encoding, len(data), content_type_of(rel))
    poison = method.run(other)
    entry_key = entry_key_for(policy, encoding, rel, data)
    cache_dir = tmp_path / "cache"
    if stored == "loose":
        Cache(cache_dir).put(entry_key, poison)
    else:
        poisoned = Cache(cache_dir)
        poisoned.stage(entry_key, poison)
        poisoned.stage("0" * 64, b"a neighbour that stays")
        poisoned.flush()
    assert Cache(cache_dir).get(entry_key) == poison, "intact: the digest check alone lets it through"

    results, stats = run(tmp_path / "out", {rel: data}, policy=policy, cache_dir=cache_dir, lookups=lookups)

    assert stats.by_lookup_process == int(lookups)
    sibling = (tmp_path / "out" / results[rel][encoding].path).read_bytes()
    assert CODECS[encoding].decode(sibling, len(data)) == data
    assert (stats.cache_hits, stats.cache_rejected, stats.compressor_calls) == (0, 1, 1)
    assert Cache(cache_dir).get(entry_key) == sibling, "replaced by the right entry"
    assert poison not in cache_bytes(cache_dir), "the wrong entry is gone from the disk"
    if stored == "packed":
        assert Cache(cache_dir).get("0" * 64) == b"a neighbour that stays"
    _, again = run(tmp_path / "out2", {rel: data}, policy=policy, cache_dir=cache_dir, lookups=lookups)
    assert (again.cache_hits, again.cache_rejected, again.compressor_calls) == (1, 0, 0)


def test_every_cache_hit_is_checked_and_the_check_is_counted(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(tmp_path / "out1", SITE, cache_dir=cache)
    _, warm = run(tmp_path / "out2", SITE, cache_dir=cache)
    assert (warm.cache_hits, warm.cache_rejected) == (2 * len(SITE), 0)
    assert warm.check_seconds > 0


def test_a_warm_cache_makes_no_compressor_calls_even_into_a_fresh_output(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold_results, cold = run(tmp_path / "out1", SITE, cache_dir=cache)
    warm_results, warm = run(tmp_path / "out2", SITE, cache_dir=cache)
    assert cold.compressor_calls == 2 * len(SITE)
    assert (cold.cache_hits, cold.cache_misses) == (0, 2 * len(SITE))
    assert warm.compressor_calls == 0
    assert warm.cache_hits == 2 * len(SITE)
    assert warm_results == cold_results
    assert tree(tmp_path / "out2") == tree(tmp_path / "out1")


@pytest.mark.parametrize("lookups", [False, True], ids=["here", "lookup-process"])
def test_a_corrupted_cache_entry_is_recomputed_not_copied(tmp_path: Path, lookups: bool) -> None:
    cache_dir = tmp_path / "cache"
    one = {"css/app.1.css": text_of(5000)}
    run(tmp_path / "out1", one, cache_dir=cache_dir, policy=CompressionPolicy(brotli=False))
    ((entry, _),) = list(Cache(cache_dir).entries())
    raw = bytearray(entry.read_bytes())
    raw[-1] ^= 0xFF
    entry.write_bytes(bytes(raw))

    results, stats = run(
        tmp_path / "out2", one, cache_dir=cache_dir, policy=CompressionPolicy(brotli=False), lookups=lookups
    )

    assert stats.compressor_calls == 1
    assert stats.cache_hits == 0
    gz = (tmp_path / "out2" / results["css/app.1.css"]["gzip"].path).read_bytes()
    assert gzip.decompress(gz) == one["css/app.1.css"]
    data = one["css/app.1.css"]
    method = compress.method_for(CompressionPolicy(), "gzip", len(data), "text/css")
    entry_key = cache_module.key(hashlib.sha256(data).digest(), method.compressor, method.settings)
    assert Cache(cache_dir).get(entry_key) == gz, "the entry was stored again, whole"


def test_a_build_that_adds_entries_prunes_the_cache_to_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One entry file per sibling, so that pruning has more than one pack to choose from.
    monkeypatch.setattr(cache_module, "PACK_MAX_PAYLOAD", 0)
    run(tmp_path / "out", SITE, cache_dir=tmp_path / "unbounded")
    total = sum(st.st_size for _, st in Cache(tmp_path / "unbounded").entries())
    bounded = tmp_path / "bounded"
    write_out(tmp_path / "out", SITE)
    with Compressor(CompressionPolicy(), cache_dir=bounded, jobs=2, max_cache_bytes=total // 2) as compressor:
        for rel, data in SITE.items():
            compressor.submit(tmp_path / "out" / rel, rel, data, content_type_of(rel), MTIME_NS)
        compressor.results()
    assert 0 < sum(st.st_size for _, st in Cache(bounded).entries()) <= total // 2


def test_a_different_backend_misses_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(tmp_path / "out1", SITE, cache_dir=cache, policy=CompressionPolicy(brotli=False))
    _, stats = run(
        tmp_path / "out2", SITE, cache_dir=cache, policy=CompressionPolicy(brotli=False, gzip_backend="zlib")
    )
    assert stats.compressor_calls == len(SITE)


# -- determinism and stability ------------------------------------------------------------------------


def test_output_is_identical_with_one_or_two_jobs(tmp_path: Path) -> None:
    run(tmp_path / "one", SITE, jobs=1)
    run(tmp_path / "two", SITE, jobs=2)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_output_is_identical_with_a_cold_or_warm_cache_or_none(tmp_path: Path) -> None:
    run(tmp_path / "none", SITE)
    run(tmp_path / "cold", SITE, cache_dir=tmp_path / "cache")
    run(tmp_path / "warm", SITE, cache_dir=tmp_path / "cache")
    assert tree(tmp_path / "none") == tree(tmp_path / "cold") == tree(tmp_path / "warm")


def test_an_unchanged_sibling_is_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = {"css/app.1.css": text_of(3000)}
    run(out, files)
    before = {p.name: p.stat().st_ino for p in out.rglob("*.gz")} | {
        p.name: p.stat().st_ino for p in out.rglob("*.br")
    }
    _, stats = run(out, files)
    after = {p.name: p.stat().st_ino for p in out.rglob("*.gz")} | {
        p.name: p.stat().st_ino for p in out.rglob("*.br")
    }
    assert after == before
    assert (stats.siblings_written, stats.siblings_unchanged) == (0, 2)


def test_an_unchanged_sibling_gets_the_originals_new_mtime(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = {"robots.txt": text_of(3000)}
    run(out, files)
    later = MTIME_NS + 5_000_000_000
    with Compressor(CompressionPolicy(), cache_dir=None, jobs=1) as compressor:
        compressor.submit(out / "robots.txt", "robots.txt", files["robots.txt"], "text/plain", later)
        compressor.results()
    assert (out / "robots.txt.gz").stat().st_mtime_ns == later
    assert compressor.stats.siblings_written == 0


def test_inputs_over_the_memory_budget_are_read_back_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(tmp_path / "held", SITE)
    monkeypatch.setattr(compress, "MAX_PENDING_BYTES", 0)
    run(tmp_path / "reread", SITE)
    assert tree(tmp_path / "reread") == tree(tmp_path / "held")


def test_calls_too_big_for_the_memory_budget_still_run_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(tmp_path / "free", SITE)
    monkeypatch.setattr(compress, "MAX_RUNNING_MEMORY", 1)
    run(tmp_path / "tight", SITE, jobs=2)
    assert tree(tmp_path / "tight") == tree(tmp_path / "free")


def test_the_memory_budget_lets_small_calls_run_beside_the_biggest_and_keeps_two_big_ones_apart() -> None:
    # While brotli works on a 5 MB JSON (about 59 MB measured), the other worker must not sit idle: an
    # 600 KB file's brotli call or any zlib call fits beside it; a second multi-megabyte call does not.
    def memory(encoding: str, compressor: str, size: int) -> int:
        return compress.working_memory(encoding, compressor, size)

    big = memory("br", "brotli", 5_000_000)
    assert big >= 59 * 1024 * 1024
    assert big + memory("br", "brotli", 600_000) <= compress.MAX_RUNNING_MEMORY
    assert big + memory("gzip", "zlib", 5_000_000) <= compress.MAX_RUNNING_MEMORY
    assert big + memory("gzip", "zopfli", 300_000) <= compress.MAX_RUNNING_MEMORY
    assert big + memory("br", "brotli", 2_000_000) > compress.MAX_RUNNING_MEMORY
    assert memory("gzip", "zopfli", 50_000_000) == memory("gzip", "zopfli", 5_000_000)  # 1 MB blocks


def test_a_file_changed_on_disk_before_it_is_read_back_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compress, "MAX_PENDING_BYTES", 0)
    out = tmp_path / "out"
    write_out(out, {"a.1.css": b"something else entirely " * 40})
    with Compressor(CompressionPolicy(), cache_dir=None, jobs=1) as compressor:
        compressor.submit(out / "a.1.css", "a.1.css", text_of(2000), "text/css", MTIME_NS)
        with pytest.raises(OutputError, match="changed on disk"):
            compressor.results()


def test_a_sibling_that_cannot_be_written_raises_output_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "app.1.css.gz").mkdir(parents=True)  # a directory where the sibling goes
    with pytest.raises(OutputError) as info:
        run(out, {"app.1.css": text_of(3000)}, policy=CompressionPolicy(brotli=False))
    assert "app.1.css.gz" in str(info.value)


# -- the lookup process -------------------------------------------------------------------------------

MANY = {f"js/m{i}.{i:06x}.js": text_of(1500 + 37 * i, seed=i) for i in range(120)}


@pytest.fixture(scope="module")
def many_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Encoding]]]:
    """A cache that has every sibling of MANY (made once for the module), and what a cold run returned."""
    root = tmp_path_factory.mktemp("many")
    results, _ = run(root / "cold", MANY, cache_dir=root / "cache")
    return root, results


@pytest.fixture
def warm(many_cache: tuple[Path, dict[str, dict[str, Encoding]]], tmp_path: Path) -> Path:
    """A copy of the warm cache of MANY, for this test to use up; its cold run's OUT is beside it."""
    shutil.copytree(many_cache[0] / "cache", tmp_path / "cache")
    shutil.copytree(many_cache[0] / "cold", tmp_path / "cold")
    return tmp_path / "cache"


def tree_with_times(root: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fresh", [False, True], ids=["out-with-files", "empty-out"])
def test_siblings_from_the_lookup_process_are_the_ones_this_thread_would_write(
    tmp_path: Path, fresh: bool, warm: Path, many_cache: tuple[Path, dict[str, dict[str, Encoding]]]
) -> None:
    cache, cold = warm, many_cache[1]
    here, by_here = run(tmp_path / "here", MANY, cache_dir=cache, lookups=False, fresh=fresh)
    there, by_process = run(tmp_path / "there", MANY, cache_dir=cache, lookups=True, fresh=fresh)
    assert (by_here.by_lookup_process, by_process.by_lookup_process) == (0, len(MANY))
    assert by_process.cache_hits == by_here.cache_hits == 2 * len(MANY)
    assert by_process.compressor_calls == 0
    assert cold == here == there
    assert tree_with_times(tmp_path / "here") == tree_with_times(tmp_path / "there")


def test_the_lookup_process_removes_a_stale_sibling_of_an_encoding_no_longer_made(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(tmp_path / "warm", MANY, cache_dir=cache, policy=CompressionPolicy(brotli=False))
    out = tmp_path / "out"
    rel = next(iter(MANY))
    (out / (rel + ".br")).parent.mkdir(parents=True)
    (out / (rel + ".br")).write_bytes(brotli.compress(b"old bytes"))
    (out / (rel + ".zst")).write_bytes(b"half a frame")
    right = brotli.compress(MANY[rel])
    (out / (next(reversed(MANY)) + ".br")).write_bytes(b"")  # not a sibling of anything decodable either
    kept = list(MANY)[1]
    (out / (kept + ".br")).write_bytes(brotli.compress(MANY[kept]))  # right: left where it is

    _, stats = run(out, MANY, cache_dir=cache, policy=CompressionPolicy(brotli=False), lookups=True)

    assert stats.by_lookup_process == len(MANY)
    assert not (out / (rel + ".br")).exists() and not (out / (rel + ".zst")).exists()
    assert not (out / (next(reversed(MANY)) + ".br")).exists()
    assert (out / (kept + ".br")).read_bytes() == brotli.compress(MANY[kept]) != right


def test_where_no_lookup_process_can_start_the_build_does_its_work(
    tmp_path: Path, warm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "")  # an embedded interpreter: nothing to start
    _, stats = run(tmp_path / "out", MANY, cache_dir=warm, lookups=True, fresh=True)
    assert (stats.by_lookup_process, stats.cache_hits, stats.compressor_calls) == (0, 2 * len(MANY), 0)
    assert tree_with_times(tmp_path / "out") == tree_with_times(tmp_path / "cold")


def test_a_cold_cache_or_a_small_build_starts_no_lookup_process(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _, cold = run(tmp_path / "cold", MANY, cache_dir=cache, fresh=True)
    _, small = run(tmp_path / "small", dict(list(MANY.items())[:3]), cache_dir=cache, fresh=True)
    assert cold.by_lookup_process == small.by_lookup_process == 0
    assert small.cache_hits == 6


def test_a_warm_cache_into_an_empty_output_of_many_files_uses_the_lookup_process(
    tmp_path: Path, warm: Path
) -> None:
    cache = warm
    write_out(tmp_path / "out", MANY)
    with Compressor(CompressionPolicy(), cache_dir=cache, jobs=2, fresh=True, expected=len(MANY)) as c:
        for rel, data in MANY.items():
            c.submit(tmp_path / "out" / rel, rel, data, content_type_of(rel), MTIME_NS)
        c.results()
    assert c.stats.by_lookup_process > 0
    assert c.stats.cache_hits == 2 * len(MANY)
    assert tree(tmp_path / "out") == tree(tmp_path / "cold")


@pytest.mark.parametrize("when", ["before-it-answers", "after-some-answers"])
def test_a_lookup_process_that_dies_leaves_its_files_to_this_process(
    tmp_path: Path, warm: Path, when: str
) -> None:
    # Killed (the OOM killer, a stray kill): what it had not answered is done here, and the build's
    # siblings are the same; a sibling it left half-written (in place, into an empty OUT) is replaced.
    cache = warm
    out = tmp_path / "out"
    write_out(out, MANY)
    items = list(MANY.items())
    half = out / (items[-1][0] + ".gz")
    half.write_bytes(gzip.compress(items[-1][1])[:20])  # as a killed write_new leaves it
    with Compressor(CompressionPolicy(), cache_dir=cache, jobs=2, lookups=True, fresh=True) as compressor:
        for i, (rel, data) in enumerate(items):
            compressor.submit(out / rel, rel, data, content_type_of(rel), MTIME_NS)
            if i == (0 if when == "before-it-answers" else 80):
                if when == "after-some-answers":
                    deadline = time.monotonic() + 30
                    while compressor.stats.by_lookup_process == 0 and time.monotonic() < deadline:
                        time.sleep(0.01)
                    assert compressor.stats.by_lookup_process > 0
                process = compressor._lookups  # the seam: the process itself
                assert process is not None
                process.kill()
                process.wait()
        results = compressor.results()
    assert compressor.stats.by_lookup_process < len(MANY)
    assert compressor.stats.compressor_calls == 0
    assert results == run(tmp_path / "again", MANY, cache_dir=cache, lookups=False)[0]
    assert tree_with_times(out) == tree_with_times(tmp_path / "again")


def test_a_failure_while_taking_the_lookup_process_answers_fails_the_build_instead_of_hanging(
    tmp_path: Path, warm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = warm
    book = Compressor._book

    def broken(self: Compressor, *args: object, processed: bool = False) -> None:
        if processed:
            raise RuntimeError("a bug while booking")
        book(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Compressor, "_book", broken)
    outcome: list[BaseException] = []

    def build() -> None:
        try:
            run(tmp_path / "out", MANY, cache_dir=cache, lookups=True)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    thread.join(120)  # not a timing: a hang would never end
    assert not thread.is_alive(), "results() waited for ever"
    assert [str(e) for e in outcome] == ["a bug while booking"]


def test_a_file_changed_on_disk_before_the_lookup_process_reads_it_is_an_error(
    tmp_path: Path, warm: Path
) -> None:
    cache = warm
    out = tmp_path / "out"
    write_out(out, MANY)
    rel = next(iter(MANY))
    (out / rel).write_bytes(b"something else entirely " * 40)
    with Compressor(CompressionPolicy(), cache_dir=cache, jobs=2, lookups=True) as compressor:
        for name, data in MANY.items():
            compressor.submit(out / name, name, data, content_type_of(name), MTIME_NS)
        with pytest.raises(OutputError, match="changed on disk") as info:
            compressor.results()
    assert info.value.path == rel


def test_a_sibling_the_lookup_process_cannot_write_raises_output_error_naming_it(
    tmp_path: Path, warm: Path
) -> None:
    cache = warm
    out = tmp_path / "out"
    rel = list(MANY)[7]
    (out / (rel + ".gz")).mkdir(parents=True)  # a directory where the sibling goes
    with pytest.raises(OutputError) as info:
        run(out, MANY, cache_dir=cache, lookups=True, fresh=True)
    assert info.value.path is not None and info.value.path.endswith(rel + ".gz")


def test_a_full_disk_under_the_lookup_process_raises_output_error_and_leaves_no_part_of_a_sibling(
    tmp_path: Path,
) -> None:
    # 720 KB of outputs on a 1 MiB filesystem, written before the siblings (as the pipeline does): the
    # lookup process runs out of space placing siblings from the cache.
    files = {f"css/s{i}.{i:06x}.css": text_of(12_000, seed=i) + noise(12_000, seed=i) for i in range(30)}
    cache = tmp_path / "cache"
    run(tmp_path / "warm", files, cache_dir=cache)
    with small_tmpfs(tmp_path / "mnt", "1m") as mnt:
        out = mnt / "out"
        with pytest.raises(OutputError, match="No space left on device") as info:
            run(out, files, cache_dir=cache, lookups=True, fresh=True)
        assert info.value.path is not None and info.value.path.startswith(str(out))
        siblings = [p for p in out.rglob("*") if p.suffix in (".gz", ".br")]
        assert siblings, "some fitted"
        for sibling in siblings:
            plain = files[sibling.relative_to(out).with_suffix("").as_posix()]
            codec = "gzip" if sibling.suffix == ".gz" else "br"
            assert CODECS[codec].decode(sibling.read_bytes(), len(plain)) == plain


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_lookup_process_does_not_outlive_a_killed_build(tmp_path: Path, warm: Path) -> None:
    # SIGKILL to the build alone (not its process group): the lookup process must not go on writing into
    # OUT for a build that is gone, where the next build may already be running. Its first file here is a
    # FIFO this test holds open: the process is stuck reading it back, and only the kernel's parent-death
    # signal can end it.
    cache = warm
    out = tmp_path / "out"
    write_out(out, MANY)
    fifo = out / next(iter(MANY))
    fifo.unlink()
    os.mkfifo(fifo)
    script = f"""
import os, signal, sys
from pathlib import Path
from assetpipe.compress import LOOKUP_BATCH, CompressionPolicy, Compressor
c = Compressor(CompressionPolicy(), cache_dir=Path({str(cache)!r}), jobs=2, lookups=True)
out = Path({str(out)!r})
for rel in sorted(p.relative_to(out).as_posix() for p in out.rglob("*.js"))[:LOOKUP_BATCH]:
    c.submit(out / rel, rel, b"x" * 1000, "text/javascript", 0)  # one whole batch: sent at once
print(c._lookups.pid, flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)
"""
    assert_helper_dies_with_its_build(script, fifo, "lookup process")



def test_stats_count_files_bytes_and_savings(tmp_path: Path) -> None:
    _, stats = run(tmp_path / "out", SITE)
    assert stats.files == len(SITE)
    assert stats.bytes_in == sum(len(d) for d in SITE.values())
    assert stats.siblings_written == 2 * len(SITE)
    assert 0.5 < stats.saving("gzip") < 1.0
    assert stats.saving("br") > stats.saving("gzip")
    assert stats.saving("none") == 0.0


# -- through the build and the command line -----------------------------------------------------------


def build_site(tmp_path: Path, *flags: str) -> Path:
    from click.testing import CliRunner

    from assetpipe.cli import cli

    src, out = tmp_path / "src", tmp_path / "out"
    write_out(
        src, {"css/app.css": text_of(4000), "js/app.js": text_of(3000, seed=5), "img/x.png": noise(900)}
    )
    argv = ["build", "-s", str(src), "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    result = CliRunner().invoke(cli, [*argv, "--gzip-backend", "zlib", *flags])
    assert result.exit_code == 0, result.output
    return out


def test_a_build_with_zstd_writes_zst_siblings_that_decompress_to_the_file_and_lists_them(
    tmp_path: Path,
) -> None:
    from assetpipe.manifest import Manifest
    from assetpipe.verify import verify

    out = build_site(tmp_path, "--zstd")
    manifest = Manifest.load(out / "manifest.json")
    for logical in ("css/app.css", "js/app.js"):
        entry = manifest.entry(logical)
        assert entry.encodings["zstd"].path == entry.path + ".zst"
        zst = (out / entry.encodings["zstd"].path).read_bytes()
        assert zstd_module().decompress(zst) == (out / entry.path).read_bytes()
    assert "zstd" not in manifest.entry("img/x.png").encodings
    assert verify(out).ok


def test_a_build_without_zstd_writes_no_zst_sibling(tmp_path: Path) -> None:
    from assetpipe.manifest import Manifest

    out = build_site(tmp_path)
    assert not list(out.rglob("*.zst"))
    manifest = Manifest.load(out / "manifest.json")
    assert all(set(entry.encodings) <= {"br", "gzip"} for entry in manifest.assets.values())
    assert manifest.entry("css/app.css").encodings, "the other siblings are still made"


def test_policy_for_follows_every_codec_switch_of_the_config(tmp_path: Path) -> None:
    from assetpipe.config import Config

    base = Config(source=tmp_path, output=tmp_path / "out")
    assert compress.policy_for(base) == CompressionPolicy()
    assert compress.policy_for(Config(source=tmp_path, output=tmp_path, zstd=True)) == CompressionPolicy(
        zstd=True
    )
    off = Config(source=tmp_path, output=tmp_path, brotli=False, gzip=False)
    assert compress.policy_for(off) is None
    assert compress.policy_for(Config(source=tmp_path, output=tmp_path, compress=False, zstd=True)) is None
    zlib_only = Config(source=tmp_path, output=tmp_path, brotli=False, gzip_backend="zlib", min_size=10)
    assert compress.policy_for(zlib_only) == CompressionPolicy(brotli=False, gzip_backend="zlib", min_size=10)
