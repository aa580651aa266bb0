"""The engine's one entry point: (flow, state, input, now) -> (state', events). No I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from transitions import Machine

from bot.engine.events import (
    AnswerRecorded,
    Event,
    FlagOverridden,
    InputRejected,
    NoteAdded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    WentBack,
)
from bot.engine.flow import N_, InputSpec, InputType, Level, Node, NodeKind
from bot.engine.inputs import Answer, Back, CallSupervisor, Cancel, Input, Note, OverrideFlag, Pause, RaiseFlag, Resume, Start
from bot.engine.machine import NEW_STATE, FlowMachine
from bot.engine.state import SessionState, SessionStatus
from bot.engine.visit import Visit

__all__ = ["NOTE_LIMIT", "OVERRIDE_REASON_MINIMUM", "StepResult", "step"]

# A flow cannot loop without a question (the loader refuses that), so this only guards against bugs.
MAX_AUTOMATIC_NODES = 500
NOTE_LIMIT = 2000
# An override is a decision someone will review: a word or two is not a reason.
OVERRIDE_REASON_MINIMUM = 10


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
        visit = Visit(flow, SessionState(flow.id, flow.revision, NEW_STATE), now, machine.screener)
        visit.events.append(SessionStarted(flow.id, flow.revision))
        machine.run(visit, NEW_STATE, lambda m: _advance(machine, m, visit, "begin"))
        return _result(visit)
    if state is None:
        raise ValueError("only Start may run without a session state")
    if (state.flow, state.revision) != flow.key:
        raise ValueError(f"session is on {state.flow} r{state.revision}, not on {flow.id} r{flow.revision}")
    visit = Visit(flow, state.copy(), now, machine.screener)
    if visit.session.status is SessionStatus.ENDED:
        return _reject(visit, N_("This case has ended. Start a new case to continue."))
    handler = _HANDLERS.get(type(action))
    if handler is None:
        raise TypeError(f"unknown input {action!r}")
    return handler(machine, visit, action)


def _result(visit: Visit, changed: bool = True) -> StepResult:
    if changed:
        visit.session.step += 1
    return StepResult(visit.session, tuple(visit.events))


def _reject(visit: Visit, reason: str, prompt: Node | None = None, **params: Any) -> StepResult:
    visit.events.append(InputRejected(visit.session.node, reason, params))
    if prompt is not None:
        visit.prompt(prompt)
    return _result(visit, changed=False)


def _paused(visit: Visit) -> bool:
    return visit.session.status is SessionStatus.PAUSED


def _answer(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    node = machine.flow.node(visit.session.node)
    if _paused(visit):
        return _reject(visit, N_("The case is paused. Resume it to continue."))
    assert node.input is not None, "a session waits only on questions"
    value, problem = _normalise(node.input, action.value)
    if problem is not None:
        return _reject(visit, problem[0], node, **problem[1])
    visit.session.answers[node.id] = value
    visit.events.append(AnswerRecorded(node.id, value))
    if node.input.type is InputType.TEXT:
        visit.screen(node.id, str(value))
    machine.run(visit, node.id, lambda m: _advance(machine, m, visit, "submit", answer=value))
    return _result(visit)


def _back(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    history = visit.session.history
    if _paused(visit):
        return _reject(visit, N_("The case is paused. Resume it to continue."))
    if len(history) < 2:
        return _reject(visit, N_("There is no earlier question to go back to."))
    left = history.pop()
    target = machine.flow.node(history[-1])
    visit.session.node = target.id
    visit.events.append(WentBack(left, target.id))
    visit.prompt(target)
    return _result(visit)


def _resume(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    was_paused = _paused(visit)
    visit.session.status = SessionStatus.ACTIVE
    visit.events.append(SessionResumed(visit.session.node))
    visit.prompt(machine.flow.node(visit.session.node))
    return _result(visit, changed=was_paused)


def _pause(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    if _paused(visit):
        return _reject(visit, N_("The case is already paused."))
    visit.session.status = SessionStatus.PAUSED
    visit.events.append(SessionPaused(visit.session.node))
    return _result(visit)


def _note(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    text = str(action.text).strip()
    if not text:
        return _reject(visit, N_("The note is empty."))
    if len(text) > NOTE_LIMIT:
        return _reject(visit, N_("Please keep a note under {limit} characters."), limit=NOTE_LIMIT)
    visit.events.append(NoteAdded(visit.session.node, text))
    visit.screen(visit.session.node, text)
    return _result(visit)


def _raise_flag(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    if action.flag not in machine.flow.flags:
        return _reject(visit, N_("There is no flag called {flag} in this protocol."), flag=action.flag)
    if visit.session.flag(action.flag) is not None:
        return _reject(visit, N_("That flag is already raised."))
    visit.raise_flag(action.flag, visit.session.node, escalate_now=True)
    return _result(visit)


def _call_supervisor(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    reason = str(action.reason).strip() or N_("The volunteer asked for a supervisor now.")
    visit.escalate(visit.session.node, reason, level=Level.P0, force=True)
    return _result(visit)


def _override_flag(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    flag = visit.session.flag(action.flag)
    if flag is None or not flag.active:
        return _reject(visit, N_("That flag is not raised."))
    reason = str(action.reason).strip()
    if len(reason) < OVERRIDE_REASON_MINIMUM:
        return _reject(visit, N_("Give the reason for withdrawing the flag in a sentence; it is recorded."))
    flag.overridden = reason
    visit.events.append(FlagOverridden(flag.flag, flag.level, reason))
    return _result(visit)


def _cancel(machine: FlowMachine, visit: Visit, action: Any) -> StepResult:
    visit.close(visit.session.node, action.outcome, None)
    return _result(visit)


_HANDLERS: dict[type, Callable[[FlowMachine, Visit, Any], StepResult]] = {
    Answer: _answer,
    Back: _back,
    Resume: _resume,
    Pause: _pause,
    Note: _note,
    RaiseFlag: _raise_flag,
    CallSupervisor: _call_supervisor,
    OverrideFlag: _override_flag,
    Cancel: _cancel,
}


def _advance(machine: FlowMachine, m: Machine, visit: Visit, trigger: str, **kwargs: Any) -> None:
    """Fire `trigger`, then pass through nodes that need no answer until a question or an end."""
    if not FlowMachine.fire(m, visit, trigger, **kwargs):
        raise RuntimeError(f"no route from {visit.node_id!r} for {kwargs!r}")
    for _ in range(MAX_AUTOMATIC_NODES):
        kind = machine.flow.node(visit.node_id).kind
        if kind is NodeKind.ASK or kind is NodeKind.END:
            return
        FlowMachine.fire(m, visit, "proceed")
    raise RuntimeError(f"flow {machine.flow.id} advanced {MAX_AUTOMATIC_NODES} nodes without a question")


def _normalise(spec: InputSpec, raw: str) -> tuple[Any, tuple[str, dict[str, Any]] | None]:
    text = raw.strip()
    if spec.type in (InputType.CHOICE, InputType.YES_NO):
        option = spec.option(text.lower())
        if option is None:
            return None, (N_("Please choose one of the options."), {})
        return option.key, None
    if spec.type is InputType.MULTI_CHOICE:
        keys = [key for key in text.lower().replace(",", " ").split() if key]
        if not keys or any(spec.option(key) is None for key in keys):
            return None, (N_("Please choose one or more of the options."), {})
        return list(dict.fromkeys(keys)), None
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
