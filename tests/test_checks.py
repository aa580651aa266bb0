"""`pendamping flows check`: each kind of problem in a small broken flow, caught with its file, line
and node, and the exit status: 0 on warnings, 1 on warnings under --strict, 1 on errors."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot import callback_data
from bot.checks import CheckWarning, check_flows, check_paths, run_check, translation_counts
from bot.cli import main
from bot.directory import DIRECTORY_PATH
from bot.engine import load_flow_text
from bot.i18n import LOCALES_DIR
from storage import Database, create_case
from tests.conftest import DEMO_FLOW


def line_of(text: str, fragment: str) -> int:
    """1-based line of the only line holding `fragment`."""
    found = [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def write_flow(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def warnings_at(warnings: list[CheckWarning], node: str) -> list[CheckWarning]:
    return [warning for warning in warnings if warning.node == node]


def flow_check(path: Path, *args: str) -> int:
    return main(["flows", "check", *args, str(path)])


# --- Errors and the loader's warnings --------------------------------------------------------------


def test_an_unknown_node_is_an_error_even_without_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = DEMO_FLOW.replace("      yes: age\n", "      yes: agee\n")
    path = write_flow(tmp_path, text)
    assert flow_check(path) == 1
    out = capsys.readouterr().out
    assert f"{path}:{line_of(text, 'yes: agee')}: node 'safe': route 'yes' leads to unknown node 'agee'" in out
    assert "1 error(s)" in out


@pytest.mark.parametrize(
    ("change", "node", "fragment", "message"),
    [
        pytest.param(
            ("    flag: child\n    next: escalate_child", "    flag: child\n    next: caller"),
            "escalate_child", "  escalate_child:", "unreachable: no route leads here from the start", id="unreachable",
        ),
        pytest.param(
            ("      yes: flag_distress\n      no: note", "      yes: feeling\n      no: feeling"),
            "feeling", "  feeling:", "dead end: no path from here reaches an end node", id="dead-end",
        ),
        pytest.param(
            ("    flag: danger\n    next: escalate_danger", "    flag: danger\n    next: age"),
            "flag_danger", "  flag_danger:", "P0 flag can reach an end without an escalate node: flag_danger > age", id="p0-no-escalation",
        ),
        pytest.param(
            ("Note in a few words.", "x" * 4100),
            "note", "  note:", "text of 4100 characters is over Telegram's 4096", id="over-4096",
        ),
    ],
)
def test_soft_issues_warn_with_file_line_and_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], node: str, fragment: str, message: str
) -> None:
    text = DEMO_FLOW.replace(*change)
    assert text != DEMO_FLOW
    path = write_flow(tmp_path, text)
    assert flow_check(path) == 0
    assert flow_check(path, "--strict") == 1
    out = capsys.readouterr().out
    expected = f"{path}:{line_of(text, fragment)}: warning: node '{node}': {message}"
    assert expected in out, out


# --- Translations: new, changed, missing -----------------------------------------------------------


@pytest.fixture
def demo_locales(tmp_path: Path) -> Path:
    """The real catalog plus the demo flow's texts: one new (absent), one changed (fuzzy), one missing (empty)."""
    with (LOCALES_DIR / "id" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="id")
    for text in load_flow_text(DEMO_FLOW, "demo.yaml").texts():
        if text.msgid == "Demo screen":
            continue
        catalog.add(text.msgid, "id: " + text.msgid)
    catalog["Who is calling?"].flags.add("fuzzy")
    catalog["Note in a few words."].string = ""
    po = tmp_path / "locales" / "id" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    with po.open("wb") as handle:
        write_po(handle, catalog)
    return tmp_path / "locales"


def test_new_changed_and_missing_translations_are_told_apart(tmp_path: Path, demo_locales: Path) -> None:
    path = write_flow(tmp_path, DEMO_FLOW)
    report = check_flows([path], locales=demo_locales)
    shown = {str(warning) for warning in report.warnings if warning.path == str(path)}
    assert shown == {
        f"{path}:1: warning: no 'id' translation for 'Demo screen': a new text, not in the catalog yet (run `make translations`)",
        f"{path}:{line_of(DEMO_FLOW, '  caller:')}: warning: node 'caller': 'id' translation is fuzzy (the text changed; check it) for 'Who is calling?'",
        f"{path}:{line_of(DEMO_FLOW, '  note:')}: warning: node 'note': no 'id' translation for 'Note in a few words.': its catalog entry is empty",
    }
    (counts,) = translation_counts(load_flow_text(DEMO_FLOW, "demo.yaml").texts(), {"id": _catalog(demo_locales)})
    assert (counts.new, counts.changed, counts.missing) == (1, 1, 1)
    assert str(counts) == f"id: 1 new, 1 changed, 1 missing of {counts.total} texts"


def test_the_check_prints_a_summary_per_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow_check(write_flow(tmp_path, DEMO_FLOW))
    out = capsys.readouterr().out
    assert re.search(r"^translations id: \d+ new, \d+ changed, \d+ missing of \d+ texts$", out, re.MULTILINE), out


def test_directory_texts_are_checked_too(tmp_path: Path) -> None:
    directory = tmp_path / "services.yaml"
    directory.write_text(DIRECTORY.replace("Police emergency line.", "A line nobody translated yet."))
    report = check_flows([write_flow(tmp_path, DEMO_FLOW)], directory=directory)
    (warning,) = [warning for warning in report.warnings if warning.node == "service:police"]
    assert (warning.line, warning.message.split(":")[0]) == (line_of(DIRECTORY, "description: Police"), "no 'id' translation for 'A line nobody translated yet.'")


# --- Buttons ---------------------------------------------------------------------------------------

CHOICE_OF_ELEVEN = "\n".join(f"      answer_{number}: Answer {number}" for number in range(1, 12))


def test_the_real_layout_leaves_room_for_any_flow() -> None:
    # Only the answer's number comes from the flow: a choice would need 10**20 answers to reach 64 bytes.
    assert callback_data.option_data_size(999) <= callback_data.CALLBACK_LIMIT - 17


def test_callback_data_over_64_bytes_is_reported_at_the_first_option_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No flow can reach the limit with today's layout, so the layout is made longer, as a change to
    # the signer might: with a 27-character case prefix, answers 1 to 10 fit exactly and 11 does not.
    monkeypatch.setattr(callback_data, "CASE_PREFIX_LENGTH", 27)
    assert callback_data.option_data_size(9) == 64
    options = "      victim: The victim\n      family: A family member\n      other: Someone else"
    text = DEMO_FLOW.replace(options, CHOICE_OF_ELEVEN).replace("      victim: feeling\n", "      answer_1: feeling\n")
    path = write_flow(tmp_path, text)
    assert flow_check(path) == 0
    assert flow_check(path, "--strict") == 1
    out = capsys.readouterr().out
    expected = (
        f"{path}:{line_of(text, 'answer_11: Answer 11')}: warning: node 'caller': the button of option 'answer_11' (answer 11) "
        "carries up to 65 bytes of callback data, over Telegram's 64: the question's keyboard would be refused"
    )
    assert expected in out, out
    assert out.count("bytes of callback data") == 2  # one per question and run, not one per option past it


def test_a_multi_choice_question_with_more_options_than_a_toggle_keyboard_carries_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_flow(tmp_path, REFERRAL_FLOW)
    assert not [warning for warning in check_flows([path]).warnings if "toggle" in warning.message]
    # The needs question has five options: a keyboard of four would not hold them.
    monkeypatch.setattr(callback_data, "MULTI_CHOICE_OPTIONS", 4)
    assert flow_check(path, "--strict") == 1
    expected = (
        f"{path}:{line_of(REFERRAL_FLOW, 'ask: multi_choice') - 1}: warning: node 'needs': the multi-choice question has 5 options, "
        "more than the 4 a toggle keyboard carries: it gets no buttons and is answered by typing numbers only"
    )
    assert expected in capsys.readouterr().out


def test_toggle_data_over_64_bytes_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As with option buttons, only a longer layout can reach the limit: with a 27-character case
    # prefix, a toggle of five options carries 45 + 19 + 2 (selection "1f") + 1 = 67 bytes.
    monkeypatch.setattr(callback_data, "CASE_PREFIX_LENGTH", 27)
    assert callback_data.multi_choice_worst_size(5) == 67
    path = write_flow(tmp_path, REFERRAL_FLOW)
    (warning,) = [warning for warning in warnings_at(check_flows([path]).warnings, "needs") if "callback data" in warning.message]
    assert warning.message == (
        "the toggle buttons of the multi-choice question carry up to 67 bytes of callback data, "
        "over Telegram's 64: the question's keyboard would be refused"
    )


# --- Referrals -------------------------------------------------------------------------------------

DIRECTORY = """\
version: 1
services:
  - id: police
    name: Polri 110
    description: Police emergency line.
    needs: [safety]
    regions: [national]
    contacts:
      - {type: phone, value: "110"}
    source: https://example.org/110
    last_verified: 2026-01-01
    status: verified
  - id: lawyers
    name: LBH
    description: Legal aid.
    needs: [legal]
    regions: [national]
    contacts:
      - {type: phone, value: "021 123"}
    source: https://example.org/lbh
    last_verified: 2026-01-01
    status: unverified
  - id: jakarta_shelter
    name: Rumah Aman Jakarta
    description: Shelter.
    needs: [shelter]
    regions: [dki_jakarta]
    contacts:
      - {type: phone, value: "021 456"}
    source: https://example.org/shelter
    last_verified: 2026-01-01
    status: verified
"""

REFERRAL_FLOW = DEMO_FLOW.replace(
    """  note:
    ask: text""",
    """  needs:
    ask: multi_choice
    text: What does the caller need?
    options:
      safety: Safety or evacuation
      legal: Legal aid
      medical: Medical care
      shelter: Shelter
      housing: Housing
    next: province
  province:
    ask: choice
    text: Which province?
    options:
      dki_jakarta: DKI Jakarta
      bali: Bali
      abroad: Abroad
    next: offer
  offer:
    refer:
      needs: needs
      region: province
    next: note
  note:
    ask: text""",
).replace("      victim: feeling\n      else: note", "      victim: feeling\n      else: needs").replace("      no: note\n", "      no: needs\n")


def test_referral_needs_the_directory_cannot_serve_are_reported(tmp_path: Path) -> None:
    directory = tmp_path / "services.yaml"
    directory.write_text(DIRECTORY)
    path = write_flow(tmp_path, REFERRAL_FLOW)
    report = check_flows([path], directory=directory)
    found = {(warning.line, warning.message) for warning in warnings_at(report.warnings, "needs") if "referred at" in warning.message}
    def line(fragment: str) -> int:
        return line_of(REFERRAL_FLOW, fragment)

    assert found == {
        (line("legal: Legal aid"), "need 'legal' has no verified service in the directory, only lawyers (unverified) (referred at 'offer')"),
        (line("medical: Medical care"), "no service in the directory offers need 'medical' (referred at 'offer')"),
        (line("shelter: Shelter"), "need 'shelter' has no national service and none for 2 answer(s) of 'province': bali, abroad (referred at 'offer')"),
        (line("housing: Housing"), "answer 'housing' is not a need the directory knows, so it never finds a service "
         "(needs: safety, medical, mental_health, shelter, reporting, legal, psychosocial, cross_border, family_tracing) (referred at 'offer')"),
    }
    assert all(warning.path == str(path) for warning in warnings_at(report.warnings, "needs"))


def test_a_referral_need_with_no_entry_fails_the_strict_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_flow(tmp_path, REFERRAL_FLOW)  # against the shipped directory
    assert flow_check(path) == 0
    assert flow_check(path, "--strict") == 1
    out = capsys.readouterr().out
    assert f"{path}:{line_of(REFERRAL_FLOW, 'housing: Housing')}: warning: node 'needs': answer 'housing' is not a need" in out
    assert "need 'legal'" not in out and "need 'shelter'" not in out  # the shipped directory has them nationally


# --- Cases in progress on removed nodes ------------------------------------------------------------


def open_case(database: Database, node: str, *, revision: int = 1, status: str = "active", flow_id: str = "demo") -> None:
    state = {"flow": flow_id, "revision": revision, "node": node, "status": status}
    with database.transaction() as session:
        create_case(
            session, volunteer="v", language="id", flow_id=flow_id, flow_revision=revision, state=state,
            now=datetime(2026, 1, 1, tzinfo=timezone.utc),
        )


WITHOUT_FEELING = (
    DEMO_FLOW.replace("revision: 1", "revision: 2")
    .replace("      victim: feeling\n", "      victim: note\n")
    .replace(
        """  feeling:
    ask: yes_no
    text: Is the caller in severe distress?
    next:
      yes: flag_distress
      no: note
""",
        "",
    )
    .replace("  flag_distress:\n    flag: distress\n    next: note\n", "")
    .replace("  distress:\n    level: P2\n    label: Severe distress\n    guidance: Offer grounding.\n", "")
)


@pytest.fixture
def cases_on_feeling(database: Database) -> Iterator[Database]:
    open_case(database, "feeling")
    open_case(database, "feeling", status="paused")
    open_case(database, "feeling", revision=2)
    open_case(database, "feeling", status="ended")  # ended: nobody waits
    open_case(database, "note")  # still there
    open_case(database, "feeling", flow_id="other")  # another flow
    yield database


def test_a_removed_node_with_cases_in_progress_is_reported(tmp_path: Path, cases_on_feeling: Database) -> None:
    path = write_flow(tmp_path, WITHOUT_FEELING)
    for source in (cases_on_feeling, None):
        if source is None:
            with cases_on_feeling.transaction() as session:
                errors, warnings, _ = check_paths([path], database=session)
        else:
            errors, warnings, _ = check_paths([path], database=source)
        assert errors == []
        (warning,) = warnings_at(warnings, "feeling")
        assert (warning.path, warning.line) == (str(path), 1)
        assert warning.message == (
            "removed, but 3 case(s) in progress wait on it (flow demo r1, r2); they finish on their own revision; "
            "but r2 is the checked flow's own revision: raise `revision`, or the bot refuses the changed flow"
        )


def test_the_cli_checks_cases_in_the_database_named(
    tmp_path: Path, sqlite_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    open_case(sqlite_database, "feeling")
    path = write_flow(tmp_path, WITHOUT_FEELING)
    url = sqlite_database.url.render_as_string(hide_password=False)
    assert flow_check(path, "--database", url) == 0
    assert flow_check(path, "--strict", "--database", url) == 1
    out = capsys.readouterr().out
    assert f"{path}:1: warning: node 'feeling': removed, but 1 case(s) in progress wait on it (flow demo r1)" in out
    assert f"info: cases in progress checked for removed nodes in {url}" in out


def test_the_configured_database_is_used_only_if_it_exists_and_is_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_flow(tmp_path, WITHOUT_FEELING)
    missing = tmp_path / "none.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    assert flow_check(path) == 0
    assert not missing.exists()  # looking must not create it
    assert f"info: cases in progress not checked for removed nodes: there is no database file {missing}" in capsys.readouterr().out

    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with empty.engine.connect():
        pass  # the file exists, with no tables
    empty.dispose()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert flow_check(path) == 0
    assert "not checked for removed nodes: it is not migrated" in capsys.readouterr().out


def test_a_database_named_but_not_usable_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_flow(tmp_path, WITHOUT_FEELING)
    assert flow_check(path, "--database", f"sqlite:///{tmp_path / 'none.db'}") == 1
    assert "cases in progress cannot be checked" in capsys.readouterr().out


def test_run_check_keeps_its_signature_and_skips_cases_without_a_database(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_check([write_flow(tmp_path, DEMO_FLOW)], strict=False, out=out) == 0
    assert "info: cases in progress not checked for removed nodes: no database given" in out.getvalue()


def _catalog(locales: Path) -> Catalog:
    with (locales / "id" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale="id")


def test_the_shipped_directory_serves_the_shipped_flows() -> None:
    from bot.library import DEFAULT_FLOWS_DIR

    report = check_flows([DEFAULT_FLOWS_DIR], directory=DIRECTORY_PATH)
    assert [str(warning) for warning in report.warnings if "referred at" in warning.message] == []


def test_a_flag_the_lexicon_lists_at_another_level_is_reported(tmp_path: Path) -> None:
    lexicon = tmp_path / "terms.yaml"
    lexicon.write_text(
        "version: 1\nentries:\n  - flag: danger\n    level: P1\n    language: en\n    terms: [in danger now]\n",
        encoding="utf-8",
    )
    path = write_flow(tmp_path, DEMO_FLOW)
    declared = load_flow_text(DEMO_FLOW, str(path)).flags["danger"]
    report = check_flows([path], lexicon=lexicon)
    [warning] = [w for w in report.warnings if "terms.yaml" in w.message]
    assert (warning.path, warning.line) == (str(path), declared.line)
    assert f"'danger' is {declared.level.value} here but P1 in terms.yaml" in warning.message


def test_a_broken_lexicon_is_an_error(tmp_path: Path) -> None:
    lexicon = tmp_path / "terms.yaml"
    lexicon.write_text("version: 1\nentries: []\n", encoding="utf-8")
    report = check_flows([write_flow(tmp_path, DEMO_FLOW)], lexicon=lexicon)
    assert any("terms.yaml" in error and "entries" in error for error in report.errors), report.errors
