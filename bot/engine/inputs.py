"""What a volunteer can do at a step, already translated out of Telegram or terminal terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

__all__ = ["Answer", "Back", "Cancel", "Input", "Resume", "Start"]


@dataclass(frozen=True)
class Start:
    """Open a new session on the flow's start node."""


@dataclass(frozen=True)
class Answer:
    """An answer to the open question: an option key, a number or free text, as typed."""

    value: str


@dataclass(frozen=True)
class Back:
    """Return to the previous question; what was recorded stays recorded."""


@dataclass(frozen=True)
class Resume:
    """Show the open question again, for a volunteer who comes back to an unfinished case."""


@dataclass(frozen=True)
class Cancel:
    """Close the case before the flow ends (the caller hung up, the volunteer starts over)."""

    outcome: str = "cancelled"


Input = Union[Start, Answer, Back, Resume, Cancel]
