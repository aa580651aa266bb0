"""A loaded flow: nodes, routes and the risk flags it declares.

These are plain immutable values. The loader builds them from YAML and checks them; the machine and
the step function only read them.
"""

from __future__ import annotations

import enum
import operator
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

__all__ = [
    "Flag",
    "Flow",
    "FollowUp",
    "InputSpec",
    "InputType",
    "Level",
    "Node",
    "NodeKind",
    "Option",
    "Referral",
    "Route",
    "Text",
    "YES_NO_OPTIONS",
    "compare",
    "parse_comparison",
]


class Level(str, enum.Enum):
    """Urgency of a risk flag; P0 is an emergency, P3 routine (see the risk matrix)."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """0 for the most urgent level; smaller ranks sort first."""
        return int(self.value[1])

    @property
    def needs_escalation(self) -> bool:
        """P0 and P1 must reach a human social worker before the call ends."""
        return self.rank <= 1

    @classmethod
    def most_urgent(cls, levels: "list[Level] | tuple[Level, ...]") -> "Level | None":
        return min(levels, key=lambda level: level.rank) if levels else None


class NodeKind(str, enum.Enum):
    SAY = "say"
    ASK = "ask"
    FLAG = "flag"
    ESCALATE = "escalate"
    REFER = "refer"
    FOLLOW_UP = "follow_up"
    SUMMARY = "summary"
    END = "end"

    @property
    def is_automatic(self) -> bool:
        """Nodes the flow passes through by itself, without waiting for the volunteer."""
        return self not in (NodeKind.ASK, NodeKind.END)


class InputType(str, enum.Enum):
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"
    TEXT = "text"
    NUMBER = "number"

    @property
    def has_options(self) -> bool:
        return self in (InputType.CHOICE, InputType.MULTI_CHOICE, InputType.YES_NO)


@dataclass(frozen=True)
class Option:
    """One answer of a choice question: a stable key and its label in the source language."""

    key: str
    label: str
    # Where the option is written, for checks that point at one option; not part of its identity.
    line: int = field(default=0, compare=False)


def N_(msgid: str) -> str:
    """Marks a source text for extraction; it is translated where it is shown."""
    return msgid


# Labels are msgids, translated like every other flow text.
YES_NO_OPTIONS: tuple[Option, ...] = (Option("yes", N_("Yes")), Option("no", N_("No")))


@dataclass(frozen=True)
class InputSpec:
    type: InputType
    options: tuple[Option, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 1000

    def option(self, key: str) -> Option | None:
        return next((option for option in self.options if option.key == key), None)


_COMPARISON = re.compile(r"^\s*(<=|>=|<|>|==)\s*(-?\d+)\s*$")
_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def parse_comparison(match: str) -> tuple[str, int] | None:
    """A number route such as ``>= 18`` as (operator, number), or None if it is not one."""
    found = _COMPARISON.match(match)
    return (found.group(1), int(found.group(2))) if found else None


def compare(match: str, value: int) -> bool:
    """True when a number answer satisfies a route such as ``< 18``."""
    parsed = parse_comparison(match)
    return parsed is not None and _OPERATORS[parsed[0]](value, parsed[1])


@dataclass(frozen=True)
class Route:
    """Where an answer leads. ``match`` is an option key, a comparison such as ``< 18``, or ``else``."""

    match: str
    target: str
    line: int = 0

    @property
    def is_default(self) -> bool:
        return self.match == "else"


@dataclass(frozen=True)
class Flag:
    """A risk flag declared by a flow, with its level and the guidance the volunteer sees."""

    id: str
    level: Level
    label: str
    guidance: str
    line: int
    file: str = ""


@dataclass(frozen=True)
class Referral:
    """A `refer` node: offer services for the needs answered at one node, in the region answered at another."""

    needs_from: str
    region_from: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """A `follow_up` node: a due date, a fixed delay or a number of hours answered at a node."""

    kind: str
    after_hours: int | None = None
    hours_from: str | None = None


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    line: int
    text: str | None = None
    input: InputSpec | None = None
    routes: tuple[Route, ...] = ()
    flag: str | None = None
    outcome: str | None = None
    file: str = ""
    referral: Referral | None = None
    follow_up: FollowUp | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(route.target for route in self.routes)


@dataclass(frozen=True)
class Flow:
    id: str
    revision: int
    spec_version: int
    title: str
    start: str
    nodes: Mapping[str, Node]
    flags: Mapping[str, Flag]
    source: str = ""
    checksum: str = ""
    line: int = 1
    file: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.revision)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def texts(self) -> list["Text"]:
        """Every translatable text with where it stands; the extractor and the checks use it."""
        found: list[Text] = [Text(self.title, self.file, self.line, "")]
        for flag in self.flags.values():
            found.append(Text(flag.label, flag.file, flag.line, f"flag:{flag.id}"))
            found.append(Text(flag.guidance, flag.file, flag.line, f"flag:{flag.id}"))
        for node in self.nodes.values():
            if node.text:
                found.append(Text(node.text, node.file, node.line, node.id))
            if node.input is not None and node.input.type is not InputType.YES_NO:
                found.extend(Text(option.label, node.file, option.line or node.line, node.id) for option in node.input.options)
        return found


@dataclass(frozen=True)
class Text:
    """A translatable text of a flow: the msgid, its file and line, and the node (or flag) it belongs to."""

    msgid: str
    file: str
    line: int
    where: str
