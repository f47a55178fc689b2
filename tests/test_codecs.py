"""The codec registry: every encoding round-trips, decodes only to the exact size, and is named everywhere."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import brotli
import pytest

from assetpipe.codecs import CODECS, DecodeError, WrongSize, decode, zstd_module
from assetpipe.config import _KEYS, Config
from assetpipe.manifest import ENCODING_SUFFIXES

ROOT = Path(__file__).resolve().parent.parent
TEXT = b"".join(b".c%d { color: #%06x; margin: %dpx }\n" % (i, i * 7919, i % 40) for i in range(2000))


def every_method(codec_name: str):
    codec = CODECS[codec_name]
    return [backend.method(len(TEXT), True) for backend in codec.backends.values()]


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_backend_of_every_codec_round_trips_exactly(name: str) -> None:
    for method in every_method(name):
        packed = method.run(TEXT)
        assert len(packed) < len(TEXT) // 3, method.compressor
        assert CODECS[name].decode(packed, len(TEXT)) == TEXT


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_backend_is_deterministic(name: str) -> None:
    for method in every_method(name):
        assert method.run(TEXT) == method.run(bytes(TEXT))


@pytest.mark.parametrize("name", sorted(CODECS))
def test_a_stream_of_other_bytes_is_refused_by_size_without_decoding_past_it(name: str) -> None:
    method = every_method(name)[-1]  # zlib for gzip: zopfli takes seconds on megabytes
    bomb = method.run(b"\x00" * 5_000_000)  # a few KB that would decode to 5 MB
    with pytest.raises(WrongSize):
        CODECS[name].decode(bomb, 1000)
    shorter = method.run(TEXT[:-1])
    with pytest.raises(WrongSize):
        CODECS[name].decode(shorter, len(TEXT))


@pytest.mark.parametrize("name", sorted(CODECS))
def test_a_cut_short_corrupt_or_padded_stream_is_a_decode_error(name: str) -> None:
    packed = every_method(name)[0].run(TEXT)
    flipped = bytearray(packed)
    flipped[len(flipped) // 2] ^= 0x55
    for bad in (packed[:-3], packed + b"\x00garbage", b"", b"not compressed at all"):
        with pytest.raises(DecodeError):
            CODECS[name].decode(bad, len(TEXT))
    # brotli has no checksum: a flipped byte may still decode, to other bytes (callers compare them).
    try:
        assert CODECS[name].decode(bytes(flipped), len(TEXT)) != TEXT
    except DecodeError:
        pass


def test_the_codecs_read_what_the_reference_tools_write() -> None:
    assert decode("br", brotli.compress(TEXT), len(TEXT)) == TEXT
    assert decode("gzip", gzip.compress(TEXT, mtime=0), len(TEXT)) == TEXT
    assert decode("zstd", zstd_module().compress(TEXT), len(TEXT)) == TEXT


def test_an_unknown_encoding_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown encoding 'deflate'"):
        decode("deflate", b"", 0)


def zstd_window(frame: bytes, content_size: int) -> int:
    """The window a decoder needs for this frame (RFC 8878, 3.1.1.1.2)."""
    assert frame[:4] == b"\x28\xb5\x2f\xfd"
    if frame[4] & 0x20:  # Single_Segment_flag: the window is the content
        return content_size
    exponent, mantissa = (frame[5] >> 3) + 10, frame[5] & 7
    return (1 << exponent) + ((1 << exponent) >> 3) * mantissa


@pytest.mark.parametrize("size", [3000, 12 << 20])
def test_zstd_frames_state_their_size_and_need_at_most_the_8_mib_window_browsers_accept(size: int) -> None:
    # RFC 9659: a zstd Content-Encoding must not need a window over 8 MiB (levels 20-22 would pick more).
    data = (random.Random(0).randbytes(1 << 20) * 13)[:size]
    frame = CODECS["zstd"].backends["zstd"].method(size, False).run(data)
    assert zstd_module().get_frame_info(frame).decompressed_size == size
    assert zstd_window(frame, size) <= 8 << 20


def test_zstd_comes_from_the_standard_library_or_its_backport() -> None:
    expected = "compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"
    assert zstd_module().__name__ == expected


def test_the_manifest_suffixes_the_config_keys_and_the_schema_come_from_the_registry() -> None:
    assert ENCODING_SUFFIXES == {name: codec.suffix for name, codec in CODECS.items()}
    for codec in CODECS.values():
        assert _KEYS[codec.config_key] == ((bool,), False)
        assert getattr(Config(source=Path("/s"), output=Path("/o")), codec.config_key) is codec.default
    schema = json.loads((ROOT / "manifest.schema.json").read_text(encoding="utf-8"))
    encodings = schema["$defs"]["entry"]["properties"]["encodings"]
    assert sorted(encodings["propertyNames"]["enum"]) == sorted(CODECS)


def test_only_zstd_is_off_by_default() -> None:
    assert {name for name, codec in CODECS.items() if not codec.default} == {"zstd"}


def test_suffixes_and_tokens_are_plain_and_distinct() -> None:
    suffixes = [codec.suffix for codec in CODECS.values()]
    tokens = [token for codec in CODECS.values() for token in codec.tokens()]
    assert len(set(suffixes)) == len(suffixes) and len(set(tokens)) == len(tokens)
    for value in suffixes + tokens:
        assert value.replace(".", "").replace("-", "").isalnum(), value


def test_importing_the_manifest_model_imports_no_compression_library() -> None:
    # The template helpers import the manifest at application start-up, where nothing is compressed.
    code = (
        "import sys, assetpipe.manifest, assetpipe.codecs, assetpipe.verify;"
        "print(sorted(m for m in ('brotli', 'zopfli', 'backports.zstd', 'compression.zstd') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_zstd_is_switched_on_by_the_config_file_and_off_again_by_the_flag(tmp_path: Path) -> None:
    from assetpipe.config import load_config

    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\nzstd = true\n')
    assert load_config(None, tmp_path).zstd is True
    assert load_config(None, tmp_path, {"zstd": False}).zstd is False
    assert load_config(None, tmp_path, {"brotli": False}).brotli is False


def test_a_codec_switch_that_is_not_a_bool_names_the_key_and_the_file(tmp_path: Path) -> None:
    from assetpipe.config import load_config
    from assetpipe.errors import ConfigError

    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\nzstd = "yes"\n')
    with pytest.raises(ConfigError, match="'zstd' must be bool, not str") as info:
        load_config(None, tmp_path)
    assert "assetpipe.toml" in str(info.value)


def test_the_command_line_offers_a_switch_for_every_codec() -> None:
    from click.testing import CliRunner

    from assetpipe.cli import cli

    for command in ("build", "watch"):
        text = CliRunner().invoke(cli, [command, "--help"]).output
        for codec in CODECS.values():
            assert f"--{codec.config_key} / --no-{codec.config_key}" in text, (command, codec.name)
        assert "--gzip-backend [zopfli|zlib]" in text


def test_zstd_switched_on_without_a_zstd_module_is_one_config_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from assetpipe.config import load_config
    from assetpipe.errors import ConfigError

    package = "compression" if sys.version_info >= (3, 14) else "backports"
    monkeypatch.delattr(importlib.import_module(package), "zstd", raising=False)
    monkeypatch.setitem(sys.modules, f"{package}.zstd", None)  # an import of it now fails
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\nzstd = true\n')
    with pytest.raises(ConfigError, match=r"'zstd' is on, but .*pip install backports\.zstd") as info:
        load_config(None, tmp_path)
    assert info.value.path == str(tmp_path / "assetpipe.toml")
    assert load_config(None, tmp_path, {"zstd": False}).zstd is False, "off: nothing needs the module"


@pytest.mark.parametrize(
    ("name", "value"),
    [("ZOPFLI_RULES", ((1 << 62, 2, 0),)), ("BROTLI_QUALITY", 10), ("ZSTD_LEVEL", 18), ("METHODS_VERSION", 2)],
)
def test_a_changed_recipe_changes_the_settings_of_every_method_it_shapes(
    monkeypatch: pytest.MonkeyPatch, name: str, value: object
) -> None:
    # The settings are part of the cache key: a warm cache must never give other bytes than a cold one.
    from assetpipe import codecs

    def settings() -> dict[str, str]:
        return {
            f"{c.name}/{b.name}": b.method(5000, True).settings for c in CODECS.values() for b in c.backends.values()
        }

    before = settings()
    monkeypatch.setattr(codecs, name, value)
    after = settings()
    changed = {k for k in before if before[k] != after[k]}
    expected = {
        "ZOPFLI_RULES": {"gzip/zopfli"},
        "BROTLI_QUALITY": {"br/brotli"},
        "ZSTD_LEVEL": {"zstd/zstd"},
        "METHODS_VERSION": set(before),
    }[name]
    assert changed == expected
