from __future__ import annotations

from bot.engine import load_flow_text
from bot.engine.analysis import analyse, paths_to_end_without_escalation
from tests.conftest import DEMO_FLOW


def messages(text: str) -> list[tuple[str | None, str]]:
    return [(finding.node, finding.message) for finding in analyse(load_flow_text(text, "x.yaml"))]


def test_the_demo_flow_is_clean(demo_flow):
    assert analyse(demo_flow) == []


def test_a_p1_flag_that_can_skip_its_escalation_is_reported():
    text = DEMO_FLOW.replace("    flag: child\n    next: escalate_child", "    flag: child\n    next: caller")
    found = messages(text)
    assert any(node == "flag_child" and message.startswith("P1 flag can reach an end") for node, message in found)
    assert any(node == "escalate_child" and "unreachable" in message for node, message in found)


def test_the_reported_path_ends_at_an_end(demo_flow):
    text = DEMO_FLOW.replace("    flag: danger\n    next: escalate_danger", "    flag: danger\n    next: age")
    flow = load_flow_text(text, "x.yaml")
    path = paths_to_end_without_escalation(flow, "flag_danger")
    assert path[0] == "flag_danger" and flow.nodes[path[-1]].kind.value == "end"
    assert not any(flow.nodes[node].kind.value == "escalate" for node in path)


def test_p2_flags_need_no_escalation(demo_flow):
    assert paths_to_end_without_escalation(demo_flow, "flag_distress") != []
    assert not any("flag_distress" == node for node, _ in messages(DEMO_FLOW))


def test_dead_ends_are_reported():
    text = DEMO_FLOW.replace("      yes: flag_distress\n      no: note", "      yes: feeling\n      no: feeling")
    found = messages(text)
    assert ("feeling", "dead end: no path from here reaches an end node") in found
    assert ("flag_distress", "unreachable: no route leads here from the start") in found


def test_unused_flags_are_reported():
    text = DEMO_FLOW.replace("flags:\n", "flags:\n  spare:\n    level: P3\n    label: Spare\n    guidance: None yet.\n")
    assert ("flag:spare", "flag is declared but no node raises it") in messages(text)


def test_over_long_texts_are_reported():
    text = DEMO_FLOW.replace("Note in a few words.", "x" * 4100)
    assert any("over Telegram's 4096" in message for _, message in messages(text))
