"""The shared Machine: built once per flow revision, never per session, and left with no model attached."""

from __future__ import annotations

import threading

import pytest
import transitions

from bot.engine import Answer, FlowMachine, Start, step


def test_steps_build_no_machine(demo_machine, now, mocker):
    built = mocker.spy(transitions.Machine, "__init__")
    result = step(demo_machine, None, Start(), now)
    for answer in ("no", "12", "victim", "yes", "note"):
        result = step(demo_machine, result.state, Answer(answer), now)
    assert built.call_count == 0


def test_no_model_stays_attached_after_steps(demo_machine, now):
    result = step(demo_machine, None, Start(), now)
    result = step(demo_machine, result.state, Answer("no"), now)
    assert demo_machine.attached_models == 0
    assert demo_machine.machine.models == []


def test_the_model_is_removed_even_when_a_step_fails(demo_machine, now, mocker):
    result = step(demo_machine, None, Start(), now)
    mocker.patch("bot.engine.visit.Visit.raise_flag", side_effect=RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        step(demo_machine, result.state, Answer("no"), now)
    assert demo_machine.attached_models == 0


def test_steps_on_many_threads_share_one_machine_safely(demo_machine, now):
    errors: list[BaseException] = []
    finals: list[str] = []

    def volunteer() -> None:
        try:
            result = step(demo_machine, None, Start(), now)
            for answer in ("no", "12", "victim", "yes", "note"):
                result = step(demo_machine, result.state, Answer(answer), now)
            finals.append(result.state.status.value)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=volunteer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert finals == ["ended"] * 16
    assert demo_machine.attached_models == 0


def test_the_machine_has_a_state_per_node_and_a_start(demo_flow):
    machine = FlowMachine(demo_flow)
    assert set(machine.machine.states) == {"_new", *demo_flow.nodes}
    assert machine.machine.states["done"].final is True


def test_attached_models_get_no_convenience_methods(demo_machine, now, mocker):
    seen = []
    original = demo_machine.machine.add_model

    def spy(model, initial=None):
        original(model, initial)
        seen.append((model, list(demo_machine.machine.models)))

    mocker.patch.object(demo_machine.machine, "add_model", side_effect=spy)
    step(demo_machine, None, Start(), now)
    [(model, attached)] = seen
    assert attached == [model]
    assert not hasattr(model, "is_safe") and not hasattr(model, "submit") and not hasattr(model, "trigger")
