"""A bad flow file is refused with the file, the line and the node of every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import SPEC_VERSION, FlowLoadError, InputType, load_flow_file, load_flow_text, load_flows
from bot.engine import spec
from tests.conftest import DEMO_FLOW


def errors_of(text: str) -> list[tuple[int, str | None, str]]:
    with pytest.raises(FlowLoadError) as caught:
        load_flow_text(text, "broken.yaml")
    return [(error.line, error.node, error.message) for error in caught.value.errors]


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_the_demo_flow_loads(demo_flow):
    assert demo_flow.id == "demo" and demo_flow.revision == 1
    assert demo_flow.nodes["caller"].input.type is InputType.CHOICE
    assert demo_flow.nodes["safe"].line == line_of(DEMO_FLOW, "  safe:")
    assert len(demo_flow.checksum) == 64


def test_unknown_target_names_file_line_and_node():
    text = DEMO_FLOW.replace("yes: age", "yes: agee")
    [(line, node, message)] = errors_of(text)
    assert (line, node) == (line_of(text, "yes: agee"), "safe")
    assert "unknown node 'agee'" in message
    with pytest.raises(FlowLoadError, match=r"^broken\.yaml:\d+: node 'safe': "):
        load_flow_text(text, "broken.yaml")


@pytest.mark.parametrize(
    ("old", "new", "node", "message"),
    [
        ("    ask: number", "    ask: numbr", "age", "ask must be one of"),
        ("    flag: danger", "    flag: dangerous", "flag_danger", "unknown flag 'dangerous'"),
        ("    say: Read the consent script.", "    say: ''", "welcome", "say must be a non-empty text"),
        ("    text: Who is calling?", "    txt: Who is calling?", "caller", "unknown key 'txt'"),
        ("      else: caller", "      '> 17': caller", "age", "add an else: route"),
        ("      victim: feeling\n      else: note", "      victim: feeling", "caller", "answer 'family' has no route"),
        ("      no: flag_danger", "      maybe: flag_danger", "safe", "route 'maybe' is not one of the answers"),
        ("      \"< 18\": flag_child", "      \"below 18\": flag_child", "age", "must be a comparison"),
        ("    level: P1", "    level: P7", "flag:child", "level must be one of P0, P1, P2, P3"),
        ("    next: escalate_danger", "    next: flag_danger", "flag_danger", "loop with no question"),
        ("  note:\n    ask: text", "  Note:\n    ask: text", "Note", "node ids must be short lower-case names"),
        ("    end: completed", "    end: completed\n    say: Bye.", "done", "exactly one of"),
        ("    min: 0", "    min: zero", "age", "min must be a whole number"),
    ],
)
def test_each_kind_of_error_is_placed(old, new, node, message):
    assert old in DEMO_FLOW
    text = DEMO_FLOW.replace(old, new)
    found = errors_of(text)
    assert any(error_node == node and message in error_message for _, error_node, error_message in found), found
    assert all(line > 0 for line, _, _ in found)


def test_every_error_of_a_file_is_reported_at_once():
    text = DEMO_FLOW.replace("yes: age", "yes: nowhere").replace("flag: child", "flag: ghost")
    nodes = {node for _, node, _ in errors_of(text)}
    assert {"safe", "flag_child"} <= nodes


def test_duplicate_node_ids_are_refused_with_both_lines():
    text = DEMO_FLOW.replace("  done:\n", "  note:\n    say: again\n    next: done\n  done:\n")
    [(line, node, message)] = errors_of(text)
    assert "duplicate key 'note'" in message
    assert f"first on line {line_of(text, '  note:')}" in message


def test_invalid_yaml_is_placed():
    [(line, node, message)] = errors_of("spec_version: 1\nid: [unclosed\n")
    assert line >= 2 and node is None and "invalid YAML" in message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("revision: 1", "revision: 0", "revision must be a whole number"),
        ("start: welcome", "start: nowhere", "start must name a node"),
        ("id: demo", "id: Demo Flow", "id must be a short lower-case name"),
        ("title: Demo screen", "titel: Demo screen", "unknown key 'titel'"),
        ("spec_version: 1", "spec_version: one", "spec_version must be a whole number"),
    ],
)
def test_top_level_errors(old, new, message):
    found = errors_of(DEMO_FLOW.replace(old, new))
    assert any(message in error_message for _, _, error_message in found), found


def test_a_newer_spec_version_is_refused():
    [(line, _, message)] = errors_of(DEMO_FLOW.replace("spec_version: 1", f"spec_version: {SPEC_VERSION + 1}"))
    assert line == 1 and "newer than this program reads" in message


def test_older_spec_versions_are_migrated_in_order(monkeypatch):
    # Pretend the current format is 3 and files of version 1 name their title `name`.
    def rename_title(document):
        document["title"] = document.pop("name")
        return document

    def no_change(document):
        return document

    monkeypatch.setattr(spec, "SPEC_VERSION", 3)
    monkeypatch.setattr(spec, "MIGRATIONS", {1: rename_title, 2: no_change})
    flow = load_flow_text(DEMO_FLOW.replace("title: Demo screen", "name: Demo screen"), "old.yaml")
    assert flow.title == "Demo screen" and flow.spec_version == 3


def test_a_missing_migration_is_an_error(monkeypatch):
    monkeypatch.setattr(spec, "SPEC_VERSION", 2)
    monkeypatch.setattr(spec, "MIGRATIONS", {})
    [(_, _, message)] = errors_of(DEMO_FLOW)
    assert "no migration from spec_version 1" in message


def test_yes_and_no_stay_words(demo_flow):
    text = DEMO_FLOW.replace("      victim: The victim", "      victim: Yes")
    flow = load_flow_text(text, "words.yaml")
    assert flow.nodes["caller"].input.option("victim").label == "Yes"


def test_a_directory_with_a_broken_file_loads_nothing(tmp_path: Path):
    (tmp_path / "good.yaml").write_text(DEMO_FLOW)
    (tmp_path / "bad.yaml").write_text(DEMO_FLOW.replace("id: demo", "id: other").replace("yes: age", "yes: x"))
    with pytest.raises(FlowLoadError) as caught:
        load_flows(tmp_path)
    assert [Path(error.path).name for error in caught.value.errors] == ["bad.yaml"]


def test_two_files_with_one_flow_id_are_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(DEMO_FLOW)
    (tmp_path / "b.yaml").write_text(DEMO_FLOW)
    with pytest.raises(FlowLoadError, match="used by two flows"):
        load_flows(tmp_path)


def test_an_unreadable_file_is_an_error(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"title: caf\xe9\n")
    with pytest.raises(FlowLoadError, match="cannot read the file"):
        load_flow_file(path)


def test_the_shipped_flows_load():
    flows = load_flows(Path(__file__).resolve().parents[2] / "bot" / "flows")
    assert "protocol" in flows
