"""A copy of the shipped flows that a test edits as a maintainer would, to reload it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bot.library import DEFAULT_FLOWS_DIR

__all__ = ["INTRO_R1", "INTRO_R2", "break_a_route", "copy_flows", "set_revision", "change_the_intro"]

OPENING = Path("protocol") / "00_opening.yaml"
MANIFEST = Path("protocol") / "flow.yaml"

# The first words a volunteer reads, in Indonesian, before and after `change_the_intro`. The new
# intro is a text the catalog already translates, so the changed flow passes the strict check.
INTRO_R1 = "Bacakan naskah persetujuan singkat"
INTRO_R2 = 'Bacakan: "Anda boleh melewati pertanyaan apa pun'
_INTRO_TEXT = """\
      Read the short consent script below aloud, in a calm voice. If the caller whispers or sounds
      rushed, keep it brief.
"""
_NEW_INTRO_TEXT = """\
      Read aloud: "You can skip any question, and you can stop at any time."
"""


def copy_flows(tmp_path: Path) -> Path:
    """The shipped flows directory, copied: only its flows, not the package's Python files."""
    target = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer holds {old!r}: update tests/flowdir.py"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def set_revision(flows: Path, revision: int) -> None:
    manifest = flows / MANIFEST
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(re.sub(r"(?m)^revision: \d+$", f"revision: {revision}", text, count=1), encoding="utf-8")


def change_the_intro(flows: Path) -> None:
    """A visible change: the first text a new case shows is another (translated) sentence."""
    _edit(flows / OPENING, _INTRO_TEXT, _NEW_INTRO_TEXT)


def break_a_route(flows: Path) -> None:
    """A hard error: the intro leads to a node that does not exist."""
    _edit(flows / OPENING, "    next: consent_who\n", "    next: consent_nowhere\n")
