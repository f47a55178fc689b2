"""Compressor-level measurements on the benchmark corpus (not a pass/fail test).

    python benchmarks/corpus.py                                   # fetch the corpus once
    python benchmarks/bench_compress.py sweep  [--jobs 2]         # per-file bytes and CPU s, every recipe
    python benchmarks/bench_compress.py report                    # tables by size class + the policy's totals
    python benchmarks/bench_compress.py pool   [--jobs 2]         # threads vs processes, wall time
    python benchmarks/bench_compress.py verify-cost [--jobs 2]    # the cache-hit decode check vs compressing

``sweep`` compresses every file the default policy would compress (no skipped type, >= min_size) with each
recipe in RECIPES and appends one JSON line per (file, recipe) to benchmarks/.work/sweep.jsonl: input and
output bytes and the CPU seconds of that one call (thread CPU time, so a busy machine changes wall time but
hardly the numbers). ``report`` reads that file back; it can be rerun without compressing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import brotli

from assetpipe import compress
from assetpipe.codecs import CODECS
from assetpipe.compress import (
    CompressionPolicy,
    Compressor,
    decodes_to,
    gzip_zlib,
    gzip_zopfli,
    is_text,
    method_for,
)
from assetpipe.media_types import media_type

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
DEFAULT_CORPUS = HERE / "corpus" / "1x"
SIZE_CLASSES: tuple[tuple[str, int, int], ...] = (
    ("256 B - 2 KB", 256, 2048),
    ("2 - 16 KB", 2048, 16 * 1024),
    ("16 - 64 KB", 16 * 1024, 64 * 1024),
    ("64 - 256 KB", 64 * 1024, 256 * 1024),
    ("256 KB - 1 MB", 256 * 1024, 1024 * 1024),
    ("> 1 MB", 1024 * 1024, 1 << 62),
)


def _zopfli(iterations: int, max_blocks: int) -> Callable[[bytes, bool], bytes]:
    return lambda data, text: gzip_zopfli(data, iterations=iterations, max_blocks=max_blocks)


def _brotli(lgwin: int, text_mode: bool | None) -> Callable[[bytes, bool], bytes]:
    def run(data: bytes, text: bool) -> bytes:
        use_text = text if text_mode is None else text_mode
        mode = brotli.MODE_TEXT if use_text else brotli.MODE_GENERIC
        return bytes(brotli.compress(data, quality=11, lgwin=lgwin, mode=mode))

    return run


#: name -> fn(data, is_text) -> compressed bytes
RECIPES: dict[str, Callable[[bytes, bool], bytes]] = {
    "zlib-9": lambda data, text: gzip_zlib(data),
    # zopfli-N: N iterations, block splitting as zopfli's defaults (at most 15 blocks); -maxB: at most B
    # blocks; -nosplit: one block.
    "zopfli-1": _zopfli(1, 15),
    "zopfli-5": _zopfli(5, 15),
    "zopfli-15": _zopfli(15, 15),
    "zopfli-1-nosplit": _zopfli(1, 0),
    "zopfli-15-nosplit": _zopfli(15, 0),
    "zopfli-1-max5": _zopfli(1, 5),
    "zopfli-1-max8": _zopfli(1, 8),
    "zopfli-3-max8": _zopfli(3, 8),
    "brotli-11": _brotli(22, False),  # the library's defaults: lgwin 22, generic mode
    "brotli-11-w24": _brotli(24, None),  # lgwin 24, text mode for text types (measured: no gain)
    "brotli-11-text": _brotli(22, None),  # assetpipe's: lgwin 22, text mode for text types
}


def corpus_files(corpus: Path, policy: CompressionPolicy) -> list[tuple[str, int]]:
    """(path relative to corpus, size) of each file the policy would compress, largest first."""
    out = []
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            rel = path.relative_to(corpus).as_posix()
            size = path.stat().st_size
            if policy.applies(rel, size):
                out.append((rel, size))
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


def _measure(corpus: str, rel: str, recipe: str) -> dict[str, object]:
    data = (Path(corpus) / rel).read_bytes()
    text = is_text(media_type(rel))
    start = time.thread_time()
    out = RECIPES[recipe](data, text)
    cpu = time.thread_time() - start
    return {"file": rel, "recipe": recipe, "size": len(data), "out": len(out), "cpu": round(cpu, 6)}


def sweep(corpus: Path, recipes: Iterable[str], jobs: int, out: Path, min_size: int = 0) -> None:
    """Measure every (file, recipe) not already in ``out``; append results as JSON lines."""
    done: set[tuple[str, str]] = set()
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["file"], row["recipe"]))
    files = corpus_files(corpus, CompressionPolicy())
    tasks = [(rel, r) for rel, size in files for r in recipes if (rel, r) not in done and size >= min_size]
    print(f"{len(files)} files, {len(tasks)} measurements to do", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with ProcessPoolExecutor(jobs) as pool, out.open("a") as fh:
        futures = [pool.submit(_measure, str(corpus), rel, r) for rel, r in tasks]
        for i, future in enumerate(futures, 1):
            fh.write(json.dumps(future.result()) + "\n")
            if i % 500 == 0:
                fh.flush()
                print(f"  {i}/{len(tasks)} {time.monotonic() - start:.0f}s", file=sys.stderr)


def load(path: Path) -> dict[str, dict[str, tuple[int, int, float]]]:
    """file -> recipe -> (size, out bytes, cpu s)."""
    rows: dict[str, dict[str, tuple[int, int, float]]] = defaultdict(dict)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        rows[r["file"]][r["recipe"]] = (r["size"], r["out"], r["cpu"])
    return rows


def _policy_recipe(policy: CompressionPolicy, encoding: str, size: int, rel: str) -> str:
    """The RECIPES name matching what assetpipe.compress would run for this file."""
    method = method_for(policy, encoding, size, media_type(rel))
    if method.compressor == "brotli":
        return "brotli-11-text"
    if method.compressor == "zlib":
        return "zlib-9"
    settings = dict(part.split("=") for part in method.settings.split(";") if "=" in part)
    blocks = settings["blocks"]
    suffix = {"0": "-nosplit", "15": ""}.get(blocks, f"-max{blocks}")
    return f"zopfli-{settings['iterations']}{suffix}"


def report(path: Path, policy: CompressionPolicy) -> str:
    """Markdown tables: per size class, bytes and CPU s of each recipe; then the policy against zlib-9."""
    rows = load(path)
    recipes = [r for r in RECIPES if any(r in per for per in rows.values())]
    lines = ["| size class | files | bytes in | " + " | ".join(recipes) + " |"]
    lines.append("|" + "---|" * (3 + len(recipes)))
    totals = {r: [0, 0.0] for r in recipes}
    for label, low, high in SIZE_CLASSES:
        members = [per for per in rows.values() if low <= next(iter(per.values()))[0] < high]
        if not members:
            continue
        size_in = sum(next(iter(per.values()))[0] for per in members)
        cells = []
        for r in recipes:
            if not all(r in per for per in members):
                cells.append("-")
                totals[r][0] = -1
                continue
            b = sum(per[r][1] for per in members)
            c = sum(per[r][2] for per in members)
            if totals[r][0] >= 0:
                totals[r][0] += b
            totals[r][1] += c
            cells.append(f"{b / 1e3:,.0f} kB / {c:.1f} s")
        lines.append(f"| {label} | {len(members)} | {size_in / 1e3:,.0f} kB | " + " | ".join(cells) + " |")
    size_total = sum(next(iter(per.values()))[0] for per in rows.values())
    cells = [
        f"**{totals[r][0] / 1e3:,.0f} kB / {totals[r][1]:.1f} s**" if totals[r][0] >= 0 else "-"
        for r in recipes
    ]
    lines.append(f"| all | {len(rows)} | {size_total / 1e3:,.0f} kB | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("cells: total output bytes / single-core CPU seconds of the calls")
    lines.append("")
    lines.append(_policy_summary(rows, policy))
    return "\n".join(lines)


def _policy_summary(rows: dict[str, dict[str, tuple[int, int, float]]], policy: CompressionPolicy) -> str:
    """The policy's own choice per file, totalled, with the saving rule applied like the build does."""
    out = []
    for encoding, baseline in (("gzip", "zlib-9"), ("br", "brotli-11")):
        chosen_bytes = base_bytes = 0
        chosen_cpu = base_cpu = 0.0
        missing = 0
        for rel, per in rows.items():
            size = next(iter(per.values()))[0]
            recipe = _policy_recipe(policy, encoding, size, rel)
            if recipe not in per or baseline not in per:
                missing += 1
                continue
            # Compare like whitenoise does: only files where the sibling is kept count, original otherwise.
            _, b, c = per[recipe]
            _, bb, bc = per[baseline]
            chosen_bytes += b if policy.keeps(size, b) else size
            base_bytes += bb if policy.keeps(size, bb) else size
            chosen_cpu += c
            base_cpu += bc
        ratio = chosen_bytes / base_bytes if base_bytes else float("nan")
        out.append(
            f"- {encoding}: policy {chosen_bytes:,} B in {chosen_cpu:.1f} CPU s; {baseline} {base_bytes:,} B "
            f"in {base_cpu:.1f} CPU s; ratio {ratio:.4f}"
            + (f" ({missing} files unmeasured)" if missing else "")
        )
    return "\n".join(out)


# -- threads vs processes --------------------------------------------------------------------------------


def _policy_job(corpus: str, rel: str, encoding: str) -> int:
    data = (Path(corpus) / rel).read_bytes()
    method = method_for(CompressionPolicy(), encoding, len(data), media_type(rel))
    return len(method.run(data))


def _policy_job_bytes(data: bytes, rel: str, encoding: str) -> int:
    method = method_for(CompressionPolicy(), encoding, len(data), media_type(rel))
    return len(method.run(data))


def pool(corpus: Path, jobs: int, repeat: int) -> str:
    """Wall time of the default policy's calls over the corpus, largest first, on threads and on processes.

    Processes are given the bytes (as the pipeline would have to: it holds them after hashing), so the
    pickling cost of sending inputs and receiving outputs is counted.
    """
    files = corpus_files(corpus, CompressionPolicy())
    datas = {rel: (corpus / rel).read_bytes() for rel, _ in files}
    results: dict[str, list[float]] = {"threads": [], "processes": []}
    for _ in range(repeat):
        for kind in ("threads", "processes"):
            executor: Executor = ThreadPoolExecutor(jobs) if kind == "threads" else ProcessPoolExecutor(jobs)
            with executor:
                if kind == "processes":
                    list(executor.map(_policy_job_bytes, [b"warm"] * jobs, ["a.txt"] * jobs, ["gzip"] * jobs))
                start = time.perf_counter()
                futures = [
                    executor.submit(_policy_job_bytes, datas[rel], rel, enc)
                    for rel, _ in files
                    for enc in ("br", "gzip")
                ]
                for f in futures:
                    f.result()
                results[kind].append(time.perf_counter() - start)
    lines = [f"jobs={jobs}, {len(files)} files x 2 encodings, {repeat} runs each (median, all):"]
    for kind, times in results.items():
        lines.append(f"- {kind}: {statistics.median(times):.1f} s  {[round(t, 1) for t in times]}")
    return "\n".join(lines)


# -- the cost of checking cache hits ----------------------------------------------------------------------


def _compress_and_check(data: bytes, rel: str, encoding: str, policy: CompressionPolicy) -> tuple[float, float]:
    """(CPU s of the compressor call, CPU s of the decode check a cache hit gets) for one sibling."""
    method = method_for(policy, encoding, len(data), media_type(rel))
    start = time.thread_time()
    payload = method.run(data)
    compressed = time.thread_time()
    assert decodes_to(encoding, payload, data), rel
    return compressed - start, time.thread_time() - compressed


def _warm_build(files: list[tuple[str, int]], datas: dict[str, bytes], cache: Path, jobs: int) -> float:
    """Wall seconds of siblings for every file from a warm cache into an empty OUT (as CI with a restored
    cache does), through the Compressor."""
    import tempfile

    policy = CompressionPolicy(zstd=True)
    with tempfile.TemporaryDirectory(prefix="assetpipe-bench-") as tmp:
        out = Path(tmp)
        for rel, _ in files:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(datas[rel])
        start = time.perf_counter()
        with Compressor(policy, cache_dir=cache, jobs=jobs) as compressor:
            for rel, _ in files:
                compressor.submit(out / rel, rel, datas[rel], media_type(rel), 0)
            compressor.results()
        return time.perf_counter() - start


def verify_cost(corpus: Path, jobs: int, repeat: int) -> str:
    """What the decode check of every cache hit costs: per encoding, the CPU of checking each sibling of the
    corpus against the CPU of compressing it; then a warm-cache build into an empty OUT with the check and
    with it switched off (the same Compressor, ``decodes_to`` replaced by a stub), median of ``repeat``."""
    import tempfile

    policy = CompressionPolicy(zstd=True)
    files = corpus_files(corpus, policy)
    datas = {rel: (corpus / rel).read_bytes() for rel, _ in files}
    tasks = [(rel, enc) for rel, _ in files for enc in policy.encodings()]
    with ThreadPoolExecutor(jobs) as executor:
        timings = list(executor.map(lambda t: _compress_and_check(datas[t[0]], t[0], t[1], policy), tasks))
    per: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (_, enc), (cpu, check) in zip(tasks, timings, strict=True):
        per[enc][0] += cpu
        per[enc][1] += check
    lines = [
        f"{len(files)} files, {sum(size for _, size in files) / 1e6:.1f} MB; single-core CPU seconds:",
        "",
        "| encoding | compress | decode check | check / compress |",
        "|---|---|---|---|",
    ]
    for enc in policy.encodings():
        cpu, check = per[enc]
        lines.append(f"| {enc} ({CODECS[enc].suffix}) | {cpu:.1f} s | {check:.2f} s | {check / cpu:.2%} |")
    br_gz = [sum(per[e][i] for e in ("br", "gzip")) for i in (0, 1)]
    lines.append(f"| br + gzip | {br_gz[0]:.1f} s | {br_gz[1]:.2f} s | {br_gz[1] / br_gz[0]:.2%} |")

    with tempfile.TemporaryDirectory(prefix="assetpipe-bench-cache-") as cache_dir:
        cache = Path(cache_dir)
        _warm_build(files, datas, cache, jobs)  # fills the cache (a cold build)
        checked, unchecked = [], []
        real = compress.decodes_to
        for _ in range(repeat):
            checked.append(_warm_build(files, datas, cache, jobs))
            compress.decodes_to = lambda encoding, payload, data: True  # type: ignore[assignment]
            try:
                unchecked.append(_warm_build(files, datas, cache, jobs))
            finally:
                compress.decodes_to = real
    lines += [
        "",
        f"warm cache into an empty OUT, {len(tasks)} siblings, jobs={jobs} (median of {repeat}, wall):",
        f"- with the check: {statistics.median(checked):.2f} s  {[round(t, 2) for t in checked]}",
        f"- without it:     {statistics.median(unchecked):.2f} s  {[round(t, 2) for t in unchecked]}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["sweep", "report", "pool", "verify-cost"])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--results", type=Path, default=WORK / "sweep.jsonl")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated subset of RECIPES")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-size", type=int, default=0, help="sweep: only files at least this big")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"{args.corpus} missing: run python benchmarks/corpus.py first")
    if args.command == "sweep":
        sweep(args.corpus, args.recipes.split(","), args.jobs, args.results, args.min_size)
    elif args.command == "report":
        print(report(args.results, CompressionPolicy()))
    elif args.command == "verify-cost":
        print(verify_cost(args.corpus, args.jobs, args.repeat))
    else:
        print(pool(args.corpus, args.jobs, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
