"""YAML parsing that keeps line numbers, so every flow error can name the line a maintainer must fix.

PyYAML's plain loaders drop positions and silently keep the last of two duplicate keys; a
duplicated node id would then replace a question without a word. Composing the node tree ourselves
keeps both the line and the duplicate check.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["LinedMap", "YamlSyntaxError", "parse"]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes, no, on and off
    as booleans, which turns an answer label such as `Yes` into True."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class LinedMap(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


def parse(text: str) -> Any:
    """Parse one YAML document into dicts (as LinedMap), lists and scalars."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(f"invalid YAML: {error.problem or error}", line) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(f"invalid YAML: {error}", 1) from None
    if root is None:
        return None
    return _convert(root)


def _convert(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        result = LinedMap()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSyntaxError("mapping keys must be plain words", line)
            # Keys are taken as written: YAML 1.1 would turn `yes:` into True and `18:` into 18.
            key = str(key_node.value)
            if key in result:
                raise YamlSyntaxError(f"duplicate key {key!r} (first on line {result.key_lines[key]})", line)
            result[key] = _convert(value_node)
            result.key_lines[key] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item) for item in node.value]
    # Scalars: let the safe constructor resolve ints, bools and nulls the usual way.
    constructor = _Loader("")
    try:
        return constructor.construct_object(node, deep=True)
    finally:
        constructor.dispose()
