"""The site fixture shared by the framework tests: dist/ built, templates/page.html using the helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetpipe.manifest import Manifest

from .dist import PAGE, build_site
from .django_project import collectstatic, make_project


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path with assets/ built into dist/ and templates/page.html using all three helpers."""
    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    build_site(tmp_path)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(PAGE, encoding="utf-8")
    return tmp_path


@pytest.fixture
def manifest(site: Path) -> Manifest:
    return Manifest.load(site / "dist" / "manifest.json")


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Django test project, collected once (with compression), for the tests that only read it."""
    root = make_project(tmp_path_factory.mktemp("django"))
    collectstatic(root)
    return root
