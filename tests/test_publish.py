"""Publish: an unhashed file and its siblings change together, and a failure leaves the previous set whole."""

from __future__ import annotations

import errno
import gzip
import os
import random
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import brotli
import pytest

import assetpipe.files
from assetpipe.config import Config
from assetpipe.errors import OutputError
from assetpipe.pipeline import build
from assetpipe.publish import Staging
from assetpipe.verify import verify
from tests.conftest import write_tree
from tests.support import small_tmpfs


def worker(version: int, size: int = 4000) -> str:
    body = f"// service worker v{version}\n"
    return body + "self.addEventListener('fetch', (e) => e.respondWith(fetch(e.request)));\n" * (size // 70)


def config(src: Path, out: Path, cache: Path) -> Config:
    return Config(source=src, output=out, cache_dir=cache, gzip_backend="zlib", jobs=1)


def decoded(out: Path, name: str) -> dict[str, bytes]:
    """Every representation a server could send for OUT/name, decoded."""
    path = out / name
    found = {"identity": path.read_bytes()}
    for suffix, decode in ((".br", brotli.decompress), (".gz", gzip.decompress)):
        if Path(f"{path}{suffix}").exists():
            found[suffix] = decode(Path(f"{path}{suffix}").read_bytes())
    return found


def test_a_build_failing_while_writing_an_unhashed_sibling_leaves_the_previous_set_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_tree(src, {"sw.js": worker(1)})
    build(config(src, out, tmp_path / "cache"))
    assert set(decoded(out, "sw.js")) == {"identity", ".br", ".gz"}
    write_tree(src, {"sw.js": worker(2)})
    real_replace = os.replace

    def disk_full_on_the_br_sibling(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        if str(b).endswith("sw.js.br"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(a, b)

    monkeypatch.setattr(assetpipe.files.os, "replace", disk_full_on_the_br_sibling)
    with pytest.raises(OutputError):
        build(config(src, out, tmp_path / "cache"))
    monkeypatch.undo()

    assert set(decoded(out, "sw.js").values()) == {worker(1).encode()}
    assert verify(out).ok
    assert not (out / ".assetpipe" / "staging").exists()


def test_an_unhashed_file_and_its_siblings_change_together_on_success(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_tree(src, {"sw.js": worker(1)})
    build(config(src, out, tmp_path / "cache"))
    write_tree(src, {"sw.js": worker(2)})

    build(config(src, out, tmp_path / "cache"))

    assert set(decoded(out, "sw.js").values()) == {worker(2).encode()}
    assert set(decoded(out, "sw.js")) == {"identity", ".br", ".gz"}


def test_an_unhashed_file_that_no_longer_pays_loses_its_old_siblings(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_tree(src, {"sw.js": worker(1)})
    build(config(src, out, tmp_path / "cache"))
    write_tree(src, {"sw.js": "// tiny\n"})  # below min_size: no sibling

    build(config(src, out, tmp_path / "cache"))

    assert decoded(out, "sw.js") == {"identity": b"// tiny\n"}


def test_the_swap_removes_live_siblings_before_the_file_and_adds_new_ones_after(tmp_path: Path) -> None:
    """Each step of the burst, observed: every moment serves one version in every encoding."""
    out = tmp_path / "out"
    write_tree(out, {"sw.js": "old\n", "sw.js.br": brotli.compress(b"old\n"), "sw.js.gz": gzip.compress(b"old\n")})
    staging = Staging(out)
    staging.stage("sw.js", b"new\n")
    write_tree(staging.root, {"sw.js.br": brotli.compress(b"new\n")})
    seen: list[set[bytes]] = []
    real_replace, real_unlink = os.replace, Path.unlink

    def observe() -> None:
        seen.append(set(decoded(out, "sw.js").values()))

    def replace(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        real_replace(a, b)
        observe()

    def unlink(self: Path, missing_ok: bool = False) -> None:
        real_unlink(self, missing_ok=missing_ok)
        observe()

    import assetpipe.publish

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(assetpipe.publish.os, "replace", replace)
        mp.setattr(Path, "unlink", unlink)
        from assetpipe.manifest import Encoding

        staging.swap("sw.js", {"br": Encoding("sw.js.br", 1)})

    assert all(len(versions) == 1 for versions in seen), seen
    assert decoded(out, "sw.js") == {"identity": b"new\n", ".br": b"new\n"}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB filesystem of its own, to run out of space on for real."""
    with small_tmpfs(tmp_path / "mnt", "2m") as mnt:
        yield mnt


def test_a_real_full_disk_while_staging_unhashed_siblings_keeps_the_served_set_whole(
    tmp_path: Path, tmpfs: Path
) -> None:
    src, out = tmp_path / "src", tmpfs / "out"
    rng = random.Random(7)

    def noise(n: int) -> str:  # text that compresses poorly, so siblings are nearly as big as the file
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(n)) + "\n"

    write_tree(src, {"sw.js": "// v1\n" + noise(300_000)})
    build(config(src, out, tmp_path / "cache"))
    v1 = decoded(out, "sw.js")
    assert set(v1) == {"identity", ".br", ".gz"}
    manifest = (out / "manifest.json").read_bytes()
    write_tree(src, {"sw.js": "// v2\n" + noise(650_000)})

    with pytest.raises(OutputError) as info:
        build(config(src, out, tmp_path / "cache"))

    assert "No space left on device" in str(info.value)
    assert decoded(out, "sw.js") == v1
    assert (out / "manifest.json").read_bytes() == manifest
    assert verify(out).ok


def test_a_manifest_rewritten_behind_the_build_s_back_is_published_again_even_at_the_same_size(
    tmp_path: Path,
) -> None:
    # publish() knows what it last wrote without reading manifest.json back, but only while the file
    # keeps the stat it left: any rewrite since, even to other bytes of the same length, is read and
    # replaced. Publishing the same manifest again over the untouched file changes nothing.
    from assetpipe.manifest import Manifest, ManifestEntry
    from assetpipe.publish import publish

    out = tmp_path / "out"
    out.mkdir()
    entry = ManifestEntry("a.0123456789ab.css", "0123456789ab", "sha384-" + "A" * 64, 3, "text/css")
    manifest = Manifest("/static/", {"a.css": entry})
    staging = Staging(out)
    assert publish(out, manifest, fresh=[], staging=staging, staged={})[0] is True
    text = (out / "manifest.json").read_bytes()
    assert publish(out, manifest, fresh=[], staging=staging, staged={})[0] is False
    tampered = text.replace(b"0123456789ab", b"ba9876543210")
    assert len(tampered) == len(text)
    with open(out / "manifest.json", "r+b") as fh:  # in place: the same inode and size
        fh.write(tampered)
    os.utime(out / "manifest.json", ns=(0, os.stat(out / "manifest.json").st_mtime_ns + 1))
    assert publish(out, manifest, fresh=[], staging=staging, staged={})[0] is True
    assert (out / "manifest.json").read_bytes() == text
    (out / "manifest.json").unlink()
    assert publish(out, manifest, fresh=[], staging=staging, staged={})[0] is True
    assert Manifest.load(out / "manifest.json") == manifest


def test_a_file_a_killed_build_left_right_in_out_is_made_durable_before_the_manifest_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hashed output (and its siblings) found right in OUT by reading, with no record vouching for it,
    may still be only in the page cache (its build was killed before it synced): this build did not write
    it, but it names it, so it goes to the disk with what this build wrote."""
    from assetpipe import publish as publish_module

    src = tmp_path / "src"
    write_tree(src, {"app.css": "body { color: red; }\n" * 40, "other.css": "p { margin: 0; }\n" * 40})
    cfg = Config(source=src, output=tmp_path / "out", cache_dir=tmp_path / "cache")
    build(cfg)
    (src / "app.css").write_text("body { color: blue; }\n" * 40)
    # What a build killed after writing the new output and its siblings (before its manifest) left in OUT:
    # the same bytes, built elsewhere and copied in.
    elsewhere = Config(source=src, output=tmp_path / "elsewhere", cache_dir=tmp_path / "cache2")
    made = build(elsewhere).manifest.assets["app.css"]
    left = [made.path, *(e.path for e in made.encodings.values())]
    assert len(left) == 3
    for name in left:
        shutil.copy2(tmp_path / "elsewhere" / name, tmp_path / "out" / name)
    durable: list[str] = []
    real = publish_module.make_durable

    def spy(paths: Sequence[str | Path], **kw: Any) -> None:
        durable.extend(str(p) for p in paths)
        real(paths, **kw)

    monkeypatch.setattr(publish_module, "make_durable", spy)
    report = build(cfg)
    assert report.written == 0  # nothing of app.css was written again: it was found right
    assert {str(tmp_path / "out" / name) for name in left} <= set(durable)
