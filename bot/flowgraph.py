"""`pendamping flows graph`: a flow drawn as a diagram, from the engine's own `transitions` machine.

The picture is not a second description of the flow kept beside it: the engine's `FlowMachine`
builds a `transitions` GraphMachine from the same `machine_spec` it runs cases on, and transitions'
Mermaid or Graphviz backend draws it. What this module adds is what a maintainer needs on top:
labels (node id and kind, the answer on each edge), risk flags marked by level, escalations marked,
and ids Mermaid cannot misread. Mermaid needs nothing installed; SVG and PNG need Graphviz, which
is optional (`pip install 'pendamping[graphs]'` plus the `dot` program).

The output is deterministic (the flow's file order, no memory addresses), so the pages kept in
`docs/flows/` can be compared with a fresh drawing and a test can say when they are stale.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from transitions.extensions import GraphMachine
from transitions.extensions import diagrams_graphviz, diagrams_mermaid
from transitions.extensions.diagrams_base import BaseGraph

from bot.engine import Flow, FlowLoadError, Node, NodeKind, load_flow_dir, load_flow_file, load_flows
from bot.engine.loader import MANIFEST
from bot.engine.machine import NEW_STATE, FlowMachine

__all__ = [
    "BINARY_FORMATS",
    "FORMATS",
    "LOOKS",
    "MERMAID_KEYWORDS",
    "FlowNotFound",
    "GraphvizMissing",
    "docs_command",
    "draw",
    "graphviz_problem",
    "label_of",
    "markdown_page",
    "mermaid",
    "resolve_flow",
    "run_graph",
    "style_of",
]

# mermaid: the diagram's source; markdown: that source in a page with a legend, as kept in docs/flows/.
TEXT_FORMATS = ("mermaid", "markdown")
BINARY_FORMATS = ("svg", "png")
FORMATS = TEXT_FORMATS + BINARY_FORMATS
SUFFIXES = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "markdown", ".svg": "svg", ".png": "png"}
Engine = Literal["mermaid", "graphviz"]
# The Graphviz program that lays the graph out; a module constant so tests can point it elsewhere.
DOT_PROGRAM = "dot"

INSTALL_PACKAGE = "`pip install 'pendamping[graphs]'`, or `pip install graphviz`"
INSTALL_DOT = "`sudo apt install graphviz`, or `brew install graphviz` on macOS"


class FlowNotFound(LookupError):
    """FLOW is neither a flow id in the flows directory nor a flow file or directory."""


class GraphvizMissing(RuntimeError):
    """SVG or PNG was asked for, and the graphviz package or the dot program is not installed."""


@dataclass(frozen=True)
class _Look:
    """How one kind of node looks, in words both backends understand, and for the legend."""

    meaning: str
    colour: str
    fill: str
    text: str = "#000000"
    border: str = "#424242"
    width: int = 1
    shape: str = "rectangle"

    def mermaid(self) -> dict[str, str]:
        # Mermaid classDef takes CSS; transitions copies these keys into `classDef s_<style>`.
        return {"fill": self.fill, "color": self.text, "stroke": self.border, "stroke-width": f"{self.width}px"}

    def graphviz(self) -> dict[str, str]:
        return {
            "fillcolor": self.fill,
            "fontcolor": self.text,
            "color": self.border,
            "penwidth": str(self.width),
            "shape": self.shape,
            "style": "rounded,filled" if self.shape == "rectangle" else "filled",
            "fontname": "sans-serif",
        }


# Flags by level: the colour and the border weight say the level, and so does the label, for a
# reader who cannot tell the colours apart or prints the page in grey.
LOOKS: dict[str, _Look] = {
    "start": _Look("where every case starts", "black", "#000000", text="#ffffff", border="#000000", shape="circle"),
    "default": _Look("a text to read, or an action (refer, follow-up, summary)", "white", "#ffffff"),
    "ask": _Look("a question; its edges carry the answers", "light blue", "#e3f2fd", border="#1565c0"),
    "p0": _Look(
        "raises a P0 flag (emergency): a supervisor is alerted at once", "dark red, thickest border",
        "#b71c1c", text="#ffffff", border="#000000", width=4, shape="octagon",
    ),
    "p1": _Look(
        "raises a P1 flag: a supervisor must be reached before the call ends", "orange, thick border",
        "#e65100", text="#ffffff", border="#000000", width=3, shape="octagon",
    ),
    "p2": _Look("raises a P2 flag", "yellow", "#fdd835", border="#f57f17", width=2, shape="octagon"),
    "p3": _Look("raises a P3 flag (routine)", "light green", "#dcedc8", border="#558b2f", width=2, shape="octagon"),
    "escalate": _Look(
        "escalate: asks a supervisor to join", "dark purple, thickest border",
        "#4a148c", text="#ffffff", border="#000000", width=4, shape="hexagon",
    ),
    "end": _Look("the case ends, with the outcome shown", "dark grey", "#424242", text="#ffffff", border="#000000", width=2),
}

ASK_WORDS = {"yes_no": "yes/no", "choice": "choice", "multi_choice": "several", "number": "number", "text": "text"}


def style_of(node: Node, flow: Flow) -> str:
    """The look of a node: its flag's level, or its kind where that matters to the reader."""
    flag = flow.flags.get(node.flag) if node.flag else None
    if node.kind is NodeKind.FLAG and flag is not None:
        return flag.level.name.lower()
    if node.kind in (NodeKind.ASK, NodeKind.ESCALATE, NodeKind.END):
        return str(node.kind.value)
    return "default"


def label_of(node: Node, flow: Flow) -> str:
    """Node id and a short kind: `safe_to_talk (ask yes/no)`, `flag_danger (P0 flag immediate_danger)`."""
    flag = flow.flags.get(node.flag) if node.flag else None
    if node.kind is NodeKind.ASK and node.input is not None:
        kind = f"ask {ASK_WORDS.get(node.input.type.value, node.input.type.value)}"
    elif node.kind is NodeKind.FLAG and flag is not None:
        kind = f"{flag.level.name} flag {flag.id}"
    elif node.kind is NodeKind.END:
        kind = f"end: {node.outcome}"
    else:
        kind = node.kind.value.replace("_", "-")
    return f"{node.id} ({kind})"


class _FlowGraphMachine(GraphMachine):
    """A GraphMachine that knows its flow, so its graphs can label and style nodes by what they do."""

    # Top to bottom: a protocol is long and mostly a sequence; left to right it would be too wide to read.
    machine_attributes = {"directed": "true", "strict": "false", "rankdir": "TB"}

    def __init__(self, *, flow: Flow, graph_engine: Engine, **kwargs: Any) -> None:
        self.flow = flow
        looks = {name: (look.mermaid() if graph_engine == "mermaid" else look.graphviz()) for name, look in LOOKS.items()}
        self.style_attributes = {
            "node": cast(dict[str, Any], looks),
            "edge": {"default": {"color": "#424242", "fontname": "sans-serif"}},
            "graph": {"default": {"fontname": "sans-serif"}},
        }
        super().__init__(graph_engine=graph_engine, **kwargs)

    def _init_graphviz_engine(self, graph_engine: str) -> type[Any]:
        # transitions falls back to Mermaid without a word when graphviz is missing; a maintainer who
        # asked for SVG must hear why instead.
        if graph_engine == "mermaid":
            return _MermaidGraph
        problem = graphviz_problem()
        if problem:
            raise GraphvizMissing(problem)
        return _GraphvizGraph


class _FlowLabels(BaseGraph):
    """Labels shared by both backends; mixed in before transitions' Graph classes."""

    @property
    def flow(self) -> Flow:
        return cast(_FlowGraphMachine, self.machine).flow

    def _convert_state_attributes(self, state: dict[str, str]) -> str:
        node = self.flow.nodes.get(state["name"])
        return label_of(node, self.flow) if node is not None else "new case"

    def _transition_label(self, tran: dict[str, Any]) -> str:
        # An ask node's conditions render as the answers that take the route (`_RouteMatches.__repr__`).
        # Automatic nodes and a question whose every answer goes one way get no label: `proceed`
        # or a lone `else` on a hundred edges would only hide the answers that matter.
        node = self.flow.nodes.get(tran["source"])
        if node is None or node.kind is not NodeKind.ASK:
            return ""
        if len(node.routes) == 1 and node.routes[0].is_default:
            return ""
        return " & ".join(cast(list[str], tran.get("conditions", [])))


# Words Mermaid's state-diagram lexer reads as keywords at the start of a statement ("default" even
# as a prefix). A node with such an id is drawn under another Mermaid id; its label keeps the real one.
MERMAID_KEYWORDS = ("class", "classdef", "click", "direction", "hide", "note", "scale", "state", "statediagram", "style")


def _mermaid_ids(names: list[str]) -> dict[str, str]:
    taken = set(names)
    ids = {}
    for name in names:
        safe = name
        while safe.lower() in MERMAID_KEYWORDS or safe.lower().startswith("default") or (safe != name and safe in taken):
            safe = f"n_{safe}"
        taken.add(safe)
        ids[name] = safe
    return ids


class _MermaidGraph(_FlowLabels, diagrams_mermaid.Graph):
    """transitions' Mermaid graph, with safe ids and no `: ` after an edge without a label."""

    def __init__(self, machine: Any) -> None:
        self._ids: dict[str, str] = {}
        self._ends: list[str] = []
        super().__init__(machine)

    def _add_nodes(self, states: list[dict[str, str]], container: list[str]) -> None:
        self._ids = _mermaid_ids([state["name"] for state in states])
        self._ends = [self._ids[state["name"]] for state in states if state.get("final")]
        for state in states:
            style = self.custom_styles["node"][state["name"]] or "default"
            container.append(f'state "{self._convert_state_attributes(state)}" as {self._ids[state["name"]]}')
            container.append(f"class {self._ids[state['name']]} s_{style}")

    def _add_edges(self, transitions: list[dict[str, str]], container: list[str]) -> None:
        # In node order rather than transitions' event order, so the edges of a node stand together
        # and a change to one node changes a few neighbouring lines of the kept page.
        order = {name: index for index, name in enumerate(self._ids)}
        labels: dict[tuple[str, str], list[str]] = {}
        for transition in sorted(transitions, key=lambda transition: order.get(transition["source"], -1)):
            edge = (transition["source"], transition.get("dest", transition["source"]))
            labels.setdefault(edge, []).append(self._transition_label(transition))
        for (source, dest), found in labels.items():
            label = " | ".join(text for text in found if text)
            line = f"{self._ids.get(source, source)} --> {self._ids.get(dest, dest)}"
            container.append(f"{line}: {label}" if label else line)
        container.extend(f"{end} --> [*]" for end in self._ends)


class _GraphvizGraph(_FlowLabels, diagrams_graphviz.Graph):
    """transitions' Graphviz graph with the flow's labels and styles."""


def graphviz_problem() -> str | None:
    """What is missing for SVG and PNG, with how to install it; None when Graphviz is ready."""
    missing = []
    if getattr(diagrams_graphviz, "pgv", None) is None:
        missing.append(f"the graphviz Python package is not installed ({INSTALL_PACKAGE})")
    if shutil.which(DOT_PROGRAM) is None:
        missing.append(f"the Graphviz `{DOT_PROGRAM}` program is not on the PATH ({INSTALL_DOT})")
    if not missing:
        return None
    return f"SVG and PNG are drawn by Graphviz, but {'; and '.join(missing)}. `--format mermaid` needs neither."


def _graph(flow: Flow, engine: Engine) -> Any:
    """transitions' graph object of the flow's machine, every node styled by what it does."""
    factory = partial(_FlowGraphMachine, flow=flow, graph_engine=engine, title=flow.title)
    machine = cast(_FlowGraphMachine, FlowMachine(flow, machine_class=factory).machine)
    graph = machine.graph_cls(machine)
    graph.set_node_style(NEW_STATE, "start")
    for node in flow.nodes.values():
        graph.set_node_style(node.id, style_of(node, flow))
    return graph


def _title(flow: Flow) -> str:
    return f"{flow.title} ({flow.id}, revision {flow.revision})"


def mermaid(flow: Flow) -> str:
    """The flow as a Mermaid state diagram."""
    # transitions writes the title line verbatim between the `---` fences, which Mermaid reads as
    # YAML front matter: written as `title: "..."` it becomes the diagram's title.
    source = str(_graph(flow, "mermaid").get_graph(title=f"title: {json.dumps(_title(flow))}").source)
    # transitions indents its blank separator lines; trailing spaces would not survive an editor.
    return "\n".join(line.rstrip() for line in source.splitlines()) + "\n"


def draw(flow: Flow, fmt: str) -> bytes:
    """The flow drawn by Graphviz as `svg` or `png`; raises GraphvizMissing when it is not installed."""
    if fmt not in BINARY_FORMATS:
        raise ValueError(f"Graphviz draws {' and '.join(BINARY_FORMATS)}, not {fmt!r}")
    digraph = _graph(flow, "graphviz").get_graph(title=_title(flow))
    try:
        return cast(bytes, digraph.draw(None, format=fmt, prog=DOT_PROGRAM))
    except RuntimeError as error:  # graphviz.ExecutableNotFound and failed runs of dot
        raise GraphvizMissing(f"Graphviz's `{DOT_PROGRAM}` program could not be run ({error}); install it: {INSTALL_DOT}") from error


def docs_command(flow_id: str) -> str:
    """The command that writes a shipped flow's page in docs/flows/."""
    return f"pendamping flows graph {flow_id} --format markdown --output docs/flows/{flow_id}.md"


def markdown_page(flow: Flow) -> str:
    """The page kept in docs/flows/: the Mermaid diagram (GitHub draws it), a legend and the flags."""
    kinds = [node.kind for node in flow.nodes.values()]
    lines = [
        f"# Flow `{flow.id}`: {flow.title}",
        "",
        f"<!-- Generated from revision {flow.revision} by `{docs_command(flow.id)}`; do not edit by hand. -->",
        "",
        f"Revision {flow.revision}: {len(kinds)} nodes, {kinds.count(NodeKind.ASK)} questions, "
        f"{kinds.count(NodeKind.FLAG)} flag nodes, {kinds.count(NodeKind.ESCALATE)} escalations, "
        f"{kinds.count(NodeKind.END)} ends.",
        "",
        "Each node shows its id and what it does (`say`, `ask yes/no`, `P1 flag <flag id>`, `escalate`, ...).",
        "An edge from a question carries the answers that take it (`else`: any other answer; `< 18`: a number",
        "answer); other edges are taken by themselves, or by any answer. What the volunteer can do at any step",
        "(go back, pause, add a note, raise a flag by hand, call a supervisor) is not drawn: see",
        "[the flow format](../flow-format.md).",
        "",
        "| Colour | Node |",
        "|---|---|",
        *(f"| {look.colour} | {look.meaning} |" for look in LOOKS.values()),
        "",
        "```mermaid",
        mermaid(flow).rstrip("\n"),
        "```",
        "",
        "## Flags",
        "",
        "| Level | Flag | Label | Raised at |",
        "|---|---|---|---|",
    ]
    raised_at: dict[str, list[str]] = {}
    for node in flow.nodes.values():
        if node.kind is NodeKind.FLAG and node.flag:
            raised_at.setdefault(node.flag, []).append(f"`{node.id}`")
    for flag in sorted(flow.flags.values(), key=lambda flag: (flag.level.rank, flag.id)):
        where = ", ".join(raised_at.get(flag.id, [])) or "by hand or by the risk lexicon only"
        lines.append(f"| {flag.level.value} | `{flag.id}` | {flag.label.replace('|', '/')} | {where} |")
    return "\n".join(lines) + "\n"


def resolve_flow(reference: str, flows_dir: Path) -> Flow:
    """FLOW as given: a path to a flow file or directory, or the id of a flow in `flows_dir`."""
    path = Path(reference)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise FlowNotFound(f"{path} is a directory without {MANIFEST}, so it is not a flow")
        return load_flow_dir(path)
    if path.is_file():
        return load_flow_file(path)
    flows = load_flows(flows_dir)
    if reference in flows:
        return flows[reference]
    raise FlowNotFound(
        f"no flow '{reference}': not a file or directory, and not a flow id in {flows_dir} "
        f"(have: {', '.join(sorted(flows))})"
    )


def _format_for(fmt: str | None, output: Path | None) -> str:
    if fmt:
        return fmt
    return SUFFIXES.get(output.suffix.lower(), "mermaid") if output is not None else "mermaid"


def run_graph(reference: str, *, fmt: str | None, output: Path | None, flows_dir: Path, out: TextIO, err: TextIO) -> int:
    """Draw one flow to `output` or `out`; 2 when the flow or Graphviz cannot be found."""
    fmt = _format_for(fmt, output)
    try:
        flow = resolve_flow(reference, flows_dir)
        if fmt == "mermaid":
            content: str | bytes = mermaid(flow)
        elif fmt == "markdown":
            content = markdown_page(flow)
        else:
            content = draw(flow, fmt)
    except FlowNotFound as error:
        err.write(f"pendamping: {error}\n")
        return 2
    except FlowLoadError as error:
        err.write(f"pendamping: the flow has errors; nothing was drawn:\n{error}\n")
        return 2
    except GraphvizMissing as error:
        err.write(f"pendamping: {error}\n")
        return 2
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            output.write_text(content, encoding="utf-8")
        else:
            output.write_bytes(content)
        out.write(f"{flow.id} revision {flow.revision}: {len(flow.nodes)} nodes drawn as {fmt} in {output}\n")
    elif isinstance(content, str):
        out.write(content)
    elif fmt == "svg":
        out.write(content.decode("utf-8"))
    elif out.isatty():
        err.write("pendamping: a PNG is not for the terminal; give --output FILE.png\n")
        return 2
    else:
        out.flush()
        out.buffer.write(content)
        out.buffer.flush()
    return 0
