"""One step's working model: what entering each kind of node does, and the rules for flags.

`Visit` is the model attached to the shared Machine for a step. It holds a copy of the session and
collects events; nothing here does I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, Sequence

from bot.engine.events import (
    CaseSummarized,
    EscalationRequested,
    Event,
    FlagProposed,
    FlagRaised,
    FlagSummary,
    FollowUpScheduled,
    MsgCreated,
    Prompt,
    ReferralsOffered,
    SessionEnded,
)
from bot.engine.flow import Flow, Level, N_, Node, NodeKind
from bot.engine.state import OpenFlag, SessionState, SessionStatus

__all__ = ["CALLER_LOST_OUTCOMES", "HISTORY_LIMIT", "Screener", "ScreeningMatch", "Visit"]

# How far "back" reaches. A flow that loops would otherwise grow the stored state with every answer.
HISTORY_LIMIT = 100
# Endings where the caller is gone before the plan was made. With a P0 flag open, the supervisor
# must hear of it even if that flag was escalated before.
CALLER_LOST_OUTCOMES = frozenset({"call_dropped", "caller_ended", "cancelled", "abandoned"})


class ScreeningMatch(Protocol):
    @property
    def flag(self) -> str: ...

    @property
    def level(self) -> Level: ...

    @property
    def term(self) -> str: ...


class Screener(Protocol):
    """Finds risk terms in free text (see bot.engine.screening)."""

    def screen(self, text: str) -> Sequence[ScreeningMatch]: ...


class Visit:
    def __init__(self, flow: Flow, session: SessionState, now: datetime, screener: Screener | None = None) -> None:
        self.flow = flow
        self.session = session
        self.node_id = session.node
        self.now = now
        self.screener = screener
        self.events: list[Event] = []

    def node_entered(self, node: Node) -> None:
        self.session.node = node.id
        if node.kind is NodeKind.ASK:
            history = self.session.history
            if not history or history[-1] != node.id:
                history.append(node.id)
                del history[:-HISTORY_LIMIT]
            self.prompt(node)
        elif node.kind is NodeKind.SAY:
            self.events.append(MsgCreated(node.id, node.text or ""))
        elif node.kind is NodeKind.FLAG:
            assert node.flag is not None
            self.raise_flag(node.flag, node.id, escalate_now=False)
        elif node.kind is NodeKind.ESCALATE:
            self.escalate(node.id, node.text or "")
        elif node.kind is NodeKind.REFER:
            self.refer(node)
        elif node.kind is NodeKind.FOLLOW_UP:
            self.schedule(node)
        elif node.kind is NodeKind.SUMMARY:
            self.summarise(node)
        elif node.kind is NodeKind.END:
            self.close(node.id, node.outcome or "ended", node.text)

    def prompt(self, node: Node) -> None:
        spec = node.input
        if spec is None:
            return
        prompt = Prompt(
            type=spec.type.value,
            options=tuple((option.key, option.label) for option in spec.options),
            minimum=spec.minimum,
            maximum=spec.maximum,
            previous_answer=self.session.answers.get(node.id),
        )
        self.events.append(MsgCreated(node.id, node.text or "", prompt))

    def raise_flag(self, flag_id: str, node_id: str, *, escalate_now: bool) -> None:
        """Raise a declared flag once. P0 always reaches a supervisor at once; P1 too when raised by hand."""
        if self.session.flag(flag_id) is not None:
            return  # raised earlier in this session (for example before going back): still open
        flag = self.flow.flags[flag_id]
        self.session.flags.append(OpenFlag(flag.id, flag.level.value, node_id, self.now.isoformat()))
        self.events.append(FlagRaised(flag.id, flag.level.value, node_id, flag.label, flag.guidance))
        if flag.level is Level.P0 or (escalate_now and flag.level.needs_escalation):
            self.escalate(node_id, flag.label)

    def escalate(
        self, node_id: str, reason: str, *, level: Level | None = None, force: bool = False, about: tuple[str, ...] = ()
    ) -> None:
        """Send every flag not yet escalated to a supervisor; `force` sends even when there is none.
        `about` names flags escalated before that this escalation is about again."""
        pending = self.session.unescalated()
        if not pending and self.session.flags and not force:
            return  # every flag already went to a supervisor
        most_urgent = Level.most_urgent([Level(flag.level) for flag in pending]) or Level.P1
        if level is not None:
            most_urgent = Level.most_urgent([most_urgent, level]) or level
        for flag in pending:
            flag.escalated = True
        flags = tuple(dict.fromkeys([*about, *(flag.flag for flag in pending)]))
        self.events.append(EscalationRequested(most_urgent.value, flags, node_id, reason))

    def screen(self, node_id: str, text: str) -> None:
        """Risk terms in free text: P0 raises its flag and escalates at once, others are proposed."""
        if self.screener is None:
            return
        for match in self.screener.screen(text):
            known = match.flag in self.flow.flags
            if self.session.flag(match.flag) is not None:
                continue
            # The flow's level decides, as it does for every flag it declares: a term listed at P1
            # for a flag the flow holds at P0 must still page at once.
            level = self.flow.flags[match.flag].level if known else match.level
            if level is Level.P0:
                if known:
                    self.raise_flag(match.flag, node_id, escalate_now=True)
                else:
                    # The term stays out of the reason: alerts never carry what the volunteer typed.
                    self.escalate(node_id, N_("Free text mentions an emergency."), level=Level.P0, force=True)
            else:
                self.events.append(FlagProposed(match.flag, level.value, match.term, node_id))

    def refer(self, node: Node) -> None:
        assert node.referral is not None
        answer = self.session.answers.get(node.referral.needs_from)
        needs = tuple(answer) if isinstance(answer, list) else ((str(answer),) if answer else ())
        region = self.session.answers.get(node.referral.region_from) if node.referral.region_from else None
        self.events.append(ReferralsOffered(node.id, needs, None if region is None else str(region), node.text))

    def schedule(self, node: Node) -> None:
        assert node.follow_up is not None
        hours = node.follow_up.after_hours
        if hours is None:
            answered = self.session.answers.get(node.follow_up.hours_from or "")
            if not isinstance(answered, int):
                return  # the question was skipped by the route taken: nothing was agreed
            hours = answered
        due_at = (self.now + timedelta(hours=hours)).isoformat()
        self.session.follow_ups.append({"kind": node.follow_up.kind, "due_at": due_at})
        self.events.append(FollowUpScheduled(node.id, node.follow_up.kind, due_at, node.text))

    def summarise(self, node: Node) -> None:
        flags = tuple(
            FlagSummary(flag.flag, flag.level, self._label(flag.flag), flag.escalated, flag.overridden)
            for flag in self.session.flags
        )
        follow_ups = tuple((item["kind"], item["due_at"]) for item in self.session.follow_ups)
        needs = tuple(
            value
            for candidate in self.flow.nodes.values()
            if candidate.referral is not None
            for value in _as_list(self.session.answers.get(candidate.referral.needs_from))
        )
        self.events.append(CaseSummarized(node.id, node.text or "", flags, follow_ups, tuple(dict.fromkeys(needs))))

    def close(self, node_id: str, outcome: str, text: str | None) -> None:
        active = [flag for flag in self.session.flags if flag.active]
        if any(Level(flag.level).needs_escalation for flag in self.session.unescalated()):
            # Safety net under the flow check: a P0/P1 flag never closes a case unescalated.
            self.escalate(node_id, N_("The case ended with a risk flag that had not been escalated."))
        if outcome in CALLER_LOST_OUTCOMES and any(Level(flag.level) is Level.P0 for flag in active):
            # The supervisor may be acting on this caller: losing the line is news, escalate again.
            reason = (
                N_("The call dropped while a P0 flag was open.")
                if outcome == "call_dropped"
                else N_("The case was closed before the end while a P0 flag was open.")
            )
            p0_flags = tuple(flag.flag for flag in active if Level(flag.level) is Level.P0)
            self.escalate(node_id, reason, level=Level.P0, force=True, about=p0_flags)
        if text:
            self.events.append(MsgCreated(node_id, text))
        self.session.status = SessionStatus.ENDED
        self.session.outcome = outcome
        self.events.append(SessionEnded(outcome))

    def _label(self, flag_id: str) -> str:
        flag = self.flow.flags.get(flag_id)
        return flag.label if flag is not None else flag_id


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)] if value else []
