"""One `transitions` Machine per loaded flow revision, shared by every session on it.

Building a Machine costs about a millisecond for our flows (and several with transitions' default
auto-transitions); a step attaches a throw-away model that carries the session, fires a trigger
and removes the model again, in tens of microseconds (docs/benchmarks.md measures both in one run).
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Protocol, cast

from transitions import EventData, Machine, State

from bot.engine.flow import Flow, Node, NodeKind, Route

if TYPE_CHECKING:
    from bot.engine.visit import Screener
from bot.engine.flow import compare

__all__ = ["NEW_STATE", "FlowMachine", "SharedMachine", "StepModel", "machine_spec"]

# The state a model sits in before `begin`; not a slug, so no node can take the name.
NEW_STATE = "_new"
MODEL_ATTRIBUTE = "node_id"


class StepModel(Protocol):
    node_id: str

    def node_entered(self, node: Node) -> None: ...


class _Entered:
    """on_enter callback of one node: hands the node to the model attached for this step."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    def __call__(self, event_data: EventData) -> None:
        model = cast(StepModel, event_data.model)
        model.node_entered(self.node)


class _RouteMatches:
    """Condition of one route: does the answer given to `submit` take this route?"""

    __slots__ = ("route",)

    def __init__(self, route: Route) -> None:
        self.route = route

    def __call__(self, event_data: EventData) -> bool:
        if self.route.is_default:
            return True
        answer = event_data.kwargs["answer"]
        if isinstance(answer, int):
            return compare(self.route.match, answer)
        return bool(answer == self.route.match)

    def __repr__(self) -> str:  # shown as the edge label in diagrams
        return self.route.match


class SharedMachine(Machine):
    """A Machine whose attached models get no convenience methods.

    `add_model` normally binds `is_<state>`, `<trigger>` and `may_<trigger>` partials onto the model
    for every state and trigger. Steps fire `machine.events[...]` directly and read the state
    attribute, so those bindings were pure cost: most of a step's time, growing with the flow, and
    reference cycles between model and partials left for the garbage collector after every step.
    The model is still registered in `models`, given its state, and removed after the step.
    """

    def add_model(self, model: Any, initial: str | Enum | State | None = None) -> None:
        state = initial if initial is not None else self.initial
        if state is None:
            raise ValueError("no initial state for the model")
        self.set_state(state, model=model)
        self.models.append(model)


def machine_spec(flow: Flow) -> dict[str, Any]:
    """States and transitions of a flow, in the form every `transitions` Machine class accepts."""
    states: list[dict[str, Any]] = [{"name": NEW_STATE}]
    transitions: list[dict[str, Any]] = [{"trigger": "begin", "source": NEW_STATE, "dest": flow.start}]
    for node in flow.nodes.values():
        states.append({"name": node.id, "on_enter": [_Entered(node)], "final": node.kind is NodeKind.END})
        trigger = "submit" if node.kind is NodeKind.ASK else "proceed"
        for route in node.routes:
            transition: dict[str, Any] = {"trigger": trigger, "source": node.id, "dest": route.target}
            if node.kind is NodeKind.ASK:
                transition["conditions"] = [_RouteMatches(route)]
            transitions.append(transition)
    return {"states": states, "transitions": transitions, "initial": NEW_STATE}


class FlowMachine:
    """The compiled form of one flow revision."""

    def __init__(
        self,
        flow: Flow,
        machine_class: Callable[..., Machine] = SharedMachine,
        screener: "Screener | None" = None,
    ) -> None:
        self.flow = flow
        # Screens free text for risk terms during steps; the same lexicon serves every flow.
        self.screener = screener
        self.machine = machine_class(
            model=None,
            send_event=True,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            model_attribute=MODEL_ATTRIBUTE,
            **machine_spec(flow),
        )
        # Models are attached and removed on a list the Machine owns; steps on different threads
        # (one per chat) must not interleave there. The critical section is microseconds long.
        self._lock = threading.Lock()

    @property
    def attached_models(self) -> int:
        return len(self.machine.models)

    def run(self, model: StepModel, node_id: str, action: Callable[[Machine], None]) -> None:
        """Attach `model` at `node_id`, let `action` fire triggers, and always detach it again."""
        with self._lock:
            self.machine.add_model(model, initial=node_id)
            try:
                action(self.machine)
            finally:
                self.machine.remove_model(model)

    @staticmethod
    def fire(machine: Machine, model: StepModel, trigger: str, **kwargs: Any) -> bool:
        return bool(machine.events[trigger].trigger(model, **kwargs))
