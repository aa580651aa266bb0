"""Flow changes while the bot runs: checked as CI checks them, then live for new cases only.

A reload reads the flows directory again and holds it to the bar of `pendamping flows check
--strict`: any error or warning refuses it. So does a flow that changed but kept its revision number
(cases on it could not tell the two texts apart), a flow that disappeared (open cases and the start
flow may need it), and a catalog whose compiled .mo lags its .po (volunteers would read English). A
refused reload changes nothing and says why. A passing one stores the new revisions, and new cases
start on them; a case already open finishes on the revision it started on.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations

import bot.i18n as i18n
from bot.engine import Flow
from bot.i18n import N_, SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, Translator
from storage import Database

__all__ = [
    "ReloadOutcome",
    "ReloadStatus",
    "check_directory",
    "compiled_catalogs",
    "missing_flows",
    "revision_problems",
    "shorten",
]

# A refusal is read on a phone: the first lines say enough, the full list is one command away.
MAX_REASONS = 8
MAX_REASON_LENGTH = 300
FULL_CHECK = "pendamping flows check --strict"


class ReloadStatus(Enum):
    RELOADED = "reloaded"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did. `running` names the revisions new cases start on once it is over."""

    status: ReloadStatus
    running: tuple[str, ...]
    changes: tuple[str, ...] = ()  # "protocol r3 -> r4", "intake r1 (new)"
    reasons: tuple[str, ...] = ()  # why it was refused, shortened

    @property
    def summary(self) -> str:
        """One line for the log, in the maintainers' language."""
        running = ", ".join(self.running)
        if self.status is ReloadStatus.RELOADED:
            return f"flows reloaded: {', '.join(self.changes)}; new cases start on {running}"
        if self.status is ReloadStatus.UNCHANGED:
            return f"flows reloaded: no change ({running})"
        return f"flow reload refused; still running {running}: " + " | ".join(self.reasons)

    def message(self, language: Translator) -> str:
        """What a supervisor who asked for the reload reads. The check's own lines stay as written:
        they name files and lines for the maintainer who fixes them."""
        _ = language.text
        running = ", ".join(self.running)
        if self.status is ReloadStatus.RELOADED:
            return _(
                N_("Flows reloaded: {changes}. New cases start on the new revision; open cases finish on the one they started on."),
                changes=", ".join(self.changes),
            )
        if self.status is ReloadStatus.UNCHANGED:
            return _(N_("No change: the flows directory holds what is running ({running})."), running=running)
        return "\n".join([_(N_("Reload refused; still running {running}. Why:"), running=running), *self.reasons])


def shorten(problems: Iterable[str], directory: Path) -> tuple[str, ...]:
    """Paths relative to the flows directory's parent, long lines cut, at most MAX_REASONS lines."""
    prefix = str(directory.resolve().parent) + os.sep
    lines = [problem.replace(prefix, "").replace(str(directory.parent) + os.sep, "") for problem in problems]
    lines = [line if len(line) <= MAX_REASON_LENGTH else line[: MAX_REASON_LENGTH - 3] + "..." for line in lines]
    if len(lines) > MAX_REASONS:
        lines = lines[: MAX_REASONS - 1] + [f"... {len(lines) - MAX_REASONS + 1} more: run `{FULL_CHECK}`"]
    return tuple(lines)


def check_directory(directory: Path, database: Database | None = None) -> tuple[list[str], list[Flow]]:
    """The flows in `directory` and every problem `flows check --strict` (CI's bar) finds in them;
    with `database`, nodes removed while cases in progress wait on them count too."""
    # Imported here: bot.checks imports much of the bot (and may import bot.library); a process
    # that never reloads should not pay for it.
    from bot.checks import check_paths

    errors, warnings, flows = check_paths([directory], database=database)
    problems = [*errors, *(str(warning) for warning in warnings)]
    seen: dict[str, Flow] = {}
    for flow in flows:
        if flow.id in seen:
            problems.append(f"{flow.file}:{flow.line}: flow id '{flow.id}' is used by two flows")
        seen[flow.id] = flow
    return problems, flows


def revision_problems(flows: Iterable[Flow], known: Mapping[tuple[str, int], str]) -> list[str]:
    """Flows that changed but kept their revision number.

    `known` maps every revision this process has loaded to its checksum: a revision is one text
    forever, or a case started on it could finish on different words than it began with."""
    return [
        f"{flow.file}:{flow.line}: flow '{flow.id}' changed but kept revision {flow.revision}; raise its revision number"
        for flow in flows
        if known.get(flow.key, flow.checksum) != flow.checksum
    ]


def missing_flows(flows: Iterable[Flow], running: Iterable[str]) -> list[str]:
    """Running flows the directory no longer has: open cases and the start flow may need them."""
    gone = set(running) - {flow.id for flow in flows}
    return [f"flow '{flow_id}' is gone from the flows directory; a reload never removes a flow (restart to remove it)" for flow_id in sorted(gone)]


def compiled_catalogs(flows: Iterable[Flow], locales: Path | None = None) -> tuple[list[str], dict[str, gettext.NullTranslations]]:
    """The compiled catalogs the bot would serve, and a problem for each one that does not yet hold
    the translations its .po gives the flows' texts (`make catalogs` not run after an edit)."""
    locales = locales or i18n.LOCALES_DIR
    texts = sorted({text.msgid for flow in flows for text in flow.texts()})
    problems: list[str] = []
    catalogs: dict[str, gettext.NullTranslations] = {}
    for language in SUPPORTED_LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        folder = locales / language / "LC_MESSAGES"
        with (folder / f"{i18n.DOMAIN}.po").open("rb") as handle:
            source = read_po(handle, locale=language)
        compiled = Translations.load(str(locales), [language], i18n.DOMAIN)
        stale = [
            msgid for msgid in texts
            if (entry := source.get(msgid)) is not None and entry.string and compiled.gettext(msgid) != entry.string
        ]
        if stale:
            problems.append(
                f"{folder / (i18n.DOMAIN + '.mo')}: {len(stale)} flow text(s) not compiled yet, "
                f"such as {stale[0][:60]!r}; run `make catalogs`"
            )
        catalogs[language] = compiled
    return problems, catalogs
