"""Transcript scenarios: a scripted volunteer conversation and what must come of it, written in YAML.

A maintainer (often a social worker, not a programmer) writes the inputs as the console takes them
and, under `expect:`, the flags and escalations that must follow. The messages the volunteer sees
are kept per language in sibling files (`NAME.id.txt`, `NAME.en.txt`) written by
`pendamping flows test --update`: the hand-written file stays short, and a changed text shows as a
plain-text diff in review instead of an edit inside an indented YAML block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from bot.engine.yamltext import LinedMap, YamlSyntaxError, parse

__all__ = [
    "EXPECT_KEYS",
    "SCENARIO_KEYS",
    "Scenario",
    "ScenarioError",
    "find_scenarios",
    "load_scenario",
    "wait_minutes",
    "write_expectations",
]

SCENARIO_KEYS = ("name", "description", "flow", "inputs", "expect")
EXPECT_KEYS = ("flags", "escalations")
SUFFIX = ".yaml"
WAIT = re.compile(r"^/wait\s+(\d+)$")
MAX_WAIT_MINUTES = 24 * 60


class ScenarioError(ValueError):
    """A scenario file that cannot be run; names the file and line to fix."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    description: str
    flow: str | None  # None: the deployment's start flow
    flow_line: int
    inputs: tuple[str, ...]
    # None means "not written yet, not checked"; an empty tuple means "none may happen".
    flags: tuple[str, ...] | None
    escalations: tuple[str, ...] | None

    @property
    def key(self) -> str:
        return self.path.name[: -len(SUFFIX)]

    def messages_path(self, language: str) -> Path:
        return self.path.with_name(f"{self.key}.{language}.txt")


def wait_minutes(line: str) -> int | None:
    """`/wait N`: the transcript's clock moves N minutes on, so escalation deadlines can pass."""
    match = WAIT.match(line)
    return int(match.group(1)) if match else None


def find_scenarios(paths: Iterable[Path]) -> tuple[list[Path], list[ScenarioError]]:
    """Scenario files named, or found (recursively) in the directories named."""
    found: list[Path] = []
    errors: list[ScenarioError] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.rglob(f"*{SUFFIX}"))
            if not inside:
                errors.append(ScenarioError(path, 0, f"no scenario files (*{SUFFIX}) in this directory"))
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            errors.append(ScenarioError(path, 0, "no such file or directory"))
    return list(dict.fromkeys(found)), errors


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(path, 0, f"cannot read the scenario: {error}") from None
    if not path.name.endswith(SUFFIX):
        raise ScenarioError(path, 1, f"a scenario file's name ends in {SUFFIX}")
    try:
        root = parse(text)
    except YamlSyntaxError as error:
        raise ScenarioError(path, error.line, error.message) from None
    if not isinstance(root, LinedMap):
        raise ScenarioError(path, 1, "a scenario is a mapping with `inputs:` and `expect:` (see tests/transcripts/README.md)")
    for key in root:
        if key not in SCENARIO_KEYS:
            raise ScenarioError(path, root.line_of(key), f"unknown key {key!r}; a scenario has {', '.join(SCENARIO_KEYS)}")
    key = path.name[: -len(SUFFIX)]
    flags, escalations = _expectations(path, text, root)
    return Scenario(
        path=path,
        name=_text(path, root, "name") or key,
        description=_text(path, root, "description"),
        flow=_text(path, root, "flow") or None,
        flow_line=root.line_of("flow"),
        inputs=_inputs(path, text, root),
        flags=flags,
        escalations=escalations,
    )


def _text(path: Path, root: LinedMap, key: str) -> str:
    value = root.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScenarioError(path, root.line_of(key), f"`{key}` must be text")
    return value.strip()


def _inputs(path: Path, text: str, root: LinedMap) -> tuple[str, ...]:
    if "inputs" not in root:
        raise ScenarioError(path, root.line, "no `inputs:`; list the volunteer's answers and commands, one per item")
    items = root["inputs"]
    if not isinstance(items, list) or not items:
        raise ScenarioError(path, root.line_of("inputs"), "`inputs` must be a list with one answer or command per item")
    inputs: list[str] = []
    for index, item in enumerate(items):
        where = _item_line(text, ("inputs",), index) or root.line_of("inputs")
        line = _input(path, where, index + 1, item)
        if line.startswith("/wait") and not 1 <= (wait_minutes(line) or 0) <= MAX_WAIT_MINUTES:
            raise ScenarioError(path, where, f"input {index + 1}: write `/wait MINUTES`, from 1 to {MAX_WAIT_MINUTES}")
        inputs.append(line)
    return tuple(inputs)


def _input(path: Path, line: int, number: int, item: Any) -> str:
    if isinstance(item, bool):
        raise ScenarioError(path, line, f"input {number} reads as true/false; put it in quotes")
    if isinstance(item, (int, float)):
        return str(item)  # an age such as 14, typed as the volunteer would
    if isinstance(item, (dict, list)):
        # The usual cause: `- /note caller: calm`, where ": " starts a mapping.
        raise ScenarioError(path, line, f"input {number} must be one line of text; put it in quotes if it holds ': '")
    if item is None or not str(item).strip():
        raise ScenarioError(path, line, f"input {number} is empty")
    value = str(item).strip()
    if "\n" in value:
        raise ScenarioError(path, line, f"input {number} must be one line: each item is one thing the volunteer types")
    return value


def _expectations(path: Path, text: str, root: LinedMap) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    expect = root.get("expect")
    if expect is None:
        return None, None
    if not isinstance(expect, LinedMap):
        raise ScenarioError(path, root.line_of("expect"), "`expect` must be a mapping with `flags:` and `escalations:`")
    for key in expect:
        if key not in EXPECT_KEYS:
            raise ScenarioError(path, expect.line_of(key), f"unknown key {key!r} under expect; use {' and '.join(EXPECT_KEYS)}")
    found: list[tuple[str, ...] | None] = []
    for key in EXPECT_KEYS:
        if key not in expect:
            found.append(None)
            continue
        items = expect[key] if expect[key] is not None else []  # `flags:` left empty means none
        if not isinstance(items, list):
            raise ScenarioError(path, expect.line_of(key), f"`expect.{key}` must be a list, one item per line")
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                where = _item_line(text, ("expect", key), index) or expect.line_of(key)
                raise ScenarioError(path, where, f"`expect.{key}` item {index + 1} must be text such as \"P0 immediate_danger\"")
        found.append(tuple(" ".join(item.split()) for item in items))
    return found[0], found[1]


def _item_line(text: str, keys: Sequence[str], index: int) -> int | None:
    """The line of a list item. Lists come out of the line-aware parser without positions, so only
    when an item is wrong is the document composed again to find where that item is written."""
    node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((value for name, value in node.value if name.value == key), None)
    if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
        return None
    return int(node.value[index].start_mark.line) + 1


def write_expectations(path: Path, flags: Sequence[str], escalations: Sequence[str]) -> None:
    """Rewrite only the `expect:` block, keeping everything else of the file as written, comments too."""
    text = path.read_text(encoding="utf-8")
    root = parse(text)
    assert isinstance(root, LinedMap)  # the file was loaded before it is updated
    lines = text.splitlines(keepends=True)
    block = _expect_block(flags, escalations)
    if "expect" not in root:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        path.write_text("".join(lines) + block, encoding="utf-8")
        return
    start = root.line_of("expect") - 1
    later = [line - 1 for key, line in root.key_lines.items() if line - 1 > start]
    end = min(later) if later else len(lines)
    # Blank lines and unindented comments just above the next key (or at the end) are not part of
    # the block: they belong to what follows it.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    path.write_text("".join(lines[:start]) + block + "".join(lines[end:]), encoding="utf-8")


def _expect_block(flags: Sequence[str], escalations: Sequence[str]) -> str:
    out = ["expect:\n"]
    for key, items in (("flags", flags), ("escalations", escalations)):
        if not items:
            out.append(f"  {key}: []\n")
            continue
        out.append(f"  {key}:\n")
        out.extend(f"    - {_scalar(item)}\n" for item in items)
    return "".join(out)


def _scalar(value: str) -> str:
    """Plain when YAML reads it back unchanged, double-quoted (JSON is valid YAML) otherwise."""
    try:
        if parse(f"- {value}\n") == [value]:
            return value
    except YamlSyntaxError:
        pass
    return json.dumps(value, ensure_ascii=False)
