"""Transcript tests as data: scripted conversations in YAML, run in every language, compared with
the expected messages, flags and escalations. `pendamping flows test` runs them; see
tests/transcripts/README.md for the scenario format."""

from bot.transcripts.recording import START, Transcript, record_transcript
from bot.transcripts.scenario import Scenario, ScenarioError, find_scenarios, load_scenario, write_expectations
from bot.transcripts.suite import DEFAULT_TRANSCRIPTS_DIR, Outcome, check, readable_diff, run_suite

__all__ = [
    "DEFAULT_TRANSCRIPTS_DIR",
    "START",
    "Outcome",
    "Scenario",
    "ScenarioError",
    "Transcript",
    "check",
    "find_scenarios",
    "load_scenario",
    "readable_diff",
    "record_transcript",
    "run_suite",
    "write_expectations",
]
