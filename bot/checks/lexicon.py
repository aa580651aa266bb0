"""The risk lexicon against the flows: a term must raise its flag at the level the flow declares."""

from __future__ import annotations

from bot.checks.report import CheckWarning
from bot.engine import Flow
from bot.engine.screening import Lexicon

__all__ = ["lexicon_findings"]


def lexicon_findings(flow: Flow, lexicon: Lexicon, path: str, lexicon_name: str) -> list[CheckWarning]:
    """A flag the flow declares at one level and the lexicon at another. The engine follows the
    flow, so nothing is missed, but one of the two files says something the bot does not do."""
    found: list[CheckWarning] = []
    levels = lexicon.levels()
    for flag in flow.flags.values():
        listed = levels.get(flag.id)
        if listed is not None and listed is not flag.level:
            found.append(CheckWarning(
                flag.file or path, flag.line, None,
                f"flag '{flag.id}' is {flag.level.value} here but {listed.value} in {lexicon_name}; "
                f"the flow's level is the one used, so make the two agree",
            ))
    return found
