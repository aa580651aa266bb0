"""What a volunteer typed, mapped to an answer key: an option's number or label, or yes/no words.

Shared by the console and Telegram, where a volunteer may type instead of pressing a button.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NO_WORDS", "YES_WORDS", "to_answer"]

YES_WORDS = {"y", "ya", "iya", "yes", "yup"}
NO_WORDS = {"n", "no", "t", "tidak", "tdk", "enggak", "nggak", "gak", "ga"}


def to_answer(line: str, prompt: dict[str, Any] | None) -> str:
    """Map what was typed to an answer key: an option number, a label, or yes/no in either language."""
    if not prompt or prompt.get("type") not in ("choice", "yes_no", "multi_choice"):
        return line
    if prompt.get("type") == "multi_choice":
        single = {**prompt, "type": "choice"}
        return ",".join(to_answer(part.strip(), single) for part in line.split(",") if part.strip())
    options = prompt.get("options") or []
    if line.isdigit() and 1 <= int(line) <= len(options):
        return str(options[int(line) - 1]["key"])
    typed = line.casefold()
    for option in options:
        if typed in (str(option["label"]).casefold(), str(option["key"]).casefold()):
            return str(option["key"])
    if prompt.get("type") == "yes_no":
        if typed in YES_WORDS:
            return "yes"
        if typed in NO_WORDS:
            return "no"
    return line
