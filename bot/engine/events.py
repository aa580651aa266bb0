"""What a step did, as past-tense events. Hosts carry them out (send, alert, store) after the step.

Texts in events are source-language msgids; the host translates them for whoever reads them, so the
event log stays the same whatever language the volunteer chose.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

__all__ = [
    "AnswerRecorded",
    "CaseSummarized",
    "EscalationRequested",
    "Event",
    "FlagOverridden",
    "FlagProposed",
    "FlagRaised",
    "FlagSummary",
    "FollowUpScheduled",
    "InputRejected",
    "MsgCreated",
    "NoteAdded",
    "Prompt",
    "ReferralsOffered",
    "SessionEnded",
    "SessionPaused",
    "SessionResumed",
    "SessionStarted",
    "WentBack",
]


@dataclass(frozen=True)
class Prompt:
    """The answer a question expects, for rendering keyboards and numbered lists."""

    type: str
    options: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    previous_answer: Any = None


@dataclass(frozen=True)
class Event:
    type: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionStarted(Event):
    type: ClassVar[str] = "session_started"
    flow: str
    revision: int


@dataclass(frozen=True)
class MsgCreated(Event):
    """A text for the volunteer; with a prompt when it asks a question."""

    type: ClassVar[str] = "msg_created"
    node: str
    text: str
    prompt: Prompt | None = None


@dataclass(frozen=True)
class AnswerRecorded(Event):
    type: ClassVar[str] = "answer_recorded"
    node: str
    value: Any


@dataclass(frozen=True)
class InputRejected(Event):
    type: ClassVar[str] = "input_rejected"
    node: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagRaised(Event):
    type: ClassVar[str] = "flag_raised"
    flag: str
    level: str
    node: str
    label: str
    guidance: str


@dataclass(frozen=True)
class EscalationRequested(Event):
    """A human social worker must join: the host opens an escalation and alerts supervisors."""

    type: ClassVar[str] = "escalation_requested"
    level: str
    flags: tuple[str, ...]
    node: str
    reason: str


@dataclass(frozen=True)
class WentBack(Event):
    type: ClassVar[str] = "went_back"
    from_node: str
    to_node: str


@dataclass(frozen=True)
class SessionResumed(Event):
    type: ClassVar[str] = "session_resumed"
    node: str


@dataclass(frozen=True)
class SessionEnded(Event):
    type: ClassVar[str] = "session_ended"
    outcome: str


@dataclass(frozen=True)
class SessionPaused(Event):
    type: ClassVar[str] = "session_paused"
    node: str


@dataclass(frozen=True)
class NoteAdded(Event):
    """A volunteer's free-text note. It may hold sensitive details: never put it in an alert."""

    type: ClassVar[str] = "note_added"
    node: str
    text: str


@dataclass(frozen=True)
class FlagProposed(Event):
    """Screening found a risk term in free text; the volunteer confirms the flag or not."""

    type: ClassVar[str] = "flag_proposed"
    flag: str
    level: str
    term: str
    node: str


@dataclass(frozen=True)
class FlagOverridden(Event):
    type: ClassVar[str] = "flag_overridden"
    flag: str
    level: str
    reason: str


@dataclass(frozen=True)
class ReferralsOffered(Event):
    """Services to offer for these needs in this region; the host looks them up in the directory."""

    type: ClassVar[str] = "referrals_offered"
    node: str
    needs: tuple[str, ...]
    region: str | None
    text: str | None = None


@dataclass(frozen=True)
class FollowUpScheduled(Event):
    type: ClassVar[str] = "follow_up_scheduled"
    node: str
    kind: str
    due_at: str
    text: str | None = None


@dataclass(frozen=True)
class FlagSummary:
    flag: str
    level: str
    label: str
    escalated: bool
    overridden: str | None


@dataclass(frozen=True)
class CaseSummarized(Event):
    """What the case holds so far, for the volunteer's summary: flags, follow-ups, referrals asked for."""

    type: ClassVar[str] = "case_summarized"
    node: str
    title: str
    flags: tuple[FlagSummary, ...]
    follow_ups: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
