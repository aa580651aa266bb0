from __future__ import annotations

import pytest

from bot.answers import to_answer

CHOICE = {"type": "choice", "options": [{"key": "victim", "label": "Korban"}, {"key": "family", "label": "Keluarga"}]}
YES_NO = {"type": "yes_no", "options": [{"key": "yes", "label": "Ya"}, {"key": "no", "label": "Tidak"}]}


@pytest.mark.parametrize(
    ("typed", "prompt", "expected"),
    [
        ("1", CHOICE, "victim"),
        ("2", CHOICE, "family"),
        ("3", CHOICE, "3"),
        ("keluarga", CHOICE, "family"),
        ("KORBAN", CHOICE, "victim"),
        ("victim", CHOICE, "victim"),
        ("ya", YES_NO, "yes"),
        ("tidak", YES_NO, "no"),
        ("nggak", YES_NO, "no"),
        ("y", YES_NO, "yes"),
        ("2", YES_NO, "no"),
        ("perhaps", YES_NO, "perhaps"),
        ("15", {"type": "number"}, "15"),
        ("1", {"type": "text"}, "1"),
        ("anything", None, "anything"),
    ],
)
def test_typed_input_maps_to_answer_keys(typed, prompt, expected):
    assert to_answer(typed, prompt) == expected
