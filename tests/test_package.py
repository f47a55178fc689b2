"""The package's public names, as README uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_build_and_config_import_from_the_package_and_build(tmp_path: Path) -> None:
    from assetpipe import BuildReport, Config, build

    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.css").write_text("a{}", encoding="utf-8")
    report = build(Config(source=tmp_path / "src", output=tmp_path / "out", compress=False))
    assert isinstance(report, BuildReport) and report.files == 1


def test_reading_a_manifest_does_not_load_the_build_machinery() -> None:
    # The template helper runs in every web worker: importing it must not pull in sources, graph, compress.
    code = "import sys, assetpipe, assetpipe.jinja; print(sorted(m for m in sys.modules if m.startswith('assetpipe.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "assetpipe.pipeline" not in loaded and "assetpipe.compress" not in loaded
