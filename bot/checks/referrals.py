"""Referral needs the directory cannot serve: a `refer` node that would offer the caller nothing."""

from __future__ import annotations

from collections import defaultdict

from bot.checks.report import CheckWarning
from bot.directory import NEED_LABELS, NEEDS, PROVINCES, Directory, Service
from bot.engine import Flow
from bot.engine.flow import Node, NodeKind

__all__ = ["referral_findings"]

# Enough answers to act on; the count says how many more there are.
SHOWN_ANSWERS = 5


def referral_findings(flow: Flow, directory: Directory, path: str = "") -> list[CheckWarning]:
    """Per need a flow can refer to: unknown to the directory, offered by no service, offered only
    by unconfirmed ones, or offered nowhere near an answer of the refer node's province question.

    Placed at the need's answer in the question the refer node reads, since that is where a
    maintainer either adds a service to the directory or drops the answer.
    """
    referred_at: dict[str, list[Node]] = defaultdict(list)
    for node in flow.nodes.values():
        if node.kind is NodeKind.REFER and node.referral is not None:
            referred_at[node.referral.needs_from].append(node)
    found: list[CheckWarning] = []
    for question_id, refer_nodes in referred_at.items():
        question = flow.nodes.get(question_id)
        if question is None or question.input is None:
            continue  # the loader reports a refer node that names no question
        at = ", ".join(f"'{node.id}'" for node in refer_nodes)
        for option in question.input.options:
            where = (question.file or path, option.line or question.line, question.id)
            problems = [_need_problem(option.key, directory)]
            if problems[0] is None:
                services = directory.services_for(option.key)
                problems = [_coverage_problem(option.key, services, flow, refer) for refer in refer_nodes]
            found.extend(CheckWarning(*where, f"{problem} (referred at {at})") for problem in problems if problem)
    return found


def _need_problem(need: str, directory: Directory) -> str | None:
    if need not in NEED_LABELS:
        return f"answer '{need}' is not a need the directory knows, so it never finds a service (needs: {', '.join(NEEDS)})"
    services = directory.services_for(need)
    if not services:
        return f"no service in the directory offers need '{need}'"
    if not any(service.verified for service in services):
        names = ", ".join(f"{service.id} ({service.status})" for service in services)
        return f"need '{need}' has no verified service in the directory, only {names}"
    return None


def _coverage_problem(need: str, services: list[Service], flow: Flow, refer: Node) -> str | None:
    """Without a national service, a caller is offered only their own province's services; an
    answer that is no province (abroad, not known) or a province with none gets nothing."""
    if any(service.national for service in services):
        return None
    assert refer.referral is not None
    region = flow.nodes.get(refer.referral.region_from) if refer.referral.region_from else None
    if region is None or region.input is None:
        return f"need '{need}' has no national service, and '{refer.id}' asks no province: it offers nothing for it"
    uncovered = [
        option.key
        for option in region.input.options
        if option.key not in PROVINCES or not any(option.key in service.regions for service in services)
    ]
    if not uncovered:
        return None
    shown = ", ".join(uncovered[:SHOWN_ANSWERS])
    if len(uncovered) > SHOWN_ANSWERS:
        shown += f" and {len(uncovered) - SHOWN_ANSWERS} more"
    return f"need '{need}' has no national service and none for {len(uncovered)} answer(s) of '{region.id}': {shown}"
