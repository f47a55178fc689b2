"""The fenced code blocks of docs/helper.md, by section, so tests run the snippets the docs show."""

from __future__ import annotations

import re
from pathlib import Path

HELPER_MD = Path(__file__).resolve().parents[2] / "docs" / "helper.md"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```$", re.M | re.S)  # the info string may say more: "sh not-run: ..."


def blocks(section: str, language: str) -> list[str]:
    """The ``language`` blocks under the ``## section`` heading (up to the next ``## ``), in order."""
    text = HELPER_MD.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end >= 0 else len(text)]
    found = [code for lang, code in _FENCE.findall(body) if lang == language]
    assert found, f"no {language} block under '## {section}' in {HELPER_MD}"
    return found
