"""The precompressed encodings, one registry entry each: suffix, token, recipes, decoder, memory model.

Everything that names an encoding reads :data:`CODECS`: the manifest's suffixes, the compressor's recipes
and memory budget, verify's decoders, the config keys and CLI flags, the snippets' preference order. Adding
an encoding is one entry here, plus its on/off field in ``Config`` and ``CompressionPolicy`` (both assert
that every codec has one) and its tests.

The measured recipes live here, next to the code they tune (the numbers are in docs/compression.md). The
compression libraries are imported inside the functions that use them, not at module import: the manifest
model imports this module, and the template helpers import the manifest model at application start-up,
where nobody compresses anything.

Every decoder takes the exact size it must produce: output past it, a truncated stream, trailing bytes or
a corrupt one raise :class:`DecodeError`, so a hostile sibling or cache entry (a decompression bomb) costs
at most that many bytes of memory.
"""

from __future__ import annotations

import functools
import sys
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from assetpipe.errors import ConfigError


class DecodeError(ValueError):
    """Compressed bytes that do not decode to exactly the expected number of bytes."""


class WrongSize(DecodeError):
    """A valid stream, but of other bytes than expected: it decodes to more or fewer of them."""


#: Bump when a recipe here changes the bytes it produces for the same settings: it is part of every
#: method's settings, so of every cache key (a warm cache must give the bytes a cold one would).
METHODS_VERSION = 1


@dataclass(frozen=True, slots=True)
class Method:
    """One compressor call's recipe; ``settings`` names it completely (it is part of the cache key)."""

    encoding: str
    compressor: str
    settings: str
    run: Callable[[bytes], bytes] = field(compare=False, repr=False)


def _method(encoding: str, compressor: str, settings: str, run: Callable[[bytes], bytes]) -> Method:
    return Method(encoding, compressor, f"{settings};methods={METHODS_VERSION}", run)


@dataclass(frozen=True, slots=True)
class Backend:
    """One way to make an encoding: the recipe for an input of a size and kind, and its peak memory."""

    name: str
    method: Callable[[int, bool], Method]  # (input size, is text) -> the recipe
    working_memory: Callable[[int], int]  # input size -> peak bytes of one call, rounded up


@dataclass(frozen=True, slots=True)
class Codec:
    """One precompressed encoding, as HTTP, the manifest, the config and the servers know it."""

    name: str  # the Content-Encoding token and the manifest's key under "encodings"
    suffix: str  # the sibling is NAME + suffix: what servers look for
    config_key: str  # the on/off switch in assetpipe.toml; --no-KEY or --KEY on the command line
    default: bool  # on unless configured otherwise
    backends: Mapping[str, Backend]  # the first one is the default
    decode: Callable[[bytes, int], bytes]  # (compressed, exact plain size) -> plain; DecodeError otherwise
    aliases: tuple[str, ...] = ()  # other Accept-Encoding tokens that mean the same coding
    #: None when the codec's library can be imported here, else what to do about it
    missing: Callable[[], str | None] = lambda: None

    @property
    def default_backend(self) -> str:
        return next(iter(self.backends))

    def tokens(self) -> tuple[str, ...]:
        """Every Accept-Encoding token a client may use to ask for this coding."""
        return (self.name, *self.aliases)


# -- brotli --------------------------------------------------------------------------------------------------

BROTLI_QUALITY = 11
#: brotli's default 4 MiB window. 16 MiB (lgwin 24) was measured: the same bytes on every file up to
#: 4 MiB and one byte more on the 5 MB one, while asking decoders for a bigger window.
BROTLI_LGWIN = 22


def brotli_compress(data: bytes, *, text: bool) -> bytes:
    """brotli quality 11, 4 MiB window; text mode hints the encoder that the input is UTF-8."""
    import brotli

    mode = brotli.MODE_TEXT if text else brotli.MODE_GENERIC
    return bytes(brotli.compress(data, mode=mode, quality=BROTLI_QUALITY, lgwin=BROTLI_LGWIN))


def brotli_method(text: bool) -> Method:
    """The brotli recipe (quality 11, lgwin 22, text or generic mode)."""
    return _brotli_recipe(text, BROTLI_QUALITY, BROTLI_LGWIN, METHODS_VERSION)


# The recipes are few and a build asks for one per file and encoding: each is made once, keyed by
# everything its settings name (the constants too, so a changed one is a new recipe).
@functools.cache
def _brotli_recipe(text: bool, quality: int, lgwin: int, methods_version: int) -> Method:
    import brotli

    def run(data: bytes) -> bytes:
        return brotli_compress(data, text=text)

    settings = f"quality={quality};lgwin={lgwin};mode={'text' if text else 'generic'}"
    return _method("br", "brotli", f"{settings};{brotli.__version__}", run)


def brotli_decode(data: bytes, size: int) -> bytes:
    """Decode a whole brotli stream that must give exactly ``size`` bytes."""
    import brotli

    decoder = brotli.Decompressor()
    try:
        plain = bytes(decoder.process(data, output_buffer_limit=size + 1))
    except brotli.error as exc:
        raise DecodeError(f"not valid brotli: {exc}") from None
    if len(plain) > size:
        raise WrongSize(f"decodes to more than {size} bytes")
    if not decoder.is_finished():
        raise DecodeError("brotli stream is cut short")
    return _exactly(plain, size)


def brotli_memory(size: int) -> int:
    """Measured: about 12 bytes per input byte (59 MiB for a 5 MB JSON; its tables are sized to the input)."""
    return (1 << 20) + 13 * size


# -- gzip ----------------------------------------------------------------------------------------------------

#: zopfli recipe by input size: (size below which the row applies, iterations, max blocks; 0 = no splitting).
#: Measured on the corpus (docs/compression.md): more iterations buy < 0.3% for 1.5-3x the time, and the
#: block splitter's fixed cost only pays back on files of tens of KB.
ZOPFLI_RULES: tuple[tuple[int, int, int], ...] = ((64 * 1024, 1, 0), (256 * 1024, 1, 8), (1 << 62, 3, 8))
SPLIT_MIN_SIZE = ZOPFLI_RULES[0][0]


def gzip_zopfli(data: bytes, *, iterations: int, max_blocks: int) -> bytes:
    """gzip by zopfli (``max_blocks`` 0: no block splitting); no file name and mtime 0: deterministic."""
    import zopfli.zopfli

    return bytes(
        zopfli.zopfli.compress(
            data,
            gzip_mode=1,
            numiterations=iterations,
            blocksplitting=int(max_blocks > 0),
            blocksplittingmax=max(max_blocks, 1),
        )
    )


def gzip_zlib(data: bytes) -> bytes:
    """gzip container by zlib level 9 (wbits 31 = gzip header with mtime 0 and no file name)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def zopfli_rule(size: int) -> tuple[int, int]:
    """(iterations, max blocks) for an input of ``size`` bytes, from :data:`ZOPFLI_RULES`."""
    for limit, iterations, max_blocks in ZOPFLI_RULES:
        if size < limit:
            return iterations, max_blocks
    return ZOPFLI_RULES[-1][1:]


def zopfli_method(size: int, text: bool) -> Method:
    """The zopfli recipe for an input of ``size`` bytes (see :data:`ZOPFLI_RULES`)."""
    return _zopfli_recipe(*zopfli_rule(size), METHODS_VERSION)


@functools.cache
def _zopfli_recipe(iterations: int, max_blocks: int, methods_version: int) -> Method:
    import zopfli

    def run(data: bytes) -> bytes:
        return gzip_zopfli(data, iterations=iterations, max_blocks=max_blocks)

    version = getattr(zopfli, "__version__", "?")
    return _method("gzip", "zopfli", f"iterations={iterations};blocks={max_blocks};{version}", run)


def zlib_method(size: int, text: bool) -> Method:
    """zlib level 9 in a gzip container."""
    return _zlib_recipe(METHODS_VERSION)


@functools.cache
def _zlib_recipe(methods_version: int) -> Method:
    return _method("gzip", "zlib", f"level=9;{zlib.ZLIB_RUNTIME_VERSION}", gzip_zlib)


def gzip_decode(data: bytes, size: int) -> bytes:
    """Decode one whole gzip member (what assetpipe writes) that must give exactly ``size`` bytes."""
    decoder = zlib.decompressobj(31)  # 31: a gzip header and trailer, whose CRC and length are checked
    try:
        plain = decoder.decompress(data, size + 1)
    except zlib.error as exc:
        raise DecodeError(f"not valid gzip: {exc}") from None
    if len(plain) > size:
        raise WrongSize(f"decodes to more than {size} bytes")
    if not decoder.eof:
        raise DecodeError("gzip stream is cut short")
    if decoder.unused_data:
        raise DecodeError("bytes after the end of the gzip stream")
    return _exactly(plain, size)


def zopfli_memory(size: int) -> int:
    """Measured: up to 27 bytes per input byte but never more than 27 MB (it works through 1 MB blocks)."""
    return min(28 << 20, (1 << 20) + 27 * size)


def zlib_memory(size: int) -> int:
    """A few hundred KB whatever the input."""
    return 1 << 20


# -- zstd ----------------------------------------------------------------------------------------------------

#: Level 19 of 22: on bootstrap.css 0.03% bigger than 22 for 70% of its time, 11% bigger than brotli-11 for a
#: quarter of its time (docs/compression.md). Levels 20-22 ("ultra") also want bigger windows.
ZSTD_LEVEL = 19
#: RFC 9659: a zstd Content-Encoding must not need a window over 8 MiB (2**23), or browsers refuse it.
ZSTD_WINDOW_LOG = 23


ZSTD_HINT = "Python 3.14 has compression.zstd; before it, pip install backports.zstd"


def zstd_module() -> ModuleType:
    """Python 3.14's compression.zstd, else backports.zstd (the same module, by its author, for 3.11-3.13)."""
    try:
        if sys.version_info >= (3, 14):
            from compression import zstd
        else:
            from backports import zstd
    except ImportError as exc:
        raise ConfigError(f"zstd siblings need a zstd module: {exc}", hint=ZSTD_HINT) from None
    return zstd


def zstd_missing() -> str | None:
    """Why zstd cannot be used here, or None."""
    try:
        zstd_module()
    except ConfigError as exc:
        return str(exc)
    return None


def zstd_compress(data: bytes) -> bytes:
    """One zstd frame at :data:`ZSTD_LEVEL`, single-threaded (deterministic), content size in the header."""
    zstd = zstd_module()
    options = {
        zstd.CompressionParameter.compression_level: ZSTD_LEVEL,
        zstd.CompressionParameter.window_log: ZSTD_WINDOW_LOG,
        zstd.CompressionParameter.checksum_flag: 0,  # HTTP has its own; 4 bytes saved on every file
    }
    return bytes(zstd.compress(data, options=options))


def zstd_method(size: int, text: bool) -> Method:
    """The zstd recipe (level 19, window at most 8 MiB); the library version is part of the settings."""
    return _zstd_recipe(ZSTD_LEVEL, ZSTD_WINDOW_LOG, METHODS_VERSION)


@functools.cache  # a missing module raises, which is not cached
def _zstd_recipe(level: int, window_log: int, methods_version: int) -> Method:
    version = zstd_module().zstd_version
    settings = f"level={level};window_log={window_log};checksum=0;{version}"
    return _method("zstd", "zstd", settings, zstd_compress)


def zstd_decode(data: bytes, size: int) -> bytes:
    """Decode one whole zstd frame that must give exactly ``size`` bytes."""
    zstd = zstd_module()
    decoder = zstd.ZstdDecompressor()
    try:
        plain = decoder.decompress(data, max_length=size + 1)
    except zstd.ZstdError as exc:
        raise DecodeError(f"not valid zstd: {exc}") from None
    if len(plain) > size:
        raise WrongSize(f"decodes to more than {size} bytes")
    if not decoder.eof:
        raise DecodeError("zstd stream is cut short")
    if decoder.unused_data:
        raise DecodeError("bytes after the end of the zstd frame")
    return _exactly(bytes(plain), size)


def zstd_memory(size: int) -> int:
    """Measured (ru_maxrss over the baseline, JSON-like text): 2 MiB at 100 KB, 8 at 300 KB, 15 at 1 MB,
    44 at 3 MB, 74 at 5 MB and 64 at 12 MB, where the 8 MiB window bounds level 19's tables.
    """
    return min(80 << 20, (4 << 20) + 20 * size)


def _exactly(plain: bytes, size: int) -> bytes:
    if len(plain) != size:
        raise WrongSize(f"decodes to {len(plain)} bytes, not {size}")
    return plain


# -- the registry --------------------------------------------------------------------------------------------

#: Every encoding assetpipe can write, in the order servers should prefer them when a client takes several:
#: zstd first because switching it on asks for it to be served (br is smaller, see docs/compression.md),
#: then br, then gzip for the rest.
CODECS: Mapping[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec(
            name="zstd",
            suffix=".zst",
            config_key="zstd",
            default=False,
            backends={"zstd": Backend("zstd", zstd_method, zstd_memory)},
            decode=zstd_decode,
            missing=zstd_missing,
        ),
        Codec(
            name="br",
            suffix=".br",
            config_key="brotli",
            default=True,
            backends={"brotli": Backend("brotli", lambda size, text: brotli_method(text), brotli_memory)},
            decode=brotli_decode,
        ),
        Codec(
            name="gzip",
            suffix=".gz",
            config_key="gzip",
            default=True,
            backends={
                "zopfli": Backend("zopfli", zopfli_method, zopfli_memory),
                "zlib": Backend("zlib", zlib_method, zlib_memory),
            },
            decode=gzip_decode,
            aliases=("x-gzip",),
        ),
    )
}


def decode(name: str, data: bytes, size: int) -> bytes:
    """``data`` decoded as encoding ``name``: exactly ``size`` bytes, or DecodeError (unknown names too)."""
    found = CODECS.get(name)
    if found is None:
        raise DecodeError(f"unknown encoding {name!r}")
    return found.decode(data, size)
