"""Scripted volunteer conversations over the shipped protocol, one input per line.

They are the transcript scenarios in tests/transcripts/ (one YAML file each, with what must happen
written beside the inputs), read here so the console tests and `pendamping flows test` play the same
conversations and nobody keeps two copies of an input list.
"""

from __future__ import annotations

from pathlib import Path

from bot.transcripts import load_scenario

TRANSCRIPTS_DIR = Path(__file__).resolve().parents[1] / "transcripts"

SCENARIOS: dict[str, list[str]] = {
    scenario.key: list(scenario.inputs)
    for scenario in (load_scenario(path) for path in sorted(TRANSCRIPTS_DIR.glob("*.yaml")))
}
