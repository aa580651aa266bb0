"""What `pendamping flows check` found: hard errors, warnings placed like them, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine import Flow, FlowError

__all__ = ["CheckReport", "CheckWarning", "TranslationCount"]


@dataclass(frozen=True)
class CheckWarning(FlowError):
    """A soft issue: the flow runs, but should not ship like this. Placed like a FlowError."""

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return f"{self.path}:{self.line}: warning: {where}{self.message}"


@dataclass(frozen=True)
class TranslationCount:
    """How far one language's catalog is behind the texts: new ones, changed (fuzzy) ones, empty ones."""

    language: str
    new: int
    changed: int
    missing: int
    total: int

    def __str__(self) -> str:
        return f"{self.language}: {self.new} new, {self.changed} changed, {self.missing} missing of {self.total} texts"


@dataclass
class CheckReport:
    """Errors stop a flow from loading; warnings fail only `--strict`; notes never fail the check."""

    flows: list[Flow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[CheckWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    translations: list[TranslationCount] = field(default_factory=list)

    def failed(self, *, strict: bool) -> bool:
        return bool(self.errors or (strict and self.warnings))
