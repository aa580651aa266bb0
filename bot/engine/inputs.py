"""What a volunteer can do at a step, already translated out of Telegram or terminal terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

__all__ = [
    "Answer",
    "Back",
    "CallSupervisor",
    "Cancel",
    "Input",
    "Note",
    "OverrideFlag",
    "Pause",
    "RaiseFlag",
    "Resume",
    "Start",
]


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
    """Show the open question again (and lift a pause), for a volunteer coming back to a case."""


@dataclass(frozen=True)
class Pause:
    """Hold the case (the caller is on hold, the volunteer must step away); answers wait for Resume."""


@dataclass(frozen=True)
class Note:
    """A free-text note on the case at the current step; it is screened for risk terms."""

    text: str


@dataclass(frozen=True)
class RaiseFlag:
    """Raise one of the flow's flags by hand; a P0 or P1 flag reaches a supervisor at once."""

    flag: str


@dataclass(frozen=True)
class CallSupervisor:
    """"I need a supervisor now": page a supervisor whatever the flags say."""

    reason: str = ""


@dataclass(frozen=True)
class OverrideFlag:
    """Withdraw a flag raised in error. Never silent: the reason is recorded and shown in the summary."""

    flag: str
    reason: str


@dataclass(frozen=True)
class Cancel:
    """Close the case before the flow ends (the caller hung up, the volunteer starts over)."""

    outcome: str = "cancelled"


Input = Union[Start, Answer, Back, Resume, Cancel, Pause, Note, RaiseFlag, CallSupervisor, OverrideFlag]
