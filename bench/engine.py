"""Engine step cost: the shared FlowMachine of a flow revision against a Machine built for every step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from time import perf_counter_ns
from typing import Callable

from transitions import Machine

from bot.engine import Answer, Flow, FlowMachine, InputType, Node, SessionState, Start, step

from bench.timing import Summary, summarise

__all__ = ["EngineResult", "Question", "measure_engine", "questions_of"]

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Question:
    """A stored session waiting on a question, and a valid answer to it."""

    state: SessionState
    answer: Answer


@dataclass(frozen=True)
class EngineResult:
    flow: str
    nodes: int
    questions: int
    shared: Summary  # step() on the flow revision's one FlowMachine
    per_step: Summary  # a plain transitions.Machine with our options built for the step, then step()
    per_step_defaults: Summary  # the same with transitions' defaults (auto_transitions=True)
    attach: Summary  # of `shared`: Machine.add_model + remove_model of one throw-away model
    copy: Summary  # of `shared`: SessionState.copy() of the stored state

    @property
    def ratio(self) -> float:
        """How many times cheaper the shared machine is than a tuned Machine per session (medians)."""
        return self.per_step.median_ns / self.shared.median_ns

    @property
    def ratio_defaults(self) -> float:
        """How many times cheaper the shared machine is than a default Machine per session (medians)."""
        return self.per_step_defaults.median_ns / self.shared.median_ns


def _default_machine(**options: object) -> Machine:
    """What a Machine per session looks like when built with the library's defaults."""
    options.pop("auto_transitions", None)
    return Machine(**options)  # type: ignore[arg-type]


class _Bare:
    """A model with nothing on it, as fresh as the one `step` attaches."""

    node_id: str


def _answer(node: Node, last: bool) -> str:
    spec = node.input
    assert spec is not None
    if spec.type in (InputType.YES_NO, InputType.CHOICE):
        return spec.options[-1 if last else 0].key
    if spec.type is InputType.NUMBER:
        bound = spec.maximum if last else spec.minimum
        return str(bound if bound is not None else 30)
    return "A short benchmark note."


def questions_of(machine: FlowMachine, limit: int = 200) -> list[Question]:
    """Sessions waiting on each question met by walking the flow with first and with last answers."""
    found: dict[str, Question] = {}
    for last in (False, True):
        state = step(machine, None, Start(), NOW).state
        for _ in range(limit):
            if state.status.value != "active":
                break
            node = machine.flow.node(state.node)
            answer = Answer(_answer(node, last))
            found.setdefault(node.id, Question(state, answer))
            state = step(machine, state, answer, NOW).state
    return list(found.values())


def _timed(action: Callable[[Question], object], questions: list[Question], count: int, offset: int, out: list[int]) -> None:
    size = len(questions)
    for index in range(offset, offset + count):
        question = questions[index % size]
        started = perf_counter_ns()
        action(question)
        out.append(perf_counter_ns() - started)


def measure_engine(flow: Flow, rounds: int, shared_per_round: int, per_step_per_round: int) -> EngineResult:
    """All variants in interleaved rounds, so drift on a noisy host hits each alike."""
    machine = FlowMachine(flow)
    questions = questions_of(machine)

    def shared(question: Question) -> object:
        return step(machine, question.state, question.answer, NOW)

    def per_step(question: Question) -> object:
        return step(FlowMachine(flow, machine_class=Machine), question.state, question.answer, NOW)

    def per_step_defaults(question: Question) -> object:
        return step(FlowMachine(flow, machine_class=_default_machine), question.state, question.answer, NOW)

    def attach(question: Question) -> object:
        model = _Bare()
        machine.machine.add_model(model, initial=question.state.node)
        machine.machine.remove_model(model)
        return model

    def copy(question: Question) -> object:
        return question.state.copy()

    plan: list[tuple[Callable[[Question], object], int, list[int]]] = [
        (shared, shared_per_round, []),
        (per_step, per_step_per_round, []),
        (per_step_defaults, per_step_per_round, []),
        (attach, shared_per_round, []),
        (copy, shared_per_round, []),
    ]
    for action, count, _ in plan:  # warm-up
        _timed(action, questions, count, 0, [])
    for round_index in range(rounds):
        for action, count, samples in plan:
            _timed(action, questions, count, round_index * count, samples)
    assert machine.attached_models == 0, "a step left its model attached to the shared machine"
    shared_s, per_step_s, defaults_s, attach_s, copy_s = (summarise(samples) for _, _, samples in plan)
    return EngineResult(flow.id, len(flow.nodes), len(questions), shared_s, per_step_s, defaults_s, attach_s, copy_s)
