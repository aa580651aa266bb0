"""The engine's one entry point: (flow, state, input, now) -> (state', events). No I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from transitions import Machine

from bot.engine.events import (
    AnswerRecorded,
    EscalationRequested,
    Event,
    FlagRaised,
    InputRejected,
    MsgCreated,
    Prompt,
    SessionEnded,
    SessionResumed,
    SessionStarted,
    WentBack,
)
from bot.engine.flow import Flow, InputSpec, InputType, Level, Node, NodeKind, N_
from bot.engine.inputs import Answer, Back, Cancel, Input, Resume, Start
from bot.engine.machine import NEW_STATE, FlowMachine
from bot.engine.state import OpenFlag, SessionState, SessionStatus

__all__ = ["StepResult", "step"]

# A flow cannot loop without a question (the loader refuses that), so this only guards against bugs.
MAX_AUTOMATIC_NODES = 500
# How far "back" reaches. A flow that loops would otherwise grow the stored state with every answer.
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class StepResult:
    state: SessionState
    events: tuple[Event, ...]

    @property
    def accepted(self) -> bool:
        return not any(isinstance(event, InputRejected) for event in self.events)


def step(machine: FlowMachine, state: SessionState | None, action: Input, now: datetime) -> StepResult:
    """Apply one volunteer action to a session. `state` is not modified; a new state is returned."""
    flow = machine.flow
    if isinstance(action, Start):
        model = _Step(flow, SessionState(flow.id, flow.revision, NEW_STATE), now)
        model.events.append(SessionStarted(flow.id, flow.revision))
        machine.run(model, NEW_STATE, lambda m: _advance(machine, m, model, "begin"))
        return model.result()
    if state is None:
        raise ValueError("only Start may run without a session state")
    if (state.flow, state.revision) != flow.key:
        raise ValueError(f"session is on {state.flow} r{state.revision}, not on {flow.id} r{flow.revision}")
    model = _Step(flow, state.copy(), now)
    if model.session.status is SessionStatus.ENDED:
        model.events.append(InputRejected(state.node, N_("This case has ended. Start a new case to continue.")))
        return model.result(changed=False)
    node = flow.node(state.node)
    if isinstance(action, Resume):
        model.events.append(SessionResumed(node.id))
        model.prompt(node)
        return model.result(changed=False)
    if isinstance(action, Back):
        return _back(machine, model)
    if isinstance(action, Answer):
        return _answer(machine, model, node, action.value)
    if isinstance(action, Cancel):
        model.close(node, action.outcome, None)
        return model.result()
    raise TypeError(f"unknown input {action!r}")


def _answer(machine: FlowMachine, model: "_Step", node: Node, raw: str) -> StepResult:
    assert node.input is not None, "a session waits only on questions"
    value, problem = _normalise(node.input, raw)
    if problem is not None:
        model.events.append(InputRejected(node.id, problem[0], problem[1]))
        model.prompt(node)
        return model.result(changed=False)
    model.session.answers[node.id] = value
    model.events.append(AnswerRecorded(node.id, value))
    machine.run(model, node.id, lambda m: _advance(machine, m, model, "submit", answer=value))
    return model.result()


def _back(machine: FlowMachine, model: "_Step") -> StepResult:
    history = model.session.history
    if len(history) < 2:
        model.events.append(InputRejected(model.session.node, N_("There is no earlier question to go back to.")))
        return model.result(changed=False)
    left = history.pop()
    target = machine.flow.node(history[-1])
    model.session.node = target.id
    model.events.append(WentBack(left, target.id))
    model.prompt(target)
    return model.result()


def _advance(machine: FlowMachine, m: Machine, model: "_Step", trigger: str, **kwargs: Any) -> None:
    """Fire `trigger`, then pass through nodes that need no answer until a question or an end."""
    if not FlowMachine.fire(m, model, trigger, **kwargs):
        raise RuntimeError(f"no route from {model.node_id!r} for {kwargs!r}")
    for _ in range(MAX_AUTOMATIC_NODES):
        kind = machine.flow.node(model.node_id).kind
        if kind is NodeKind.ASK or kind is NodeKind.END:
            return
        FlowMachine.fire(m, model, "proceed")
    raise RuntimeError(f"flow {machine.flow.id} advanced {MAX_AUTOMATIC_NODES} nodes without a question")


def _normalise(spec: InputSpec, raw: str) -> tuple[Any, tuple[str, dict[str, Any]] | None]:
    text = raw.strip()
    if spec.type in (InputType.CHOICE, InputType.YES_NO):
        option = spec.option(text.lower())
        if option is None:
            return None, (N_("Please choose one of the options."), {})
        return option.key, None
    if spec.type is InputType.NUMBER:
        try:
            number = int(text)
        except ValueError:
            return None, (N_("Please answer with a whole number."), {})
        low = spec.minimum if spec.minimum is not None else number
        high = spec.maximum if spec.maximum is not None else number
        if not low <= number <= high:
            return None, (N_("Please answer with a number from {minimum} to {maximum}."), {"minimum": low, "maximum": high})
        return number, None
    if not text:
        return None, (N_("Please type an answer."), {})
    if len(text) > spec.max_length:
        return None, (N_("Please keep the answer under {limit} characters."), {"limit": spec.max_length})
    return text, None


class _Step:
    """The model attached to the shared Machine for one step; it collects what happens."""

    def __init__(self, flow: Flow, session: SessionState, now: datetime) -> None:
        self.flow = flow
        self.session = session
        self.node_id = session.node
        self.now = now
        self.events: list[Event] = []

    def result(self, changed: bool = True) -> StepResult:
        if changed:
            self.session.step += 1
        return StepResult(self.session, tuple(self.events))

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
            self.raise_flag(node)
        elif node.kind is NodeKind.ESCALATE:
            self.escalate(node, node.text or "")
        elif node.kind is NodeKind.END:
            self.close(node, node.outcome or "ended", node.text)

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

    def raise_flag(self, node: Node) -> None:
        assert node.flag is not None
        if self.session.flag(node.flag) is not None:
            return  # raised earlier in this session (for example before going back): still open
        flag = self.flow.flags[node.flag]
        self.session.flags.append(OpenFlag(flag.id, flag.level.value, node.id, self.now.isoformat()))
        self.events.append(FlagRaised(flag.id, flag.level.value, node.id, flag.label, flag.guidance))
        if flag.level is Level.P0:
            # An emergency does not wait for the flow to reach its escalation node.
            self.escalate(node, flag.label)

    def escalate(self, node: Node, reason: str) -> None:
        pending = self.session.unescalated()
        if not pending and self.session.flags:
            return  # every flag already went to a supervisor
        level = Level.most_urgent([Level(flag.level) for flag in pending]) or Level.P1
        for flag in pending:
            flag.escalated = True
        self.events.append(EscalationRequested(level.value, tuple(flag.flag for flag in pending), node.id, reason))

    def close(self, node: Node, outcome: str, text: str | None) -> None:
        if any(Level(flag.level).needs_escalation for flag in self.session.unescalated()):
            # Safety net under the flow check: a P0/P1 flag never closes a case unescalated.
            self.escalate(node, N_("The case ended with a risk flag that had not been escalated."))
        if text:
            self.events.append(MsgCreated(node.id, text))
        self.session.status = SessionStatus.ENDED
        self.session.outcome = outcome
        self.events.append(SessionEnded(outcome))
