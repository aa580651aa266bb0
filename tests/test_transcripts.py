"""Transcript scenarios: the shipped suite in both languages, and `pendamping flows test` itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.directory import load_directory
from bot.i18n import SUPPORTED_LANGUAGES
from bot.lexicon import load_lexicon
from bot.library import FlowLibrary
from bot.transcripts import Transcript, check, load_scenario, readable_diff, record_transcript, write_expectations

TRANSCRIPTS_DIR = Path(__file__).resolve().parent / "transcripts"
SCENARIO_FILES = sorted(TRANSCRIPTS_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def protocol() -> tuple[FlowLibrary, object]:
    return FlowLibrary.from_directory(screener=load_lexicon()), load_directory()


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_every_scenario_runs_as_written(path, language, protocol):
    scenario = load_scenario(path)
    library, directory = protocol
    produced = record_transcript(scenario.inputs, flow=scenario.flow or "protocol", language=language, library=library, directory=directory)
    outcome = check(scenario, language, produced, update=False, update_expect=False)
    report = "\n".join([outcome.line(), *outcome.diffs, "Intended? Run `pendamping flows test --update` and review the diff."])
    if not outcome.ok:
        pytest.fail(report, pytrace=False)
    # A shipped scenario checks everything: a part left unrecorded would pass whatever happened.
    assert outcome.unchecked == [], report


def test_the_shipped_suite_covers_the_protocol_conversations():
    assert {"child_in_danger", "adult_survivor_legal_aid", "parent_port_tonight", "community_report",
            "cannot_talk_safely", "dropped_with_p0"} <= {path.stem for path in SCENARIO_FILES}


def test_every_message_file_belongs_to_a_scenario():
    expected = {f"{path.stem}.{language}.txt" for path in SCENARIO_FILES for language in SUPPORTED_LANGUAGES}
    assert {path.name for path in TRANSCRIPTS_DIR.glob("*.txt")} == expected


# `pendamping flows test`, on copies in a temporary directory.


@pytest.fixture(autouse=True)
def shipped_settings(monkeypatch):
    for name in ("PENDAMPING_FLOWS_DIR", "PENDAMPING_START_FLOW", "PENDAMPING_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)


def copy_scenario(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in TRANSCRIPTS_DIR.glob(f"{name}.*"):
        shutil.copy(path, folder / path.name)
    return folder / f"{name}.yaml"


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["flows", "test", *args])
    return code, capsys.readouterr().out


def test_a_scenario_as_shipped_passes_in_both_languages(tmp_path, capsys):
    copy_scenario("cannot_talk_safely", tmp_path)
    code, out = run(capsys, str(tmp_path))
    assert code == 0, out
    assert "ok      cannot_talk_safely [id]\n" in out and "ok      cannot_talk_safely [en]\n" in out
    assert "2 transcript(s) from 1 scenario(s): 2 ok, 0 failed" in out


def test_the_default_path_is_tests_transcripts_under_the_current_directory(tmp_path, capsys, monkeypatch):
    copy_scenario("dropped_with_p0", tmp_path / "tests" / "transcripts")
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys)
    assert code == 0, out
    assert "ok      dropped_with_p0 [en]" in out


def test_a_wrong_flag_fails_with_a_diff_of_the_flags(tmp_path, capsys):
    scenario = copy_scenario("cannot_talk_safely", tmp_path)
    scenario.write_text(scenario.read_text().replace("    - P1 unsafe_to_talk\n", "    - P0 unsafe_to_talk\n"))
    code, out = run(capsys, str(scenario))
    assert code == 1
    assert "FAILED  cannot_talk_safely [id]: flags\n" in out and "FAILED  cannot_talk_safely [en]: flags\n" in out
    assert f"--- {scenario} expect.flags\n+++ produced (id)\n" in out
    assert "\n-P0 unsafe_to_talk\n+P1 unsafe_to_talk\n" in out
    assert "pendamping flows test --update" in out


def test_a_missing_escalation_fails(tmp_path, capsys):
    scenario = copy_scenario("cannot_talk_safely", tmp_path)
    scenario.write_text(scenario.read_text().replace("    - P1 unsafe_to_talk at escalate_unsafe_to_talk → on-call\n", "    []\n")
                        .replace("  escalations:\n    []\n", "  escalations: []\n"))
    code, out = run(capsys, "--lang", "en", str(scenario))
    assert code == 1
    assert "FAILED  cannot_talk_safely [en]: escalations" in out
    assert "+P1 unsafe_to_talk at escalate_unsafe_to_talk → on-call" in out


def test_a_changed_message_fails_with_a_diff_that_names_the_input(tmp_path, capsys):
    scenario = copy_scenario("cannot_talk_safely", tmp_path)
    english = tmp_path / "cannot_talk_safely.en.txt"
    english.write_text(english.read_text().replace("Callback recorded.", "Callback noted."))
    code, out = run(capsys, str(scenario))
    assert code == 1
    assert "ok      cannot_talk_safely [id]" in out
    assert "FAILED  cannot_talk_safely [en]: messages" in out
    assert f"--- {english}\n+++ produced (en)\n" in out
    hunk = next(line for line in out.splitlines() if line.startswith("@@"))
    assert hunk.endswith(" input 5 >>> 20")  # the answer after which the text changed
    assert "\n-Callback noted. Contact" in out and "\n+Callback recorded. Contact" in out


def test_update_rewrites_the_expected_output_and_keeps_what_was_written_by_hand(tmp_path, capsys):
    scenario = copy_scenario("cannot_talk_safely", tmp_path)
    english = tmp_path / "cannot_talk_safely.en.txt"
    shipped_scenario, shipped_english = scenario.read_text(), english.read_text()
    scenario.write_text(shipped_scenario.replace("    - P1 unsafe_to_talk\n", "    - P0 unsafe_to_talk\n    - P2 severe_distress\n"))
    english.write_text(shipped_english.replace("Callback recorded.", "Callback noted."))
    code, out = run(capsys, "--update", str(scenario))
    assert code == 0, out
    assert "updated cannot_talk_safely [id]: flags\n" in out and "updated cannot_talk_safely [en]: messages\n" in out
    # Back to exactly what is shipped: comments, inputs and layout kept, expectations rewritten.
    assert scenario.read_text() == shipped_scenario
    assert english.read_text() == shipped_english
    code, out = run(capsys, str(scenario))
    assert code == 0 and "2 ok, 0 failed" in out


def test_a_hand_written_scenario_is_completed_by_update(tmp_path, capsys):
    scenario = tmp_path / "danger.yaml"
    scenario.write_text(
        "# Written by hand: only the flag is known.\n"
        "inputs:\n  - yes  # safe_to_talk\n  - yes  # danger_now\n  - /dropped\n"
        "expect:\n  flags:\n    - P0 immediate_danger\n"
    )
    code, out = run(capsys, str(scenario))
    assert code == 0, out
    assert "ok      danger [id] (not recorded yet: escalations, messages; run with --update)" in out

    code, out = run(capsys, "--update", str(scenario))
    assert code == 0, out
    assert "updated danger [id]: escalations, messages (new file)" in out
    assert "updated danger [en]: messages (new file)" in out
    written = scenario.read_text()
    assert written.startswith("# Written by hand: only the flag is known.\ninputs:\n  - yes  # safe_to_talk\n")
    assert "  flags:\n    - P0 immediate_danger\n  escalations:\n    - P0 immediate_danger at flag_danger_now → on-call\n" in written
    assert "Case K-000001" in (tmp_path / "danger.en.txt").read_text() and (tmp_path / "danger.id.txt").exists()

    code, out = run(capsys, str(scenario))
    assert code == 0 and "ok      danger [en]\n" in out


def test_a_scenario_with_nothing_to_compare_fails(tmp_path, capsys):
    (tmp_path / "bare.yaml").write_text("inputs: [yes, yes]\n")
    code, out = run(capsys, "--lang", "id", str(tmp_path))
    assert code == 1
    assert "FAILED  bare [id]: nothing to compare" in out


def test_only_the_language_asked_for_runs(tmp_path, capsys):
    copy_scenario("dropped_with_p0", tmp_path)
    code, out = run(capsys, "--lang", "en", str(tmp_path))
    assert code == 0
    assert "[en]" in out and "[id]" not in out


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("name: x\ninputs:\n  - yes\n  - [unclosed\n", 5, "invalid YAML"),
        ("name: x\ninput:\n  - yes\n", 2, "unknown key 'input'"),
        ("name: x\ninputs:\n  - yes\n  - /note caller: calm\n", 4, "input 2 must be one line of text"),
        ("inputs:\n  - yes\n  -\n", 3, "input 2 is empty"),
        ("inputs:\n  - yes\n  - /wait soon\n", 3, "write `/wait MINUTES`"),
        ("inputs: [yes]\nexpect:\n  flags: P0 danger\n", 3, "`expect.flags` must be a list"),
        ("inputs: [yes]\nexpect:\n  flags: []\n  escalation: []\n", 4, "unknown key 'escalation' under expect"),
        ("inputs: [yes]\nexpect:\n  flags:\n    - P0 x\n    - {level: P1}\n", 5, "`expect.flags` item 2 must be text"),
        ("name: x\nflow: protocl\ninputs: [yes]\n", 2, "no flow named 'protocl' (have: protocol)"),
        ("- yes\n- no\n", 1, "a scenario is a mapping"),
        ("name: x\n", 1, "no `inputs:`"),
    ],
)
def test_a_malformed_scenario_names_file_and_line(tmp_path, capsys, text, line, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    copy_scenario("dropped_with_p0", tmp_path)
    code, out = run(capsys, "--lang", "en", str(tmp_path))
    assert code == 2, out
    first = out.splitlines()[0]
    assert first.startswith(f"{bad}:{line}: ") and message in first, first
    # The other scenarios still run, so one typo does not hide their results.
    assert "ok      dropped_with_p0 [en]" in out
    assert "1 scenario file(s) with errors" in out


def test_a_path_that_does_not_exist_is_an_error(tmp_path, capsys):
    code, out = run(capsys, str(tmp_path / "nowhere"))
    assert code == 2 and "no such file or directory" in out


def test_a_directory_without_scenarios_is_an_error(tmp_path, capsys):
    code, out = run(capsys, str(tmp_path))
    assert code == 2 and "no scenario files" in out


def test_a_crash_in_the_middle_is_a_failure_not_the_end_of_the_run(tmp_path, capsys, monkeypatch):
    copy_scenario("dropped_with_p0", tmp_path)
    copy_scenario("cannot_talk_safely", tmp_path)
    real = record_transcript

    def crash_one(inputs, **kwargs):
        if inputs[-1] == "call_dropped":
            raise RuntimeError("no route")
        return real(inputs, **kwargs)

    monkeypatch.setattr("bot.transcripts.suite.record_transcript", crash_one)
    code, out = run(capsys, "--lang", "en", str(tmp_path))
    assert code == 1
    assert "FAILED  dropped_with_p0 [en]: crashed: RuntimeError: no route" in out
    assert "ok      cannot_talk_safely [en]" in out


def test_languages_that_disagree_on_flags_fail_even_under_update(tmp_path, capsys, monkeypatch):
    scenario = copy_scenario("dropped_with_p0", tmp_path)

    def by_language(inputs, *, language, **kwargs):
        flags = ("P0 immediate_danger",) if language == "id" else ("P1 child_involved",)
        return Transcript(messages=f"{language}\n", flags=flags, escalations=())

    monkeypatch.setattr("bot.transcripts.suite.record_transcript", by_language)
    code, out = run(capsys, "--update", str(scenario))
    assert code == 1
    assert "updated dropped_with_p0 [id]: flags, escalations, messages" in out
    assert "FAILED  dropped_with_p0 [en]: flags" in out
    assert load_scenario(scenario).flags == ("P0 immediate_danger",)  # written once, from the first language


def test_write_expectations_replaces_only_the_expect_block(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("inputs: [yes]  # kept\nexpect:\n  flags: []   # replaced\n\n# about the next key\nname: later key\n")
    write_expectations(path, ["P0 a", "P1 b: with a colon"], [])
    assert path.read_text() == (
        "inputs: [yes]  # kept\nexpect:\n  flags:\n    - P0 a\n    - \"P1 b: with a colon\"\n  escalations: []\n"
        "\n# about the next key\nname: later key\n"
    )
    loaded = load_scenario(path)
    assert loaded.flags == ("P0 a", "P1 b: with a colon") and loaded.escalations == () and loaded.name == "later key"


def test_a_diff_at_the_start_names_the_opening_messages():
    diff = readable_diff("Hello.\n\n>>> yes\nNext.\n", "Hi.\n\n>>> yes\nNext.\n", "expected", "produced")
    assert diff.splitlines()[2].endswith(" (opening messages)")
    assert "-Hello.\n+Hi." in diff
