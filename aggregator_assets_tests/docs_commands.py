"""The commands our README and docs show, read from the files themselves, so a test runs what a
reader copies and a changed command is a changed test."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_LANGUAGES = {"bash", "sh", "shell", "console", "python"}
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, dedented (blocks inside list items)."""
    found, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        text = textwrap.dedent("\n".join(body)) + "\n"
        found.append(Block(path, start, opening["lang"] or "text", text))
        i += 1
    return found


def command_blocks() -> list[Block]:
    """The blocks a reader runs: shell and Python, in README.md and docs/*.md."""
    return [b for path in DOCS for b in blocks(path) if b.language in COMMAND_LANGUAGES]


def doc_block(anchor: str) -> Block:
    """The one command block containing `anchor`."""
    matches = [b for b in command_blocks() if anchor in b.text]
    assert len(matches) == 1, f"{len(matches)} command blocks contain {anchor!r}"
    return matches[0]
