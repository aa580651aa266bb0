"""Golden transcripts: the console's whole output for scripted conversations, in both languages.

Run `make test PYTEST_ARGS=--regen-golden` (or set PENDAMPING_REGEN_GOLDEN=1) to rewrite them on
purpose after a deliberate change to a flow or a translation, then read the diff before committing.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.cases import CaseService
from bot.console import ConsoleRunner
from bot.i18n import translator
from bot.library import FlowLibrary
from tests.console.scenarios import SCENARIOS

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"


class EchoingInput(io.StringIO):
    """Standard input that writes each line it hands out into the transcript, as a person would see it."""

    def __init__(self, lines: list[str], out: io.StringIO) -> None:
        super().__init__("".join(line + "\n" for line in lines))
        self.out = out

    def readline(self, *args: object) -> str:  # type: ignore[override]
        line = super().readline()
        if line:
            self.out.write(f">>> {line}")
        return line

    def isatty(self) -> bool:
        return False


def transcript(database, clock, language: str, lines: list[str]) -> str:
    service = CaseService(database, FlowLibrary.from_directory(), start_flow="opening", supervisor_language=language, clock=clock)
    service.register_flows()
    out = io.StringIO()
    runner = ConsoleRunner(service, EchoingInput(lines, out), out, translator(language))
    assert runner.run() == 0
    # Case and alert codes are random by design; the transcript names them by shape.
    text = re.sub(r"\bK-[0-9A-Z]{6}\b", "K-XXXXXX", out.getvalue())
    return re.sub(r"\bA-[0-9A-Z]{5}\b", "A-XXXXX", text)


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_golden_transcript(sqlite_database, clock, regen_golden, scenario, language):
    produced = transcript(sqlite_database, clock, language, SCENARIOS[scenario])
    golden = GOLDEN_DIR / f"{scenario}.{language}.txt"
    if regen_golden:
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), f"no golden transcript {golden.name}; run with --regen-golden and review it"
    assert produced == golden.read_text(encoding="utf-8")


def test_transcripts_show_what_the_scenarios_promise(sqlite_database, clock):
    danger = transcript(sqlite_database, clock, "en", SCENARIOS["child_in_danger"])
    assert "[supervisor] 🚨 P0 alert" in danger
    assert "Risk flag P1: Child under 18 involved" in danger
    assert "(Recorded earlier: 15)" in danger
    assert danger.rstrip().endswith("Type /new to open a new case, or end the input to quit.")


def test_a_clear_screen_alerts_nobody(sqlite_database, clock):
    clear = transcript(sqlite_database, clock, "id", SCENARIOS["all_clear"])
    assert "[supervisor]" not in clear and "Penanda risiko" not in clear
    assert "Kasus K-XXXXXX ditutup." in clear
