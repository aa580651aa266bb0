"""Golden transcripts: the console's whole output for scripted conversations, in both languages.

What the protocol says in each conversation is checked by the transcript scenarios
(tests/transcripts/, `pendamping flows test`). The goldens here are about the console itself: its
numbered options and hints, its own commands and replies, the `[supervisor]` lines. So only the
conversations that exercise those are kept as goldens: a full protocol conversation (every kind of
question) and the two made of console commands. Keeping all of them would mean a second copy of
every transcript to regenerate and review after each flow edit.

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
from bot.directory import load_directory
from bot.lexicon import load_lexicon
from bot.i18n import translator
from bot.library import FlowLibrary
from tests.console.scenarios import SCENARIOS

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
CONSOLE_GOLDEN = ("child_in_danger", "mistakes", "supervisor_takes_over")


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
    service = CaseService(
        database, FlowLibrary.from_directory(screener=load_lexicon()), start_flow="protocol", supervisor_language=language,
        directory=load_directory(), clock=clock,
    )
    service.register_flows()
    out = io.StringIO()
    runner = ConsoleRunner(service, EchoingInput(lines, out), out, translator(language))
    assert runner.run() == 0
    # Case and alert codes are random by design; the transcript names them by shape.
    text = re.sub(r"\bK-[0-9A-Z]{6}\b", "K-XXXXXX", out.getvalue())
    return re.sub(r"\bA-[0-9A-Z]{5}\b", "A-XXXXX", text)


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("scenario", CONSOLE_GOLDEN)
def test_golden_transcript(sqlite_database, clock, regen_golden, scenario, language):
    produced = transcript(sqlite_database, clock, language, SCENARIOS[scenario])
    golden = GOLDEN_DIR / f"{scenario}.{language}.txt"
    if regen_golden:
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), f"no golden transcript {golden.name}; run with --regen-golden and review it"
    assert produced == golden.read_text(encoding="utf-8")


def alerts(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("[supervisor] 🚨")]


def test_a_child_in_danger_pages_p0_at_the_safety_step(sqlite_database, clock):
    text = transcript(sqlite_database, clock, "en", SCENARIOS["child_in_danger"])
    assert "P0 alert" in alerts(text)[0]
    assert text.index("P0 alert") < text.index("person who controls you")  # before the next safety question
    assert "Risk flag P1: Child under 18 involved" in text and "(Recorded earlier: 14)" in text
    assert "Case K-XXXXXX is closed." in text


def test_an_adult_survivor_gets_legal_aid_and_lpsk_without_a_page(sqlite_database, clock):
    text = transcript(sqlite_database, clock, "en", SCENARIOS["adult_survivor_legal_aid"])
    assert alerts(text) == []
    services = text[text.index("Services for: Legal aid · Jawa Timur"):].split("\n\n")[0].splitlines()
    assert any(line.startswith("• LPSK") for line in services)
    assert any("legal aid" in line.lower() or "LBH" in line for line in services[1:])
    assert "monitoring_3_months" in text or "three months" in text


def test_a_parent_reporting_a_port_transfer_tonight_pages_p0(sqlite_database, clock):
    text = transcript(sqlite_database, clock, "id", SCENARIOS["parent_port_tonight"])
    assert "P0" in alerts(text)[0]
    assert "Kasus K-XXXXXX ditutup." in text


def test_a_community_report_raises_p2_and_pages_nobody(sqlite_database, clock):
    text = transcript(sqlite_database, clock, "en", SCENARIOS["community_report"])
    assert alerts(text) == [] and "Risk flag P2" in text


def test_a_caller_who_cannot_talk_safely_gets_the_safe_contact_protocol(sqlite_database, clock):
    text = transcript(sqlite_database, clock, "en", SCENARIOS["cannot_talk_safely"])
    assert [alert.split()[2] for alert in alerts(text)] == ["P1"]
    assert "code word" in text.lower()


def test_a_dropped_call_with_p0_open_pages_again(sqlite_database, clock):
    text = transcript(sqlite_database, clock, "en", SCENARIOS["dropped_with_p0"])
    assert "Reason: The call dropped while a P0 flag was open." in text
    assert all("P0" in alert for alert in alerts(text))


def test_every_golden_file_belongs_to_a_scenario():
    expected = {f"{scenario}.{language}.txt" for scenario in CONSOLE_GOLDEN for language in ("id", "en")}
    assert {path.name for path in GOLDEN_DIR.glob("*.txt")} == expected


def test_no_message_of_any_scenario_is_over_telegrams_limit(sqlite_database, clock):
    from bot.render import MESSAGE_LIMIT
    from storage.models import OutboxMessage

    for scenario in ("parent_port_tonight", "child_in_danger"):
        transcript(sqlite_database, clock, "id", SCENARIOS[scenario])
    with sqlite_database.transaction() as session:
        lengths = [len(row.payload["text"]) for row in session.query(OutboxMessage)]
    assert lengths and max(lengths) <= MESSAGE_LIMIT
