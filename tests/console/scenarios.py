"""Scripted volunteer conversations over the shipped opening flow, one input per line.

Numbers pick options, so one script serves both languages.
"""

from __future__ import annotations

SCENARIOS: dict[str, list[str]] = {
    # A child in immediate danger: P0 at the safety step, then the rest of the screen; the
    # volunteer goes back once to check the age.
    "child_in_danger": ["1", "1", "2", "2", "2", "4", "3", "1", "15", "/back", "15", "2"],
    # Nothing flagged: the screen ends without an alert.
    "all_clear": ["y", "n", "n", "n", "n", "4", "3", "n", "n", "n"],
    # The caller cannot talk safely and must go: P1, escalated, case ended.
    "unsafe_to_talk": ["2", "2", "2", "2"],
    # Typing mistakes are answered and the question repeated.
    "mistakes": ["maybe", "1", "/help", "/frobnicate", "1", "2", "2", "2", "4", "3", "1", "two hundred", "200", "30", "2"],
}
