"""Reads flows: a YAML file, a directory (flow.yaml plus a file per stage), or a stored revision.

Hard errors (a file the engine cannot run safely) stop the load and name the file, the line and the
node. Every hard error of a flow is reported at once, so a maintainer fixes them in one pass. Soft
issues (unreachable nodes and the like) belong to `bot.engine.analysis`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.engine.builder import FlowBuilder
from bot.engine.errors import FlowError, FlowLoadError
from bot.engine.flow import Flow
from bot.engine.yamltext import YamlSyntaxError, parse

__all__ = [
    "BUNDLE_MARKER",
    "MANIFEST",
    "load_flow_dir",
    "load_flow_file",
    "load_flow_source",
    "load_flow_text",
    "load_flows",
]

# A flow may also be a directory: this file holds id, revision, title and start, and every other
# *.yaml file beside it adds nodes (and flags), one file per stage of the protocol.
MANIFEST = "flow.yaml"
# Stored revisions of directory flows keep every file in one JSON document with this marker.
BUNDLE_MARKER = "pendamping-flow-bundle"


def load_flows(directory: Path) -> dict[str, Flow]:
    """Load every flow in a directory: each ``*.yaml`` file, and each sub-directory with a flow.yaml.

    Any hard error in any flow stops the whole load.
    """
    flows: dict[str, Flow] = {}
    errors: list[FlowError] = []
    candidates = sorted(directory.glob("*.yaml")) + sorted(path.parent for path in directory.glob(f"*/{MANIFEST}"))
    if not candidates:
        raise FlowLoadError([FlowError(str(directory), 0, None, "no flows found (*.yaml files or directories with flow.yaml)")])
    for path in candidates:
        try:
            flow = load_flow_dir(path) if path.is_dir() else load_flow_file(path)
        except FlowLoadError as error:
            errors.extend(error.errors)
            continue
        if flow.id in flows:
            errors.append(FlowError(str(path), 1, None, f"flow id '{flow.id}' is used by two flows"))
        flows[flow.id] = flow
    if errors:
        raise FlowLoadError(errors)
    return flows


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FlowLoadError([FlowError(str(path), 0, None, f"cannot read the file: {error}")]) from None


def load_flow_file(path: Path) -> Flow:
    return load_flow_text(_read(path), str(path))


def load_flow_dir(directory: Path) -> Flow:
    """A flow spread over a directory: flow.yaml first, then the other files in name order."""
    manifest = directory / MANIFEST
    fragments = sorted(path for path in directory.glob("*.yaml") if path.name != MANIFEST)
    return _load([(str(path), _read(path)) for path in [manifest, *fragments]], bundle=True)


def load_flow_text(text: str, path: str = "<flow>") -> Flow:
    return _load([(path, text)], bundle=False)


def load_flow_source(source: str, origin: str) -> Flow:
    """Load a flow from the text `Flow.source` produced: one file's text, or a directory's bundle."""
    if source.startswith("{") and BUNDLE_MARKER in source[:80]:
        try:
            files = json.loads(source)["files"]
            pairs = [(f"{origin}/{name}", text) for name, text in files]
        except (ValueError, KeyError, TypeError):
            raise FlowLoadError([FlowError(origin, 0, None, "stored flow bundle is damaged")]) from None
        return _load(pairs, bundle=True, names=[name for name, _ in files])
    return load_flow_text(source, origin)


def _load(files: list[tuple[str, str]], *, bundle: bool, names: list[str] | None = None) -> Flow:
    documents: list[tuple[str, Any]] = []
    errors: list[FlowError] = []
    for path, text in files:
        try:
            documents.append((path, parse(text)))
        except YamlSyntaxError as error:
            errors.append(FlowError(path, error.line, None, error.message))
    if errors:
        raise FlowLoadError(errors)
    if bundle:
        names = names or [Path(path).name for path, _ in files]
        source = json.dumps({BUNDLE_MARKER: 1, "files": [[name, text] for name, (_, text) in zip(names, files)]}, ensure_ascii=False)
    else:
        source = files[0][1]
    builder = FlowBuilder(files[0][0], source)
    flow = builder.build(documents)
    if builder.errors or flow is None:
        raise FlowLoadError(builder.errors)
    return flow


