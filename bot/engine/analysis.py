"""Soft issues in a loaded flow: things that run, but that a maintainer should not ship."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.flow import Flow, NodeKind

__all__ = ["Finding", "TELEGRAM_TEXT_LIMIT", "analyse", "paths_to_end_without_escalation"]

TELEGRAM_TEXT_LIMIT = 4096


@dataclass(frozen=True)
class Finding:
    line: int
    node: str | None
    message: str
    file: str = ""


def analyse(flow: Flow) -> list[Finding]:
    findings: list[Finding] = []
    reachable = _reachable(flow, flow.start)
    for node in flow.nodes.values():
        if node.id not in reachable:
            findings.append(Finding(node.line, node.id, "unreachable: no route leads here from the start", node.file))
    ends = {node.id for node in flow.nodes.values() if node.kind is NodeKind.END}
    for node in flow.nodes.values():
        if node.id in reachable and not (_reachable(flow, node.id) & ends):
            findings.append(Finding(node.line, node.id, "dead end: no path from here reaches an end node", node.file))
    used = {node.flag for node in flow.nodes.values() if node.flag}
    for declared in flow.flags.values():
        if declared.id not in used:
            findings.append(Finding(declared.line, f"flag:{declared.id}", "flag is declared but no node raises it", declared.file))
    for node in flow.nodes.values():
        flag = flow.flags.get(node.flag) if node.flag else None
        if flag is not None and flag.level.needs_escalation:
            path = paths_to_end_without_escalation(flow, node.id)
            if path:
                message = f"{flag.level.value} flag can reach an end without an escalate node: {' > '.join(path)}"
                findings.append(Finding(node.line, node.id, message, node.file))
    for text in flow.texts():
        if len(text.msgid) > TELEGRAM_TEXT_LIMIT:
            message = f"text of {len(text.msgid)} characters is over Telegram's {TELEGRAM_TEXT_LIMIT}"
            findings.append(Finding(text.line, text.where or None, message, text.file))
    return sorted(findings, key=lambda finding: (finding.file, finding.line))


def paths_to_end_without_escalation(flow: Flow, start: str) -> list[str]:
    """A path from `start` to an end that passes no escalate node, or [] if every path escalates."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node_id, path = stack.pop()
        node = flow.nodes[node_id]
        if node.kind is NodeKind.ESCALATE and node_id != start:
            continue
        if node.kind is NodeKind.END:
            return path
        if node_id in seen:
            continue
        seen.add(node_id)
        for target in node.targets:
            stack.append((target, path + [target]))
    return []


def _reachable(flow: Flow, start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for target in flow.nodes[stack.pop()].targets:
            if target not in seen and target in flow.nodes:
                seen.add(target)
                stack.append(target)
    return seen


