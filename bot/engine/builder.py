"""Checks a parsed flow document and builds the `Flow` value, collecting every hard error."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable

from bot.engine import spec as flow_spec
from bot.engine.errors import FlowError
from bot.engine.flow import (
    YES_NO_OPTIONS,
    Flag,
    Flow,
    InputSpec,
    InputType,
    Level,
    Node,
    NodeKind,
    FollowUp,
    Option,
    Referral,
    Route,
    parse_comparison,
)
from bot.engine.yamltext import LinedMap

__all__ = ["FlowBuilder"]

FRAGMENT_KEYS = {"nodes", "flags"}
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
TOP_LEVEL_KEYS = {"spec_version", "id", "revision", "title", "start", "flags", "nodes"}
NODE_KINDS = {kind.value for kind in NodeKind}
KEYS_BY_KIND: dict[NodeKind, set[str]] = {
    NodeKind.SAY: {"say", "next"},
    NodeKind.ASK: {"ask", "text", "options", "next", "min", "max", "max_length"},
    NodeKind.FLAG: {"flag", "next"},
    NodeKind.ESCALATE: {"escalate", "next"},
    NodeKind.REFER: {"refer", "text", "next"},
    NodeKind.FOLLOW_UP: {"follow_up", "after", "after_answer", "text", "next"},
    NodeKind.SUMMARY: {"summary", "next"},
    NodeKind.END: {"end", "text"},
}
_DELAY = re.compile(r"^\s*(\d+)\s*([hd])\s*$")

class FlowBuilder:
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.errors: list[FlowError] = []

    def error(self, line: int, message: str, node: str | None = None, path: str | None = None) -> None:
        self.errors.append(FlowError(path or self.path, line, node, message))

    def build(self, documents: list[tuple[str, Any]]) -> Flow | None:
        manifest_path, document = documents[0]
        self.path = manifest_path
        if not isinstance(document, LinedMap):
            self.error(1, "a flow file must be a mapping with spec_version, id, revision, start and nodes")
            return None
        document = self.migrate(document)
        if document is None:
            return None
        for key in document:
            if key not in TOP_LEVEL_KEYS:
                self.error(document.line_of(key), f"unknown key '{key}' (expected one of {_names(TOP_LEVEL_KEYS)})")
        flow_id = self.slug(document, "id", None)
        revision = document.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
            self.error(document.line_of("revision"), "revision must be a whole number of 1 or more")
            revision = 0
        title = self.text(document, "title", None)
        flags = self.flags(document.get("flags", LinedMap()), document.line_of("flags"))
        fragments = documents[1:]
        raw_nodes = document.get("nodes", LinedMap() if fragments else None)
        nodes = self.nodes(raw_nodes, document.line_of("nodes"), flags, allow_empty=bool(fragments))
        for path, fragment in fragments:
            self.path = path
            self.fragment(fragment, flags, nodes)
        self.path = manifest_path
        self.resolve_flag_nodes(nodes, flags)
        if not nodes:
            self.error(document.line, "the flow has no nodes")
        start = document.get("start")
        if not isinstance(start, str) or start not in nodes:
            self.error(document.line_of("start"), f"start must name a node of this flow, not {start!r}")
        self.check_targets(nodes)
        self.check_answer_references(nodes)
        self.check_automatic_cycles(nodes)
        self.path = manifest_path
        if self.errors or flow_id is None or title is None or not isinstance(start, str):
            return None
        return Flow(
            id=flow_id,
            revision=revision,
            spec_version=flow_spec.SPEC_VERSION,
            title=title,
            start=start,
            nodes=nodes,
            flags=flags,
            source=self.source,
            checksum=hashlib.sha256(self.source.encode("utf-8")).hexdigest(),
            line=document.line,
            file=manifest_path,
        )

    def migrate(self, document: LinedMap) -> LinedMap | None:
        version = document.get("spec_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.error(document.line_of("spec_version"), "spec_version must be a whole number of 1 or more")
            return None
        if version > flow_spec.SPEC_VERSION:
            self.error(
                document.line_of("spec_version"),
                f"spec_version {version} is newer than this program reads ({flow_spec.SPEC_VERSION}); upgrade Pendamping",
            )
            return None
        while version < flow_spec.SPEC_VERSION:
            migration = flow_spec.MIGRATIONS.get(version)
            if migration is None:
                self.error(document.line_of("spec_version"), f"no migration from spec_version {version}")
                return None
            document = migration(document)
            version += 1
            document["spec_version"] = version
        return document

    def fragment(self, document: Any, flags: dict[str, Flag], nodes: dict[str, Node]) -> None:
        """A stage file: more nodes and flags for the flow whose flow.yaml sits beside it."""
        if not isinstance(document, LinedMap):
            self.error(1, "a stage file must be a mapping with nodes (and optionally flags)")
            return
        for key in document:
            if key not in FRAGMENT_KEYS:
                self.error(document.line_of(key), f"unknown key '{key}' in a stage file (allowed: flags, nodes)")
        for flag_id, flag in self.flags(document.get("flags", LinedMap()), document.line_of("flags")).items():
            if flag_id in flags:
                first = flags[flag_id]
                self.error(flag.line, f"flag '{flag_id}' is declared twice (first in {first.file}:{first.line})", f"flag:{flag_id}")
            else:
                flags[flag_id] = flag
        for node_id, node in self.nodes(document.get("nodes"), document.line_of("nodes"), flags, allow_empty=False).items():
            if node_id in nodes:
                earlier = nodes[node_id]
                self.error(node.line, f"node id used twice (first in {earlier.file}:{earlier.line})", node_id)
            else:
                nodes[node_id] = node

    def resolve_flag_nodes(self, nodes: dict[str, Node], flags: dict[str, Flag]) -> None:
        # Checked once every file is read: a stage may raise a flag another stage declares.
        for node in nodes.values():
            if node.kind is NodeKind.FLAG and node.flag not in flags:
                self.error(node.line, f"unknown flag {node.flag!r}; declare it under flags:", node.id, node.file)

    def slug(self, mapping: LinedMap, key: str, node: str | None) -> str | None:
        value = mapping.get(key)
        if not isinstance(value, str) or not SLUG.match(value):
            self.error(
                mapping.line_of(key),
                f"{key} must be a short lower-case name (letters, digits, _), not {value!r}",
                node,
            )
            return None
        return value

    def text(self, mapping: LinedMap, key: str, node: str | None) -> str | None:
        value = mapping.get(key)
        if not isinstance(value, str) or not value.strip():
            self.error(mapping.line_of(key), f"{key} must be a non-empty text", node)
            return None
        return value.strip()

    def flags(self, raw: Any, line: int) -> dict[str, Flag]:
        if not isinstance(raw, LinedMap):
            self.error(line, "flags must be a mapping of flag id to its level, label and guidance")
            return {}
        flags: dict[str, Flag] = {}
        for flag_id, spec in raw.items():
            flag_line = raw.line_of(flag_id)
            where = f"flag:{flag_id}"
            if not SLUG.match(flag_id):
                self.error(flag_line, f"flag id {flag_id!r} must be a short lower-case name", where)
            if not isinstance(spec, LinedMap):
                self.error(flag_line, "a flag needs level, label and guidance", where)
                continue
            for key in spec:
                if key not in {"level", "label", "guidance"}:
                    self.error(spec.line_of(key), f"unknown key '{key}' in a flag", where)
            try:
                level = Level(spec.get("level"))
            except ValueError:
                self.error(spec.line_of("level"), f"level must be one of P0, P1, P2, P3, not {spec.get('level')!r}", where)
                continue
            label = self.text(spec, "label", where)
            guidance = self.text(spec, "guidance", where)
            if label and guidance:
                flags[flag_id] = Flag(flag_id, level, label, guidance, flag_line, self.path)
        return flags

    def nodes(self, raw: Any, line: int, flags: dict[str, Flag], *, allow_empty: bool = False) -> dict[str, Node]:
        if allow_empty and isinstance(raw, LinedMap) and not raw:
            return {}
        if not isinstance(raw, LinedMap) or not raw:
            self.error(line, "nodes must be a non-empty mapping of node id to node")
            return {}
        nodes: dict[str, Node] = {}
        for node_id, spec in raw.items():
            node_line = raw.line_of(node_id)
            if not SLUG.match(node_id):
                self.error(node_line, "node ids must be short lower-case names (letters, digits, _)", node_id)
                continue
            if not isinstance(spec, LinedMap):
                self.error(node_line, "a node must be a mapping", node_id)
                continue
            node = self.node(node_id, spec, flags, node_line)
            if node is not None:
                nodes[node_id] = node
        return nodes

    def node(self, node_id: str, spec: LinedMap, flags: dict[str, Flag], line: int) -> Node | None:
        kinds = [key for key in spec if key in NODE_KINDS]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            self.error(line, f"a node needs exactly one of {_names(NODE_KINDS)} (found {found})", node_id)
            return None
        kind = NodeKind(kinds[0])
        allowed = KEYS_BY_KIND[kind]
        for key in spec:
            if key not in allowed:
                self.error(spec.line_of(key), f"unknown key '{key}' for a {kind.value} node (allowed: {_names(allowed)})", node_id)
        if kind is NodeKind.SAY:
            text = self.text(spec, "say", node_id)
            return Node(node_id, kind, line, text=text, routes=self.single_route(spec, node_id), file=self.path)
        if kind is NodeKind.FLAG:
            flag = spec.get("flag")
            if not isinstance(flag, str):
                self.error(spec.line_of("flag"), "flag must name a flag declared under flags:", node_id)
            return Node(node_id, kind, line, flag=str(flag), routes=self.single_route(spec, node_id), file=self.path)
        if kind is NodeKind.ESCALATE:
            reason = self.text(spec, "escalate", node_id)
            return Node(node_id, kind, line, text=reason, routes=self.single_route(spec, node_id), file=self.path)
        if kind is NodeKind.REFER:
            return self.refer_node(node_id, spec, line)
        if kind is NodeKind.FOLLOW_UP:
            return self.follow_up_node(node_id, spec, line)
        if kind is NodeKind.SUMMARY:
            title = self.text(spec, "summary", node_id)
            return Node(node_id, kind, line, text=title, routes=self.single_route(spec, node_id), file=self.path)
        if kind is NodeKind.END:
            outcome = self.slug(spec, "end", node_id)
            text = self.text(spec, "text", node_id) if "text" in spec else None
            return Node(node_id, kind, line, text=text, outcome=outcome, file=self.path)
        return self.question(node_id, spec, line)

    def refer_node(self, node_id: str, spec: LinedMap, line: int) -> Node:
        raw = spec.get("refer")
        needs_from = region_from = None
        if isinstance(raw, LinedMap):
            for key in raw:
                if key not in ("needs", "region"):
                    self.error(raw.line_of(key), f"unknown key '{key}' in refer (allowed: needs, region)", node_id)
            needs_from, region_from = raw.get("needs"), raw.get("region")
        if not isinstance(needs_from, str) or (region_from is not None and not isinstance(region_from, str)):
            self.error(spec.line_of("refer"), "refer needs `needs: <question node>` and may have `region: <question node>`", node_id)
            needs_from, region_from = "", None
        text = self.text(spec, "text", node_id) if "text" in spec else None
        referral = Referral(str(needs_from), region_from)
        return Node(node_id, NodeKind.REFER, line, text=text, routes=self.single_route(spec, node_id), file=self.path, referral=referral)

    def follow_up_node(self, node_id: str, spec: LinedMap, line: int) -> Node:
        kind = self.slug(spec, "follow_up", node_id) or ""
        after, hours_from = spec.get("after"), spec.get("after_answer")
        after_hours = None
        if (after is None) == (hours_from is None):
            self.error(line, "a follow_up needs exactly one of after: (such as 48h or 90d) and after_answer: <number question>", node_id)
        elif after is not None:
            delay = _DELAY.match(str(after))
            if delay is None:
                self.error(spec.line_of("after"), f"after must be hours or days such as 48h or 90d, not {after!r}", node_id)
            else:
                after_hours = int(delay.group(1)) * (24 if delay.group(2) == "d" else 1)
        elif not isinstance(hours_from, str):
            self.error(spec.line_of("after_answer"), "after_answer must name a number question", node_id)
            hours_from = None
        text = self.text(spec, "text", node_id) if "text" in spec else None
        follow_up = FollowUp(kind, after_hours, hours_from)
        return Node(node_id, NodeKind.FOLLOW_UP, line, text=text, routes=self.single_route(spec, node_id), file=self.path, follow_up=follow_up)

    def check_answer_references(self, nodes: dict[str, Node]) -> None:
        """refer and follow_up nodes read earlier answers; the questions they name must fit."""
        def question(name: str | None, types: tuple[InputType, ...]) -> bool:
            node = nodes.get(name or "")
            return node is not None and node.input is not None and node.input.type in types

        for node in nodes.values():
            if node.referral is not None:
                if not question(node.referral.needs_from, (InputType.MULTI_CHOICE, InputType.CHOICE)):
                    self.error(node.line, f"refer needs: '{node.referral.needs_from}' is not a choice or multi_choice question", node.id, node.file)
                if node.referral.region_from is not None and not question(node.referral.region_from, (InputType.CHOICE,)):
                    self.error(node.line, f"refer region: '{node.referral.region_from}' is not a choice question", node.id, node.file)
            if node.follow_up is not None and node.follow_up.hours_from is not None:
                if not question(node.follow_up.hours_from, (InputType.NUMBER,)):
                    self.error(node.line, f"after_answer: '{node.follow_up.hours_from}' is not a number question", node.id, node.file)

    def single_route(self, spec: LinedMap, node_id: str) -> tuple[Route, ...]:
        target = spec.get("next")
        if not isinstance(target, str):
            self.error(spec.line_of("next"), "next must name the node that follows", node_id)
            return ()
        return (Route("else", target, spec.line_of("next")),)

    def question(self, node_id: str, spec: LinedMap, line: int) -> Node | None:
        try:
            input_type = InputType(spec.get("ask"))
        except ValueError:
            names = _names({kind.value for kind in InputType})
            self.error(spec.line_of("ask"), f"ask must be one of {names}, not {spec.get('ask')!r}", node_id)
            return None
        text = self.text(spec, "text", node_id)
        input_spec = self.input_spec(node_id, spec, input_type)
        if input_spec is None:
            return None
        routes = self.question_routes(node_id, spec, input_spec)
        return Node(node_id, NodeKind.ASK, line, text=text, input=input_spec, routes=routes, file=self.path)

    def input_spec(self, node_id: str, spec: LinedMap, input_type: InputType) -> InputSpec | None:
        if input_type is InputType.YES_NO:
            return InputSpec(input_type, options=YES_NO_OPTIONS)
        if input_type in (InputType.CHOICE, InputType.MULTI_CHOICE):
            raw = spec.get("options")
            if not isinstance(raw, LinedMap) or len(raw) < 2:
                self.error(spec.line_of("options"), "a choice needs options: at least two key: label pairs", node_id)
                return None
            options = []
            for key, label in raw.items():
                if not SLUG.match(key):
                    self.error(raw.line_of(key), f"option key {key!r} must be a short lower-case name", node_id)
                if not isinstance(label, str) or not label.strip():
                    self.error(raw.line_of(key), f"option {key!r} needs a label", node_id)
                    continue
                options.append(Option(key, label.strip(), raw.line_of(key)))
            return InputSpec(input_type, options=tuple(options))
        if input_type is InputType.NUMBER:
            bounds = {}
            for key in ("min", "max"):
                value = spec.get(key)
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    self.error(spec.line_of(key), f"{key} must be a whole number", node_id)
                    value = None
                bounds[key] = value
            return InputSpec(input_type, minimum=bounds["min"], maximum=bounds["max"])
        max_length = spec.get("max_length", 1000)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or not 1 <= max_length <= 4000:
            self.error(spec.line_of("max_length"), "max_length must be a whole number from 1 to 4000", node_id)
            max_length = 1000
        return InputSpec(input_type, max_length=max_length)

    def question_routes(self, node_id: str, spec: LinedMap, input_spec: InputSpec) -> tuple[Route, ...]:
        raw = spec.get("next")
        if isinstance(raw, str):
            return (Route("else", raw, spec.line_of("next")),)
        if not isinstance(raw, LinedMap) or not raw:
            self.error(spec.line_of("next"), "next must name a node, or map answers to nodes", node_id)
            return ()
        routes: list[Route] = []
        for match, target in raw.items():
            line = raw.line_of(match)
            if not isinstance(target, str):
                self.error(line, f"the route for {match!r} must name a node", node_id)
                continue
            if match != "else" and not self.valid_match(match, input_spec):
                self.error(line, self.bad_match_message(match, input_spec), node_id)
                continue
            routes.append(Route(match, target, line))
        has_default = any(route.is_default for route in routes)
        if input_spec.type in (InputType.CHOICE, InputType.YES_NO) and not has_default:
            routed = {route.match for route in routes}
            for option in input_spec.options:
                if option.key not in routed:
                    self.error(spec.line_of("next"), f"answer '{option.key}' has no route (add it, or an else: route)", node_id)
        if input_spec.type in (InputType.NUMBER, InputType.TEXT, InputType.MULTI_CHOICE) and not has_default:
            self.error(spec.line_of("next"), "add an else: route for answers the other routes do not match", node_id)
        # The default route is tried last whatever its place in the file.
        return tuple(sorted(routes, key=lambda route: route.is_default))

    @staticmethod
    def valid_match(match: str, input_spec: InputSpec) -> bool:
        if input_spec.type is InputType.NUMBER:
            return parse_comparison(match) is not None
        if input_spec.type in (InputType.TEXT, InputType.MULTI_CHOICE):
            return False
        return input_spec.option(match) is not None

    @staticmethod
    def bad_match_message(match: str, input_spec: InputSpec) -> str:
        if input_spec.type is InputType.NUMBER:
            return f"route {match!r} must be a comparison such as '< 18' or '>= 18', or else"
        if input_spec.type in (InputType.TEXT, InputType.MULTI_CHOICE):
            return f"a {input_spec.type.value} question routes every answer the same way: use next: <node>"
        keys = ", ".join(option.key for option in input_spec.options)
        return f"route {match!r} is not one of the answers ({keys}) nor else"

    def check_targets(self, nodes: dict[str, Node]) -> None:
        for node in nodes.values():
            for route in node.routes:
                if route.target not in nodes:
                    self.error(route.line or node.line, f"route '{route.match}' leads to unknown node '{route.target}'", node.id, node.file)

    def check_automatic_cycles(self, nodes: dict[str, Node]) -> None:
        """A loop with no question in it would advance forever; refuse it."""
        automatic = {node_id for node_id, node in nodes.items() if node.kind.is_automatic}
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(node_id: str) -> bool:
            if node_id in visiting:
                return True
            if node_id in done or node_id not in automatic:
                return False
            visiting.add(node_id)
            looped = any(visit(target) for target in nodes[node_id].targets if target in nodes)
            visiting.discard(node_id)
            done.add(node_id)
            return looped

        for node_id in sorted(automatic):
            if node_id not in done and visit(node_id):
                self.error(nodes[node_id].line, "this node is part of a loop with no question in it", node_id, nodes[node_id].file)


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))
