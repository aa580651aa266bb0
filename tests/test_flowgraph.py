"""`pendamping flows graph`: diagrams drawn from the engine's transitions machine, and the pages in docs/flows/."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from transitions.extensions import diagrams_graphviz

from bot import flowgraph
from bot.cli import build_parser, main
from bot.engine import Flow, NodeKind, load_flow_text, load_flows
from bot.engine.machine import NEW_STATE
from bot.flowgraph import FORMATS, LOOKS, MERMAID_KEYWORDS, docs_command, markdown_page, mermaid
from bot.library import DEFAULT_FLOWS_DIR
from tests.conftest import DEMO_FLOW

ROOT = Path(__file__).resolve().parents[1]
DOCS_FLOWS = ROOT / "docs" / "flows"
STATE = re.compile(r'^\s*state "([^"]*)" as (\S+)$')
CLASS = re.compile(r"^\s*class (\S+) (s_\w+)$")
CLASS_DEF = re.compile(r"^\s*classDef (s_\w+) (\S+)$")
EDGE = re.compile(r"^\s*(\S+) --> (\S+?)(?:: (.+))?$")


def parse_mermaid(source: str) -> dict[str, Any]:
    """The states (id -> label), classes (id -> class), class definitions and edges of a diagram."""
    found: dict[str, Any] = {"states": {}, "classes": {}, "class_defs": {}, "edges": {}}
    for line in source.splitlines():
        if match := STATE.match(line):
            found["states"][match.group(2)] = match.group(1)
        elif match := CLASS.match(line):
            found["classes"][match.group(1)] = match.group(2)
        elif match := CLASS_DEF.match(line):
            found["class_defs"][match.group(1)] = match.group(2)
        elif match := EDGE.match(line):
            found["edges"][(match.group(1), match.group(2))] = match.group(3)
    return found


def mermaid_id(parsed: dict[str, Any], node_id: str) -> str:
    """The Mermaid id a node is drawn under, found by the node id its label starts with."""
    ids = [state for state, label in parsed["states"].items() if label.split(" ", 1)[0] == node_id]
    assert len(ids) == 1, (node_id, ids)
    return ids[0]


@pytest.fixture(scope="module")
def protocol() -> Flow:
    return load_flows(DEFAULT_FLOWS_DIR)["protocol"]


@pytest.fixture
def shipped_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PENDAMPING_FLOWS_DIR", raising=False)
    return DEFAULT_FLOWS_DIR


def expected_edges(flow: Flow) -> set[tuple[str, str]]:
    edges = {(NEW_STATE, flow.start)}
    edges.update((node.id, route.target) for node in flow.nodes.values() for route in node.routes)
    return edges


# --- Mermaid ------------------------------------------------------------------------------------


def test_the_protocol_diagram_has_every_node_and_every_route_and_nothing_else(protocol: Flow):
    parsed = parse_mermaid(mermaid(protocol))
    assert set(parsed["states"]) == set(protocol.nodes) | {NEW_STATE}
    for node in protocol.nodes.values():
        assert parsed["states"][node.id].startswith(f"{node.id} (")
    drawn = {edge for edge in parsed["edges"] if "[*]" not in edge}
    # transitions adds a `to_<state>` edge from every state to every other by default: none here.
    assert drawn == expected_edges(protocol)


def test_flag_nodes_are_marked_by_their_level_and_escalations_too(protocol: Flow, demo_flow: Flow):
    for flow in (protocol, demo_flow):
        parsed = parse_mermaid(mermaid(flow))
        for node in flow.nodes.values():
            drawn_as = mermaid_id(parsed, node.id)
            if node.kind is NodeKind.FLAG:
                level = flow.flags[node.flag or ""].level.value
                assert parsed["classes"][drawn_as] == f"s_{level.lower()}", node.id
                assert f"{level} flag {node.flag}" in parsed["states"][drawn_as]
            elif node.kind is NodeKind.ESCALATE:
                assert parsed["classes"][drawn_as] == "s_escalate"
                assert "(escalate)" in parsed["states"][drawn_as]
            else:
                assert parsed["classes"][drawn_as] not in {"s_p0", "s_p1", "s_p2", "s_p3", "s_escalate"}
    looks = parse_mermaid(mermaid(demo_flow))["class_defs"]
    marked = [looks[f"s_{style}"] for style in ("p0", "p1", "p2", "p3", "escalate", "default", "ask")]
    assert len(set(marked)) == len(marked), "every level must look different from the others and from plain nodes"


def test_edges_carry_the_answers_and_automatic_steps_no_trigger_name(demo_flow: Flow):
    edges = parse_mermaid(mermaid(demo_flow))["edges"]
    assert edges[("safe", "age")] == "yes"
    assert edges[("safe", "flag_danger")] == "no"
    assert edges[("age", "flag_child")] == "< 18"
    assert edges[("age", "caller")] == "else"
    assert edges[("welcome", "safe")] is None  # a `say` node moves on by itself
    assert edges[(mermaid_id(parse_mermaid(mermaid(demo_flow)), "note"), "done")] is None  # any text answer
    labels = {label for label in edges.values() if label}
    assert not labels & {"proceed", "submit", "begin"}


def test_answers_leading_to_one_node_share_one_edge():
    flow = load_flow_text(DEMO_FLOW.replace("victim: feeling\n      else: note", "victim: feeling\n      family: feeling\n      else: note"))
    assert parse_mermaid(mermaid(flow))["edges"][("caller", "feeling")] == "victim | family"


def test_node_ids_mermaid_reads_as_keywords_are_drawn_under_other_ids(demo_flow: Flow):
    source = mermaid(demo_flow)
    parsed = parse_mermaid(source)
    drawn_as = mermaid_id(parsed, "note")  # the demo flow has a node named `note`, a Mermaid keyword
    assert drawn_as != "note" and drawn_as in parsed["states"]
    assert not any(line.strip().startswith("note ") for line in source.splitlines())
    declared = set(parsed["states"]) | {"[*]"}
    assert {end for edge in parsed["edges"] for end in edge} <= declared

    ids = flowgraph._mermaid_ids(["note", "n_note", "state", "default_route", "safe"])
    assert ids["safe"] == "safe" and ids["n_note"] == "n_note"
    assert len(set(ids.values())) == len(ids)
    assert not any(drawn in MERMAID_KEYWORDS or drawn.startswith("default") for drawn in ids.values())


def test_the_drawing_is_the_same_every_time(protocol: Flow):
    again = load_flows(DEFAULT_FLOWS_DIR)["protocol"]
    first, second = mermaid(protocol), mermaid(again)
    assert first == second
    assert "0x" not in first  # no object addresses leaking from callbacks
    assert all(line == line.rstrip() for line in first.splitlines())


# --- The command --------------------------------------------------------------------------------


def test_the_command_offers_every_format():
    flows = next(action for action in build_parser()._actions if action.dest == "command").choices["flows"]
    graph = next(action for action in flows._actions if action.dest == "flows_command").choices["graph"]
    assert tuple(next(action for action in graph._actions if action.dest == "format").choices) == FORMATS


def test_the_command_prints_mermaid_by_default(shipped_dir: Path, protocol: Flow, capsys):
    assert main(["flows", "graph", "protocol"]) == 0
    assert capsys.readouterr().out == mermaid(protocol)


def test_the_command_writes_to_output_with_the_format_from_the_suffix(shipped_dir: Path, protocol: Flow, tmp_path: Path, capsys):
    page = tmp_path / "nested" / "protocol.md"
    assert main(["flows", "graph", "protocol", "--output", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == markdown_page(protocol)
    assert str(page) in capsys.readouterr().out

    chart = tmp_path / "protocol.txt"
    assert main(["flows", "graph", "protocol", "--format", "mermaid", "--output", str(chart)]) == 0
    assert chart.read_text(encoding="utf-8") == mermaid(protocol)


def test_flow_may_be_a_file_or_a_directory(shipped_dir: Path, demo_flow: Flow, tmp_path: Path, capsys):
    (tmp_path / "demo.yaml").write_text(DEMO_FLOW)
    assert main(["flows", "graph", str(tmp_path / "demo.yaml")]) == 0
    assert capsys.readouterr().out == mermaid(demo_flow)
    assert main(["flows", "graph", str(DEFAULT_FLOWS_DIR / "protocol")]) == 0
    assert "flag_danger_now (P0 flag immediate_danger)" in capsys.readouterr().out


def test_an_unknown_flow_is_refused_with_the_flows_there_are(shipped_dir: Path, tmp_path: Path, capsys):
    assert main(["flows", "graph", "protocool"]) == 2
    captured = capsys.readouterr()
    assert "no flow 'protocool'" in captured.err and "have: protocol" in captured.err
    assert captured.out == ""

    assert main(["flows", "graph", str(tmp_path)]) == 2
    assert "without flow.yaml" in capsys.readouterr().err


def test_a_broken_flow_is_refused_with_file_and_line(shipped_dir: Path, tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_FLOW.replace("yes: age", "yes: agee"))
    assert main(["flows", "graph", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "unknown node 'agee'" in err


# --- SVG and PNG through Graphviz ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_without_the_graphviz_package_svg_and_png_say_how_to_install_it(shipped_dir: Path, tmp_path: Path, monkeypatch, capsys, fmt):
    monkeypatch.setattr(diagrams_graphviz, "pgv", None)
    monkeypatch.setattr(flowgraph, "DOT_PROGRAM", sys.executable)  # dot itself is there
    target = tmp_path / f"protocol.{fmt}"
    assert main(["flows", "graph", "protocol", "--format", fmt, "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'pendamping[graphs]'" in err and "--format mermaid" in err
    assert "apt install graphviz" not in err
    assert not target.exists()


def test_without_the_dot_program_svg_says_how_to_install_it(shipped_dir: Path, monkeypatch, capsys):
    monkeypatch.setattr(diagrams_graphviz, "pgv", FakeGraphviz)
    monkeypatch.setattr(flowgraph, "DOT_PROGRAM", "pendamping-no-such-program")
    assert main(["flows", "graph", "protocol", "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert "apt install graphviz" in err and "pendamping-no-such-program" in err
    assert "pip install" not in err


def test_with_neither_both_are_named(monkeypatch):
    monkeypatch.setattr(diagrams_graphviz, "pgv", None)
    monkeypatch.setattr(flowgraph, "DOT_PROGRAM", "pendamping-no-such-program")
    problem = flowgraph.graphviz_problem() or ""
    assert "pip install 'pendamping[graphs]'" in problem and "apt install graphviz" in problem


class FakeDigraph:
    """Stands in for graphviz.Digraph: records what transitions adds and 'renders' a marker."""

    drawn: list["FakeDigraph"] = []

    def __init__(self, name: str, node_attr: dict[str, str], edge_attr: dict[str, str], graph_attr: dict[str, str]) -> None:
        self.name = name
        self.graph_attr = dict(graph_attr)
        self.nodes: dict[str, dict[str, str]] = {}
        self.edges: dict[tuple[str, str], str] = {}
        self.engine = ""

    def node(self, name: str, label: str, **attrs: str) -> None:
        self.nodes[name] = dict(attrs, label=label)

    def edge(self, source: str, dest: str, label: str, **attrs: str) -> None:
        self.edges[(source, dest)] = label

    def pipe(self, format: str) -> bytes:
        FakeDigraph.drawn.append(self)
        return f"<svg><!-- {format} by {self.engine} --></svg>".encode()


FakeGraphviz = SimpleNamespace(Digraph=FakeDigraph)


def test_svg_and_png_go_through_transitions_graphviz_backend(shipped_dir: Path, protocol: Flow, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(diagrams_graphviz, "pgv", FakeGraphviz)
    monkeypatch.setattr(flowgraph, "DOT_PROGRAM", sys.executable)
    monkeypatch.setattr(FakeDigraph, "drawn", [])
    target = tmp_path / "protocol.png"
    assert main(["flows", "graph", "protocol", "--output", str(target)]) == 0
    assert target.read_bytes() == f"<svg><!-- png by {sys.executable} --></svg>".encode()
    assert main(["flows", "graph", "protocol", "--format", "svg"]) == 0
    assert capsys.readouterr().out.endswith(f"<svg><!-- svg by {sys.executable} --></svg>")

    graph = FakeDigraph.drawn[-1]
    assert set(graph.nodes) == set(protocol.nodes) | {NEW_STATE}
    assert set(graph.edges) == expected_edges(protocol)
    assert graph.edges[("safe_to_talk", "screen_intro")] == "yes"
    for node in protocol.nodes.values():
        if node.kind is NodeKind.FLAG:
            level = protocol.flags[node.flag or ""].level.value.lower()
            assert graph.nodes[node.id]["fillcolor"] == LOOKS[level].fill
            assert graph.nodes[node.id]["shape"] == "octagon"
    assert graph.nodes["flag_danger_now"]["label"] == "flag_danger_now (P0 flag immediate_danger)"


def test_a_failing_dot_program_is_reported(shipped_dir: Path, monkeypatch, capsys):
    def cannot_run(self: FakeDigraph, format: str) -> bytes:
        raise RuntimeError("failed to execute PosixPath('dot')")

    monkeypatch.setattr(diagrams_graphviz, "pgv", FakeGraphviz)
    monkeypatch.setattr(flowgraph, "DOT_PROGRAM", sys.executable)
    monkeypatch.setattr(FakeDigraph, "pipe", cannot_run)
    assert main(["flows", "graph", "protocol", "--format", "svg"]) == 2
    assert "apt install graphviz" in capsys.readouterr().err


GRAPHVIZ_INSTALLED = getattr(diagrams_graphviz, "pgv", None) is not None and shutil.which("dot") is not None


@pytest.mark.skipif(
    not GRAPHVIZ_INSTALLED,
    reason="Graphviz is not installed (pip install 'pendamping[graphs]' and apt install graphviz); "
    "without it the tests above cover the install message and the drawing through transitions",
)
def test_real_graphviz_draws_an_svg(demo_flow: Flow):
    svg = flowgraph.draw(demo_flow, "svg").decode("utf-8")
    assert "<svg" in svg
    assert "flag_danger (P0 flag danger)" in svg and "escalate_danger (escalate)" in svg
    assert flowgraph.draw(demo_flow, "png").startswith(b"\x89PNG")


# --- The pages kept in docs/flows/ --------------------------------------------------------------


def stale_pages(flows: dict[str, Flow], docs: Path) -> list[str]:
    """What is wrong with the pages in `docs`, each with the command that mends it."""
    problems = []
    for flow_id, flow in sorted(flows.items()):
        page = docs / f"{flow_id}.md"
        if not page.exists():
            problems.append(f"{page.name} is missing; run: {docs_command(flow_id)}")
        elif page.read_text(encoding="utf-8") != markdown_page(flow):
            problems.append(f"{page.name} is stale; run: {docs_command(flow_id)}")
    for page in sorted(docs.glob("*.md")):
        if page.stem not in flows:
            problems.append(f"{page.name} has no flow any more; delete it")
    return problems


def test_the_flow_pages_in_docs_are_up_to_date():
    problems = stale_pages(load_flows(DEFAULT_FLOWS_DIR), DOCS_FLOWS)
    assert problems == [], "docs/flows/ does not match the flows:\n" + "\n".join(problems)


def test_a_stale_missing_or_orphaned_page_is_caught(demo_flow: Flow, tmp_path: Path):
    flows = {"demo": demo_flow}
    assert stale_pages(flows, tmp_path) == [f"demo.md is missing; run: {docs_command('demo')}"]
    (tmp_path / "demo.md").write_text(markdown_page(demo_flow), encoding="utf-8")
    assert stale_pages(flows, tmp_path) == []

    changed = load_flow_text(DEMO_FLOW.replace("level: P2", "level: P3"), "demo.yaml")
    assert stale_pages({"demo": changed}, tmp_path) == [
        "demo.md is stale; run: pendamping flows graph demo --format markdown --output docs/flows/demo.md"
    ]
    (tmp_path / "old.md").write_text("# gone\n")
    assert "old.md has no flow any more; delete it" in stale_pages(flows, tmp_path)
