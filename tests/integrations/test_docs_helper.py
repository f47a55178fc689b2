"""docs/helper.md's code blocks, run as they stand in a directory with a build in dist/ and templates/.

(The Django blocks are run by the Django tests: the test project's settings execute the settings block
and render the template block.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from .docs import blocks


def run(code: str, where: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute a doc block with ``where`` as the working directory (the docs' relative paths)."""
    monkeypatch.chdir(where)
    namespace: dict[str, Any] = {"__name__": "docs_example"}  # not a module Flask can find: root = cwd
    exec(compile(code, "docs/helper.md", "exec"), namespace)
    return namespace


def test_the_jinja_block_installs_the_three_globals(
    site: Path, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = run(blocks("In any Jinja2 environment", "python")[0], site, monkeypatch)["env"]
    html = env.get_template("page.html").render()
    # The block's last install() sets a CDN base URL.
    assert f'href="https://cdn.example.com/static/{manifest.entry("css/app.css").path}"' in html


def test_the_flask_blocks_install_the_helper_and_hash_url_for_static(
    site: Path, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, url_for_block = blocks("Flask", "python")
    app = run(first, site, monkeypatch)["app"]
    assert "asset_tag" in app.jinja_env.globals
    assert run(url_for_block, site, monkeypatch)["css"] == manifest.url("css/app.css")


def test_the_fastapi_block_serves_the_build(
    site: Path, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = run(blocks("Starlette and FastAPI", "python")[0], site, monkeypatch)
    response = TestClient(namespace["app"]).get(
        manifest.url("css/app.css"), headers={"Accept-Encoding": "br"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "asset_tag" in namespace["templates"].env.globals


def test_the_maud_template_names_only_constants_and_fields_the_module_defines(
    tmp_path: Path, manifest: Manifest
) -> None:
    """Maud itself is not available here (no crate registry); rustc checks every name the block uses."""
    from tests.snippets.support import require

    rustc = require("rustc")
    import subprocess

    maud = blocks("Axum + Maud (Rust)", "rust")[0]
    used = sorted(set(re.findall(r"assets::([A-Z0-9_]+)\.(\w+)", maud)))
    assert ("CSS_APP_CSS", "url") in used and ("JS_MAIN_JS", "integrity") in used
    (tmp_path / "assets.rs").write_text(render("rust", manifest, root="/srv/out"), encoding="utf-8")
    uses = ", ".join(f"assets::{name}.{field}" for name, field in used)
    (tmp_path / "main.rs").write_text(
        f'mod assets;\nfn main() {{ println!("{{:?}}", ({uses},)); }}\n', encoding="utf-8"
    )
    done = subprocess.run(
        [rustc, "--edition", "2021", "-o", str(tmp_path / "prog"), str(tmp_path / "main.rs")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
