"""The state of one case session: a JSON document the storage keeps between steps."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["OpenFlag", "SessionState", "SessionStatus"]


class SessionStatus(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass
class OpenFlag:
    """A risk flag raised in this session. Going back never lowers it; only a recorded override may."""

    flag: str
    level: str
    node: str
    raised_at: str
    escalated: bool = False
    overridden: str | None = None

    @property
    def active(self) -> bool:
        return self.overridden is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "level": self.level,
            "node": self.node,
            "raised_at": self.raised_at,
            "escalated": self.escalated,
            "overridden": self.overridden,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpenFlag":
        return cls(
            data["flag"],
            data["level"],
            data["node"],
            data["raised_at"],
            bool(data.get("escalated", False)),
            data.get("overridden"),
        )


@dataclass
class SessionState:
    flow: str
    revision: int
    node: str
    status: SessionStatus = SessionStatus.ACTIVE
    answers: dict[str, Any] = field(default_factory=dict)
    # Questions asked, oldest first; the last one is the question now open. "Back" pops it.
    history: list[str] = field(default_factory=list)
    flags: list[OpenFlag] = field(default_factory=list)
    outcome: str | None = None
    step: int = 0
    # Follow-ups agreed in this case as {"kind", "due_at"}; storage turns them into due dates.
    follow_ups: list[dict[str, str]] = field(default_factory=list)

    def flag(self, flag_id: str) -> OpenFlag | None:
        return next((flag for flag in self.flags if flag.flag == flag_id), None)

    def unescalated(self) -> list[OpenFlag]:
        return [flag for flag in self.flags if not flag.escalated and flag.active]

    def copy(self) -> "SessionState":
        # Answers are strings and numbers, so copying the containers is a full copy, at a fraction
        # of deepcopy's cost (it was an eighth of a step).
        return replace(
            self,
            answers=dict(self.answers),
            history=list(self.history),
            flags=[replace(flag) for flag in self.flags],
            follow_ups=[dict(follow_up) for follow_up in self.follow_ups],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "revision": self.revision,
            "node": self.node,
            "status": self.status.value,
            "answers": dict(self.answers),
            "history": list(self.history),
            "flags": [flag.to_dict() for flag in self.flags],
            "outcome": self.outcome,
            "step": self.step,
            "follow_ups": [dict(follow_up) for follow_up in self.follow_ups],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SessionState":
        return cls(
            flow=data["flow"],
            revision=int(data["revision"]),
            node=data["node"],
            status=SessionStatus(data.get("status", "active")),
            answers=dict(data.get("answers", {})),
            history=list(data.get("history", [])),
            flags=[OpenFlag.from_dict(flag) for flag in data.get("flags", [])],
            outcome=data.get("outcome"),
            step=int(data.get("step", 0)),
            follow_ups=[dict(follow_up) for follow_up in data.get("follow_ups", [])],
        )
