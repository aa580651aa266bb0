"""`pendamping flows test`: run every scenario in every language, compare, and show what differs.

Exit codes: 0 all as expected, 1 a transcript differs (or crashed), 2 a scenario file cannot be run.
`--update` writes what was produced as the new expectation; the diff is then reviewed in the pull
request, like a translation change.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence, TextIO

from bot.directory import Directory, load_directory
from bot.i18n import SUPPORTED_LANGUAGES
from bot.lexicon import load_lexicon
from bot.library import DEFAULT_FLOWS_DIR, FlowLibrary
from bot.transcripts.recording import Transcript, record_transcript
from bot.transcripts.scenario import Scenario, ScenarioError, find_scenarios, load_scenario, write_expectations

__all__ = ["DEFAULT_TRANSCRIPTS_DIR", "Outcome", "check", "readable_diff", "run_suite"]

DEFAULT_TRANSCRIPTS_DIR = Path("tests") / "transcripts"
# A flow edit can change every text of a long conversation; past this the diff is cut short.
DIFF_LINE_LIMIT = 400
HUNK = re.compile(r"^@@ -(\d+)")


@dataclass
class Outcome:
    """One scenario in one language."""

    scenario: Scenario
    language: str
    failed: list[str] = field(default_factory=list)  # parts that differ: flags, escalations, messages
    diffs: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # parts with no expectation written yet

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        where = f"{self.scenario.key} [{self.language}]"
        if self.failed:
            return f"FAILED  {where}: {', '.join(self.failed)}"
        if self.updated:
            return f"updated {where}: {', '.join(self.updated)}"
        note = f" (not recorded yet: {', '.join(self.unchecked)}; run with --update)" if self.unchecked else ""
        return f"ok      {where}{note}"


def check(scenario: Scenario, language: str, transcript: Transcript, *, update: bool, update_expect: bool) -> Outcome:
    """Compare one transcript with what the scenario expects; with `update`, write what differs.

    `update_expect` is true for the first language run of a scenario only: flags and escalations
    are the same in every language, so a later language is checked against what the first wrote,
    and a difference between languages still fails.
    """
    outcome = Outcome(scenario, language)
    for part, expected, produced in (
        ("flags", scenario.flags, transcript.flags),
        ("escalations", scenario.escalations, transcript.escalations),
    ):
        if update_expect and expected != produced:
            outcome.updated.append(part)
        elif expected is None:
            outcome.unchecked.append(part)
        elif expected != produced:
            outcome.failed.append(part)
            outcome.diffs.append(readable_diff(
                "\n".join(expected), "\n".join(produced), f"{scenario.path} expect.{part}", f"produced ({language})"
            ))
    if update_expect and outcome.updated:
        write_expectations(scenario.path, transcript.flags, transcript.escalations)
    path = scenario.messages_path(language)
    recorded = path.read_text(encoding="utf-8") if path.exists() else None
    if update and recorded != transcript.messages:
        path.write_text(transcript.messages, encoding="utf-8")
        outcome.updated.append("messages" if recorded is not None else "messages (new file)")
    elif recorded is None:
        outcome.unchecked.append("messages")
    elif recorded != transcript.messages:
        outcome.failed.append("messages")
        outcome.diffs.append(readable_diff(recorded, transcript.messages, str(path), f"produced ({language})"))
    if not update and len(outcome.unchecked) == 3:
        outcome.failed.append("nothing to compare: run with --update, then review what it wrote")
    return outcome


def readable_diff(expected: str, produced: str, expected_name: str, produced_name: str) -> str:
    """A unified diff whose hunk headers also name the input the change follows
    (`@@ -40,7 +40,7 @@ input 13 >>> 14`), since line numbers mean little to someone reading a call."""
    old = expected.splitlines()
    lines = list(difflib.unified_diff(old, produced.splitlines(), expected_name, produced_name, lineterm=""))
    conversation = any(text.startswith(">>> ") for text in old)  # a list of flags has no inputs to name
    for index, line in enumerate(lines):
        match = HUNK.match(line)
        if not match or not conversation:
            continue
        # Where the first change is in the expected text: past the hunk's leading context lines.
        position = max(int(match.group(1)) - 1, 0)
        for body in lines[index + 1:]:
            if body[:1] != " ":
                position += 1 if body[:1] == "-" else 0  # a removed line is itself part of the search
                break
            position += 1
        inputs = [text for text in old[:position] if text.startswith(">>> ")]
        lines[index] = line + (f" input {len(inputs)} {inputs[-1]}" if inputs else " (opening messages)")
    if len(lines) > DIFF_LINE_LIMIT:
        lines = lines[:DIFF_LINE_LIMIT] + [f"... {len(lines) - DIFF_LINE_LIMIT} more diff lines"]
    return "\n".join(lines)


def run_suite(
    paths: Sequence[Path],
    *,
    out: TextIO,
    languages: Iterable[str] = SUPPORTED_LANGUAGES,
    update: bool = False,
    flows_dir: Path = DEFAULT_FLOWS_DIR,
    start_flow: str = "protocol",
) -> int:
    files, errors = find_scenarios(paths or [DEFAULT_TRANSCRIPTS_DIR])
    scenarios: list[Scenario] = []
    for file in files:
        try:
            scenarios.append(load_scenario(file))
        except ScenarioError as error:
            errors.append(error)
    library = FlowLibrary.from_directory(flows_dir, screener=load_lexicon()) if scenarios else None
    directory = load_directory() if scenarios else None
    runnable = []
    for scenario in scenarios:
        flow = scenario.flow or start_flow
        if library is not None and flow not in library.current:
            known = ", ".join(sorted(library.current))
            errors.append(ScenarioError(scenario.path, scenario.flow_line, f"no flow named {flow!r} (have: {known})"))
        else:
            runnable.append(scenario)
    for problem in errors:
        out.write(f"{problem}\n")
    outcomes = []
    for scenario in runnable:
        assert library is not None and directory is not None
        outcomes.extend(_run_scenario(scenario, tuple(languages), update, library, directory, scenario.flow or start_flow, out))
    failed = sum(1 for outcome in outcomes if not outcome.ok)
    updated = sum(1 for outcome in outcomes if outcome.ok and outcome.updated)
    summary = f"{len(outcomes)} transcript(s) from {len(runnable)} scenario(s): {len(outcomes) - failed} ok, {failed} failed"
    if update:
        summary += f", {updated} updated (review the diff before committing)"
    if errors:
        summary += f"; {len(errors)} scenario file(s) with errors"
    out.write(summary + "\n")
    if failed and not update:
        out.write("If the change is intended, run `pendamping flows test --update` and review the diff.\n")
    return 2 if errors else 1 if failed else 0


def _run_scenario(
    scenario: Scenario, languages: tuple[str, ...], update: bool, library: FlowLibrary, directory: Directory, flow: str, out: TextIO
) -> list[Outcome]:
    outcomes = []
    for index, language in enumerate(languages):
        try:
            transcript = record_transcript(scenario.inputs, flow=flow, language=language, library=library, directory=directory)
        except Exception as error:  # noqa: BLE001 - a crash mid-conversation is a failed transcript, not the end of the run
            outcome = Outcome(scenario, language, failed=[f"crashed: {type(error).__name__}: {error}"])
        else:
            outcome = check(scenario, language, transcript, update=update, update_expect=update and index == 0)
            if update and index == 0:
                # Later languages compare against what was just written, not the stale expectation.
                scenario = replace(scenario, flags=transcript.flags, escalations=transcript.escalations)
        out.write(outcome.line() + "\n")
        for diff in outcome.diffs:
            out.write(diff + "\n")
        outcomes.append(outcome)
    return outcomes
