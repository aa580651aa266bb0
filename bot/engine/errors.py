"""Errors in flow files, placed by file, line and node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

__all__ = ["FlowError", "FlowLoadError"]


@dataclass(frozen=True)
class FlowError:
    """One hard error, placed as precisely as the file allows."""

    path: str
    line: int
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return f"{self.path}:{self.line}: {where}{self.message}"


class FlowLoadError(ValueError):
    """A flow file that must not be run; `errors` lists every problem found."""

    def __init__(self, errors: Iterable[FlowError]) -> None:
        self.errors = sorted(errors, key=lambda error: (error.path, error.line))
        super().__init__("\n".join(str(error) for error in self.errors))
