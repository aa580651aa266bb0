"""Babel extractor for flow YAML, so `pybabel extract` collects flow texts with the code's.

Registered as the `pendamping_flow` extraction method (see babel.cfg and pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Collection, Iterator, Mapping

from bot.engine.flow import YES_NO_OPTIONS, InputType
from bot.engine.loader import MANIFEST, load_flow_dir, load_flow_text

__all__ = ["extract_flow"]


def extract_flow(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Yield (line, function, msgid, comments) for every translatable text of one flow file."""
    name = str(getattr(fileobj, "name", "<flow>"))
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    # An invalid flow raises FlowLoadError here: extracting from a broken file would hide the break.
    directory = Path(name).parent
    if (directory / MANIFEST).exists():
        # One stage file of a directory flow: load the whole flow, keep this file's texts.
        flow = load_flow_dir(directory)
        texts = [text for text in flow.texts() if Path(text.file).resolve() == Path(name).resolve()]
    else:
        flow = load_flow_text(source, name)
        texts = flow.texts()
    for text in texts:
        comment = f"flow {flow.id}, {text.where}" if text.where else f"flow {flow.id}, title"
        yield text.line, None, text.msgid, [comment]
    if any(node.input and node.input.type is InputType.YES_NO for node in flow.nodes.values()):
        for option in YES_NO_OPTIONS:
            yield flow.line, None, option.label, [f"flow {flow.id}, yes/no answer"]
