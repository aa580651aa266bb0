"""The flows the benchmarks run: synthetic ones written here as YAML text, and the shipped protocol."""

from __future__ import annotations

from bot.engine import Flow, FlowLoadError, load_flow_dir, load_flow_text
from bot.library import DEFAULT_FLOWS_DIR

__all__ = ["PROTOCOL_PATH", "chain_flow", "loop_flow", "protocol_flow"]

PROTOCOL_PATH = DEFAULT_FLOWS_DIR / "protocol"

_FLAGS = """\
flags:
  bench_risk:
    level: P1
    label: Benchmark risk
    guidance: Tell your supervisor.
  bench_note:
    level: P2
    label: Benchmark note
    guidance: Note it in the case.
"""


def chain_flow(node_count: int = 40) -> Flow:
    """`node_count` nodes: yes_no questions in a chain, a say/flag/escalate every few nodes, an end."""
    specials = {5: "say", 11: "flag_risk", 14: "escalate", 20: "say", 26: "flag_note", 31: "escalate", 35: "say"}
    lines = ["spec_version: 1", "id: bench_chain", "revision: 1", "title: Benchmark chain", "start: n00", _FLAGS, "nodes:"]
    last = node_count - 1
    for index in range(last):
        node, following = f"n{index:02d}", f"n{index + 1:02d}" if index + 1 < last else "done"
        kind = specials.get(index, "ask")
        lines.append(f"  {node}:")
        if kind == "say":
            lines += [f"    say: Read this benchmark text aloud ({index}).", f"    next: {following}"]
        elif kind.startswith("flag_"):
            lines += [f"    flag: bench_{kind[5:]}", f"    next: {following}"]
        elif kind == "escalate":
            lines += [f"    escalate: Benchmark escalation at {index}.", f"    next: {following}"]
        else:
            lines += [
                "    ask: yes_no",
                f"    text: Benchmark question {index}?",
                "    next:",
                f"      yes: {following}",
                f"      no: {following}",
            ]
    lines += ["  done:", "    end: completed", "    text: Benchmark finished."]
    return load_flow_text("\n".join(lines) + "\n", "<bench chain>")


def loop_flow() -> Flow:
    """Two questions that send each other the volunteer forever: every answer is a real transition."""
    text = """\
spec_version: 1
id: bench_loop
revision: 1
title: Benchmark loop
start: intro
nodes:
  intro:
    say: Read the benchmark loop text aloud.
    next: left
  left:
    ask: yes_no
    text: Left question?
    next:
      yes: right
      no: left
  right:
    ask: yes_no
    text: Right question?
    next:
      yes: left
      no: right
"""
    return load_flow_text(text, "<bench loop>")


def protocol_flow() -> tuple[Flow | None, str]:
    """The shipped protocol, or None and the reason it could not be used."""
    try:
        return load_flow_dir(PROTOCOL_PATH), ""
    except FlowLoadError as error:
        first = error.errors[0] if error.errors else "unknown error"
        return None, f"does not load: {first}"
