"""Precompressed siblings: NAME.br and NAME.gz beside each output file, where they pay.

Where the time goes decides the design (numbers in docs/compression.md, from benchmarks/bench_compress.py):
brotli-11 costs about 1 ms per small file and about 1.5 s per MB; zopfli's cost is dominated not by its
iterations but by its block splitter, which costs 15-100 ms even on a 1-3 KB SVG while saving a few bytes.
So gzip uses zopfli *without* block splitting under :data:`SPLIT_MIN_SIZE` (same bytes to within 1%, 10-30x
faster) and with it above, with fewer iterations as files grow (:func:`gzip_method`).

Every call goes through a content-addressed cache (:mod:`assetpipe.cache`), so only bytes never seen with
these exact settings reach a compressor. Work runs on a pool of threads, largest first, while the pipeline
is still hashing and writing other files: brotli, zopfli and zlib release the GIL, and threads measured
faster than processes here (no pickling of inputs and outputs, one copy of each input in memory).
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import heapq
import os
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import brotli
import zopfli.zopfli

from assetpipe.cache import Cache
from assetpipe.errors import OutputError
from assetpipe.files import write_atomic
from assetpipe.manifest import ENCODING_SUFFIXES, Encoding

#: Types that are already compressed: a sibling would save nothing and cost a compressor call.
DEFAULT_SKIP_EXTENSIONS: frozenset[str] = frozenset(
    {
        # images
        "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "heif", "jxl",
        # fonts (woff is zlib inside, woff2 brotli)
        "woff", "woff2",
        # archives and compressed streams
        "zip", "gz", "tgz", "bz2", "tbz", "xz", "txz", "zst", "br", "7z", "rar", "lz", "lzma",
        # audio and video
        "mp3", "m4a", "aac", "ogg", "oga", "opus", "flac", "mp4", "m4v", "webm", "mkv", "mov", "avi",
        "wmv", "asf", "flv", "swf", "mpeg", "mpg", "3gp", "3gpp",
    }
)  # fmt: skip

#: Below this size zopfli runs without block splitting (see module doc and docs/compression.md).
SPLIT_MIN_SIZE = 16 * 1024
#: zopfli iterations by input size: (size below which the row applies, iterations); last row for the rest.
ZOPFLI_ITERATIONS: tuple[tuple[int, int], ...] = ((SPLIT_MIN_SIZE, 15), (256 * 1024, 5), (1 << 62, 1))
BROTLI_QUALITY = 11
BROTLI_LGWIN = 24  # 16 MiB window: larger than any one asset, so a big file is never cut into windows


@dataclass(frozen=True, slots=True)
class CompressionPolicy:
    """Which siblings to make and how; the defaults are reasoned in docs/compression.md."""

    brotli: bool = True
    gzip: bool = True
    gzip_backend: str = "zopfli"  # or "zlib" (level 9): a few % bigger .gz, 50-100x less CPU
    min_size: int = 256
    min_saving: float = 0.05  # keep a sibling only if it is at most 95% of the original
    skip_extensions: frozenset[str] = DEFAULT_SKIP_EXTENSIONS

    def __post_init__(self) -> None:
        if self.gzip_backend not in GZIP_BACKENDS:
            raise ValueError(f"gzip_backend must be one of {sorted(GZIP_BACKENDS)}, not {self.gzip_backend!r}")

    def encodings(self) -> tuple[str, ...]:
        """The encodings this policy makes, in manifest order."""
        return tuple(name for name, on in (("br", self.brotli), ("gzip", self.gzip)) if on)

    def applies(self, rel_path: str, size: int) -> bool:
        """Whether a file of this name and size gets siblings at all (before the saving rule)."""
        ext = rel_path.rpartition(".")[2].lower() if "." in rel_path.rpartition("/")[2] else ""
        return size >= self.min_size and ext not in self.skip_extensions

    def keeps(self, original_size: int, compressed_size: int) -> bool:
        """The saving rule: keep a sibling only when it saves at least ``min_saving`` of the original."""
        return compressed_size <= original_size * (1.0 - self.min_saving)

    def fingerprint(self) -> str:
        """A stable string naming everything that decides which siblings exist and their bytes."""
        return ";".join(
            [
                f"br={int(self.brotli)}",
                f"gzip={int(self.gzip)}",
                f"backend={self.gzip_backend}",
                f"min_size={self.min_size}",
                f"min_saving={self.min_saving!r}",
                "skip=" + ",".join(sorted(self.skip_extensions)),
                f"methods={METHODS_VERSION}",
            ]
        )


# -- compressors -----------------------------------------------------------------------------------------


def brotli_compress(data: bytes, *, text: bool) -> bytes:
    """brotli quality 11, 16 MiB window; text mode hints the literal model for UTF-8."""
    mode = brotli.MODE_TEXT if text else brotli.MODE_GENERIC
    return bytes(brotli.compress(data, mode=mode, quality=BROTLI_QUALITY, lgwin=BROTLI_LGWIN))


def gzip_zopfli(data: bytes, *, iterations: int, blocksplitting: bool) -> bytes:
    """gzip container by zopfli; its header has no file name and mtime 0, so output is deterministic."""
    return bytes(
        zopfli.zopfli.compress(
            data, gzip_mode=1, numiterations=iterations, blocksplitting=int(blocksplitting)
        )
    )


def gzip_zlib(data: bytes) -> bytes:
    """gzip container by zlib level 9 (wbits 31 = gzip header with mtime 0 and no file name)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


GZIP_BACKENDS = frozenset({"zopfli", "zlib"})
#: Bump when a rule below changes the bytes it produces for the same settings string.
METHODS_VERSION = 1


@dataclass(frozen=True, slots=True)
class Method:
    """One compressor call's recipe; ``settings`` names it completely (it is part of the cache key)."""

    encoding: str
    compressor: str
    settings: str
    run: Callable[[bytes], bytes] = field(compare=False, repr=False)


def _versions() -> str:
    return f"brotli {brotli.__version__}; zopfli {getattr(zopfli, '__version__', '?')}; zlib {zlib.ZLIB_RUNTIME_VERSION}"


def zopfli_iterations(size: int) -> int:
    """Iterations for an input of ``size`` bytes: beyond a few, they buy <0.5% on big files at 2x the time."""
    for limit, iterations in ZOPFLI_ITERATIONS:
        if size < limit:
            return iterations
    return ZOPFLI_ITERATIONS[-1][1]


def gzip_method(backend: str, size: int) -> Method:
    """The gzip recipe for an input of ``size`` bytes with ``backend``."""
    if backend == "zlib":
        return Method("gzip", "zlib", f"level=9;{zlib.ZLIB_RUNTIME_VERSION}", gzip_zlib)
    iterations = zopfli_iterations(size)
    split = size >= SPLIT_MIN_SIZE

    def run(data: bytes) -> bytes:
        return gzip_zopfli(data, iterations=iterations, blocksplitting=split)

    version = getattr(zopfli, "__version__", "?")
    return Method("gzip", "zopfli", f"iterations={iterations};split={int(split)};{version}", run)


def brotli_method(text: bool) -> Method:
    """The brotli recipe (quality 11, lgwin 24, text or generic mode)."""

    def run(data: bytes) -> bytes:
        return brotli_compress(data, text=text)

    settings = f"quality={BROTLI_QUALITY};lgwin={BROTLI_LGWIN};mode={'text' if text else 'generic'}"
    return Method("br", "brotli", f"{settings};{brotli.__version__}", run)


def is_text(content_type: str) -> bool:
    """Whether brotli's text mode suits this Content-Type (text/*, JSON, XML, SVG, JavaScript)."""
    media = content_type.partition(";")[0].strip().lower()
    return (
        media.startswith("text/")
        or media.endswith(("+json", "+xml", "/json", "/xml"))
        or media in {"application/javascript", "application/ecmascript"}
    )


def method_for(policy: CompressionPolicy, encoding: str, size: int, content_type: str) -> Method:
    """The recipe ``policy`` uses for ``encoding`` of a file of ``size`` bytes and ``content_type``."""
    if encoding == "br":
        return brotli_method(is_text(content_type))
    return gzip_method(policy.gzip_backend, size)


DECOMPRESSORS: Mapping[str, Callable[[bytes], bytes]] = {
    "br": brotli.decompress,
    "gzip": gzip_module.decompress,
}
