"""Every shell block in README.md and docs/ is either run here or says why not.

A fenced block whose info string starts with ``sh`` (or ``bash``, ``shell``, ``console``) must go on with
``runnable`` (run here, in a copy of the example site with ``dist/`` already built from it, and must exit
0) or ``not-run: <reason>``. README's "Two commands" are the one exception: .ci/run runs them verbatim on
a fresh machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = ("sh", "bash", "shell", "console")
FENCE = re.compile(r"^(```+|~~~+)\s*(\S*)\s*(.*)$")
RUN_BY_CI = "## Two commands"


@dataclass(frozen=True)
class Block:
    file: str
    line: int
    info: str
    text: str
    section: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def shell_blocks() -> list[Block]:
    blocks: list[Block] = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        section = ""
        i = 0
        while i < len(lines):
            if lines[i].startswith("## "):
                section = lines[i]
            m = FENCE.match(lines[i])
            if m is None:
                i += 1
                continue
            fence, lang, rest = m.groups()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(fence)), len(lines))
            if lang in SHELLS:
                text = "\n".join(lines[i + 1 : end]) + "\n"
                blocks.append(Block(path.relative_to(ROOT).as_posix(), i + 1, rest.strip(), text, section))
            i = end + 1
    return blocks


BLOCKS = shell_blocks()
RUNNABLE = [b for b in BLOCKS if b.info == "runnable"]


def test_there_are_runnable_blocks_in_readme_and_docs() -> None:
    assert {b.file for b in RUNNABLE} >= {"README.md", "docs/deploy.md"}


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_every_shell_block_is_runnable_or_says_why_not(block: Block) -> None:
    if block.file == "README.md" and block.section == RUN_BY_CI:
        return
    assert block.info == "runnable" or re.fullmatch(r"not-run: \S.*", block.info), (
        f"{block.id}: mark the block 'sh runnable' or 'sh not-run: <why>'"
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of the example site, with dist/ built from its assets, as the docs' commands assume."""
    root = tmp_path / "project"
    shutil.copytree(
        ROOT / "example_site",
        root / "example_site",
        ignore=shutil.ignore_patterns("dist", ".assetpipe-cache", "__pycache__"),
    )
    result = run_shell("assetpipe build --source example_site/assets --output dist\n", root)
    assert result.returncode == 0, result.stderr
    return root


def run_shell(text: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_a_runnable_block_runs(block: Block, sandbox: Path) -> None:
    result = run_shell(block.text, sandbox)
    assert result.returncode == 0, f"{block.id} failed:\n{block.text}\n--- stderr:\n{result.stderr}"
