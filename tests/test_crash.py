"""Crash consistency and disk errors: OUT always holds a complete build, whatever happens to the writer."""

from __future__ import annotations

import errno
import gzip
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

import assetpipe.files
from assetpipe.config import Config
from assetpipe.errors import OutputError
from assetpipe.files import is_temp
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.verify import verify
from tests.support import small_tmpfs

SVGS, STYLES, SCRIPTS = 100, 70, 70


def svg(i: int, gen: int) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg"><title>{i} v{gen}</title><rect width="{i}"/></svg>\n'


def css(i: int, gen: int) -> str:
    lines = [f"/* sheet {i} v{gen} */"]
    if i > 0:
        lines.append(f'@import "sheet{(i * 37 + 11) % i}.css";')  # an earlier sheet: no cycles
    lines += [f".icon{k} {{ background: url(../img/icon{(i * 3 + k) % SVGS}.svg) }}" for k in range(3)]
    lines.append(".pad { margin: 0 }\n" * 20)
    return "\n".join(lines) + "\n"


def js(i: int, gen: int) -> str:
    lines = [f"// module {i} v{gen}"]
    if i > 0:
        j = (i * 31 + 7) % i  # an earlier module: no cycles
        lines.append(f'import {{ f{j} }} from "./mod{j}.js";')
    lines.append(f'const icon = new URL("../img/icon{i % SVGS}.svg", import.meta.url);')
    lines.append(f"export function f{i}() {{ return icon.href + {i}; }}")
    lines.append("console.log('padding padding padding');\n" * 20)
    return "\n".join(lines) + "\n"


#: Unhashed files (by the defaults) replaced in place, each with .br and .gz siblings.
UNHASHED = ("sw.js", "robots.txt", "js/service-worker.js")


def unhashed_text(name: str, gen: int) -> str:
    return f"// {name} v{gen}\n" + f"self.version = {gen}; // padding so that siblings pay\n" * (40 + gen % 7)


def write_tree(src: Path, gen: dict[str, int]) -> None:
    """Write every file whose generation changed; names are stable so references keep resolving."""
    for name in UNHASHED:
        path = src / name
        text = unhashed_text(name, gen.get(name, 0))
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for kind, count in (("svg", SVGS), ("css", STYLES), ("js", SCRIPTS)):
        for i in range(count):
            name = {"svg": f"img/icon{i}.svg", "css": f"css/sheet{i}.css", "js": f"js/mod{i}.js"}[kind]
            path = src / name
            text = {"svg": svg, "css": css, "js": js}[kind](i, gen.get(name, 0))
            if not path.exists() or path.read_text() != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)


def mutate(gen: dict[str, int], rng: random.Random, run: int) -> None:
    """Bump a few files; a changed icon changes every sheet and module that references it, too."""
    names = [f"img/icon{i}.svg" for i in range(SVGS)] + [f"css/sheet{i}.css" for i in range(STYLES)]
    names += [f"js/mod{i}.js" for i in range(SCRIPTS)]
    for name in rng.sample(names, 30):
        gen[name] = run + 1
    for name in UNHASHED:
        if rng.random() < 0.7:
            gen[name] = run + 1


def command(src: Path, out: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "assetpipe",
        "build",
        "--source",
        str(src),
        "--output",
        str(out),
        "--cache-dir",
        str(cache),
        # zlib rather than zopfli: far faster, and the build still writes .br and .gz siblings to kill.
        "--gzip-backend",
        "zlib",
        "--jobs",
        "2",
        "--quiet",
    ]


def run_build(src: Path, out: Path, cache: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(src, out, cache), cwd=cwd, capture_output=True, text=True, check=False)


def served(out: Path, name: str) -> dict[str, bytes]:
    """Every representation a server could send for OUT/name (it picks siblings by existence), decoded."""
    path = out / name
    found = {"identity": path.read_bytes()}
    for suffix, decode in ((".br", brotli.decompress), (".gz", gzip.decompress)):
        if Path(f"{path}{suffix}").exists():
            found[suffix] = decode(Path(f"{path}{suffix}").read_bytes())
    return found


def assert_consistent(out: Path, context: str, *, killed: bool = False) -> None:
    """What a deploy would see now: a complete manifest, every file it names intact, no temp file named,
    and each unhashed file serving one version in every encoding.

    A kill inside the publish burst (between the first unhashed swap and the manifest's rename, a few
    renames long) leaves the new unhashed bytes under the previous manifest: verify names them until the
    next build, but every client still gets one whole version of each file.
    """
    for name in UNHASHED:
        if not (out / name).exists():
            continue  # a site without it (the disk-error tests)
        versions = set(served(out, name).values())
        assert len(versions) == 1, f"{context}: {name} serves {len(versions)} versions"
    report = verify(out)
    problems = [p for p in report.problems if not (killed and p.logical_path in UNHASHED)]
    assert not problems, f"{context}:\n" + "\n".join(report.lines())
    manifest = Manifest.load(out / "manifest.json")
    assert not any(is_temp(Path(p).name) for p in manifest.output_files()), context


@pytest.mark.slow
def test_builds_killed_at_any_moment_leave_a_complete_output(tmp_path: Path) -> None:
    src, out, cache = tmp_path / "src", tmp_path / "out", tmp_path / "cache"
    gen: dict[str, int] = {}
    write_tree(src, gen)
    started = time.monotonic()
    first = run_build(src, out, cache, tmp_path)
    assert first.returncode == 0, first.stderr
    # Only to spread the kill points over a whole build; nothing asserts on time.
    span = max(time.monotonic() - started, 0.3)
    assert_consistent(out, "first build")

    rng = random.Random(20240607)
    killed = runs = mid_write = 0
    while killed < 32 and runs < 100:
        runs += 1
        mutate(gen, rng, runs)
        write_tree(src, gen)
        before = (out / "manifest.json").read_bytes()
        files_before = len(verify(out).unreferenced)
        # A new session, so SIGKILL reaches any worker processes too, as when a machine loses power.
        proc = subprocess.Popen(
            command(src, out, cache),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=rng.uniform(0.05, span))
            assert proc.returncode == 0, err.decode()
            was_killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            killed += 1
            was_killed = True
        after = (out / "manifest.json").read_bytes()
        context = f"run {runs} ({'new' if after != before else 'previous'} manifest)"
        assert_consistent(out, context, killed=was_killed)
        if after == before and len(verify(out).unreferenced) > files_before:
            mid_write += 1  # killed after writing some files, before the manifest: the case that matters

    assert killed >= 30, f"only {killed} of {runs} builds were killed mid-way"
    print(f"{runs} builds, {killed} killed, {mid_write} of them between their first file and the manifest")
    final = run_build(src, out, cache, tmp_path)
    assert final.returncode == 0, final.stderr
    assert_consistent(out, "final build")
    # The crashes left nothing that changes the result: a fresh build of the same sources is identical.
    fresh = tmp_path / "fresh"
    clean_run = run_build(src, fresh, tmp_path / "fresh-cache", tmp_path)
    assert clean_run.returncode == 0, clean_run.stderr
    assert (out / "manifest.json").read_bytes() == (fresh / "manifest.json").read_bytes()


@pytest.mark.slow
def test_builds_killed_while_filling_an_out_without_a_manifest_leave_nothing_trusted(tmp_path: Path) -> None:
    # Into an OUT with no manifest, free names are written in place, not through temp files: each killed
    # build here leaves half-written files under real output and sibling names. Half the runs keep the
    # sources (the next build wants those very names), half change some.
    src, out, cache = tmp_path / "src", tmp_path / "out", tmp_path / "cache"
    gen: dict[str, int] = {}
    write_tree(src, gen)
    started = time.monotonic()
    probe = run_build(src, tmp_path / "probe", tmp_path / "probe-cache", tmp_path)
    assert probe.returncode == 0, probe.stderr
    span = max(time.monotonic() - started, 0.3)  # only to spread the kill points over a whole build
    rng = random.Random(20261130)
    killed = runs = 0
    while killed < 12 and runs < 40:
        runs += 1
        if runs % 2:
            mutate(gen, rng, runs)
            write_tree(src, gen)
        (out / "manifest.json").unlink(missing_ok=True)  # every run starts into an OUT without a manifest
        proc = subprocess.Popen(
            command(src, out, cache), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        try:
            _, err = proc.communicate(timeout=rng.uniform(0.05, span))
            assert proc.returncode == 0, err.decode()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            killed += 1
        if (out / "manifest.json").exists():
            assert_consistent(out, f"run {runs}")
    assert killed >= 8, f"only {killed} of {runs} builds were killed mid-way"
    (out / "manifest.json").unlink(missing_ok=True)
    final = run_build(src, out, cache, tmp_path)
    assert final.returncode == 0, final.stderr
    assert_consistent(out, "final build")
    fresh = tmp_path / "fresh"
    assert run_build(src, fresh, tmp_path / "fresh-cache", tmp_path).returncode == 0
    manifest = Manifest.load(fresh / "manifest.json")
    assert (out / "manifest.json").read_bytes() == (fresh / "manifest.json").read_bytes()
    for entry in manifest.assets.values():
        assert served(out, entry.path) == served(fresh, entry.path), entry.path


# -- disk errors -------------------------------------------------------------------------------------


def small_site(src: Path, version: int) -> None:
    (src / "css").mkdir(parents=True, exist_ok=True)
    (src / "img").mkdir(parents=True, exist_ok=True)
    (src / "img" / "logo.svg").write_text(f"<svg><title>v{version}</title></svg>\n")
    (src / "css" / "app.css").write_text(f"/* v{version} */ body {{ background: url(../img/logo.svg) }}\n")


def config(src: Path, out: Path, cache: Path) -> Config:
    return Config(source=src, output=out, cache_dir=cache, gzip_backend="zlib", jobs=1)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB filesystem of its own, where the test can run out of space or make it read-only."""
    with small_tmpfs(tmp_path / "mnt", "1m") as mnt:
        yield mnt


def test_running_out_of_space_names_the_file_and_keeps_the_previous_manifest(
    tmp_path: Path, tmpfs: Path
) -> None:
    src, out = tmp_path / "src", tmpfs / "out"
    small_site(src, 1)
    build(config(src, out, tmp_path / "cache"))
    before = (out / "manifest.json").read_bytes()
    small_site(src, 2)
    (src / "img" / "big.bin").write_bytes(random.Random(1).randbytes(2 * 1024 * 1024))
    with pytest.raises(OutputError) as info:
        build(config(src, out, tmp_path / "cache"))
    assert "No space left on device" in str(info.value)
    assert info.value.path is not None and info.value.path.startswith(str(out))
    assert (out / "manifest.json").read_bytes() == before
    assert_consistent(out, "after ENOSPC")


def test_a_read_only_output_names_the_path_and_keeps_the_previous_manifest(
    tmp_path: Path, tmpfs: Path
) -> None:
    src, out = tmp_path / "src", tmpfs / "out"
    small_site(src, 1)
    build(config(src, out, tmp_path / "cache"))
    before = (out / "manifest.json").read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    small_site(src, 2)
    with pytest.raises(OutputError) as info:
        build(config(src, out, tmp_path / "cache"))
    assert "Read-only file system" in str(info.value)
    assert info.value.path is not None and info.value.path.startswith(str(out))
    assert (out / "manifest.json").read_bytes() == before
    assert_consistent(out, "after EROFS")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission bits")
def test_a_directory_without_write_permission_names_the_path(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    small_site(src, 1)
    build(config(src, out, tmp_path / "cache"))
    before = (out / "manifest.json").read_bytes()
    small_site(src, 2)
    (out / "css").chmod(0o555)
    try:
        with pytest.raises(OutputError) as info:
            build(config(src, out, tmp_path / "cache"))
    finally:
        (out / "css").chmod(0o755)
    assert "Permission denied" in str(info.value)
    assert info.value.path is not None and info.value.path.startswith(str(out / "css"))
    assert (out / "manifest.json").read_bytes() == before


def test_a_failing_write_mid_build_names_the_path_and_keeps_the_previous_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    small_site(src, 1)
    build(config(src, out, tmp_path / "cache"))
    before = (out / "manifest.json").read_bytes()
    small_site(src, 2)
    real_replace = os.replace
    writes: list[str] = []

    def full_disk(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        # The second file the build renames into OUT finds the disk full.
        if str(b).startswith(str(out)):
            writes.append(str(b))
            if len(writes) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(a, b)

    monkeypatch.setattr(assetpipe.files.os, "replace", full_disk)
    with pytest.raises(OutputError) as info:
        build(config(src, out, tmp_path / "cache"))
    monkeypatch.undo()
    assert info.value.path == writes[1]
    assert str(info.value) == f"{writes[1]}: cannot write: No space left on device"
    assert (out / "manifest.json").read_bytes() == before
    assert not [p for p in out.rglob("*") if is_temp(p.name)]
    assert_consistent(out, "after injected ENOSPC")
    build(config(src, out, tmp_path / "cache"))
    assert_consistent(out, "next build")


def test_a_failed_build_leaves_unhashed_files_as_the_previous_manifest_describes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    small_site(src, 1)
    (src / "sw.js").write_text("// worker v1\n")
    (src / "zz.css").write_text("/* v1: sorts after sw.js */\n")
    build(config(src, out, tmp_path / "cache"))
    small_site(src, 2)
    (src / "sw.js").write_text("// worker v2\n")
    (src / "zz.css").write_text("/* v2: sorts after sw.js */\n")
    real_replace = os.replace

    def full_disk(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        if Path(b).name.startswith("zz."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(a, b)

    monkeypatch.setattr(assetpipe.files.os, "replace", full_disk)
    with pytest.raises(OutputError):
        build(config(src, out, tmp_path / "cache"))
    monkeypatch.undo()
    assert_consistent(out, "unhashed sw.js after a failed build")
