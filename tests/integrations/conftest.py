"""The site fixture shared by the framework tests: dist/ built, templates/page.html using the helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from .dist import PAGE, write_dist


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path with dist/ built and templates/page.html using all three helpers."""
    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    write_dist(tmp_path / "dist")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(PAGE, encoding="utf-8")
    return tmp_path
