"""The Axum snippet compiled by rustc, offline: against signature stubs of axum 0.7 / http 1, tower-http 0.6
and percent-encoding 2 (rust_stubs/), since there is no crates registry here.

This catches what text tests cannot (a type error, a moved value, a borrow held too long, an unused
variable under ``-D warnings``) in every CORS mode; it cannot catch a stub that disagrees with the real
crates' signatures, which the stubs copy from their documentation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from .support import make_out

STUBS = Path(__file__).with_name("rust_stubs")
CRATES = ("axum", "tower_http", "percent_encoding")


def rustc() -> str:
    found = shutil.which("rustc") or next(
        (str(p) for p in (Path.home() / ".cargo" / "bin" / "rustc",) if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = "rustc is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    compiler = rustc()
    out = tmp_path_factory.mktemp("rust-stubs")
    for crate in CRATES:
        compile_rust(compiler, STUBS / f"{crate}.rs", out / f"lib{crate}.rlib", crate, "rlib", out)
    return compiler, out


def compile_rust(compiler: str, source: Path, target: Path, name: str, kind: str, deps: Path) -> None:
    externs = [f"--extern={c}={deps / f'lib{c}.rlib'}" for c in CRATES if c != name]
    argv = [compiler, "--edition=2021", f"--crate-type={kind}", f"--crate-name={name}", "-L", str(deps)]
    argv += [*externs, "-D", "warnings", str(source), "-o", str(target)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"rustc rejected {source.name}:\n{done.stderr}"


@pytest.mark.parametrize(
    ("cors", "serve_manifest", "base_url"),
    [
        ("*", False, "/static/"),
        (False, False, "/static/"),
        (["https://a.example", "http://127.0.0.1:8000"], True, "/static/"),
        (["https://a.example"], False, "/"),
    ],
    ids=["any", "off", "listed-manifest-served", "one-origin-at-root"],
)
def test_the_axum_snippet_compiles_in_every_cors_mode(
    stubs: tuple[str, Path], tmp_path: Path, cors: Any, serve_manifest: bool, base_url: str
) -> None:
    compiler, deps = stubs
    manifest: Manifest = make_out(tmp_path / "out", base_url=base_url)
    source = tmp_path / "assetpipe.rs"
    source.write_text(render("axum", manifest, root="/srv/out", serve_manifest=serve_manifest, cors=cors))
    compile_rust(compiler, source, tmp_path / "libassetpipe.rlib", "assetpipe", "lib", deps)
