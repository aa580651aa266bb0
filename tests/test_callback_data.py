"""The size `flows check` computes is the size the Telegram keyboards really send."""

from __future__ import annotations

import pytest

from bot.callback_data import (
    CALLBACK_LIMIT,
    LARGEST_STEP,
    MULTI_CHOICE_OPTIONS,
    multi_choice_data_size,
    multi_choice_worst_size,
    option_data_size,
)
from bot.telegram.keyboards import CALLBACK_LIMIT as KEYBOARD_LIMIT, ButtonSigner, keyboard_for

CASE = "0f8e7d6c-1111-2222-3333-444455556666"


@pytest.mark.parametrize(("step", "option"), [(0, 0), (12, 3), (9999, 42), (LARGEST_STEP, 999)])
def test_the_computed_size_is_the_size_of_the_encoded_data(step: int, option: int) -> None:
    data = ButtonSigner(b"secret").encode(CASE, step, option)
    assert len(data.encode()) == option_data_size(option, step)


def test_the_worst_case_is_the_largest_step() -> None:
    assert option_data_size(5) == option_data_size(5, LARGEST_STEP) > option_data_size(5, 10**6)
    assert KEYBOARD_LIMIT == CALLBACK_LIMIT == 64


# --- Multi-choice toggles --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("step", "selection", "pressed"),
    [(0, 0, 0), (0, 0, None), (12, 0b101, 2), (9999, 2**31, 31), (LARGEST_STEP, 2**MULTI_CHOICE_OPTIONS - 1, None), (LARGEST_STEP, 0xABC, 10)],
)
def test_the_computed_toggle_size_is_the_size_of_the_encoded_data(step: int, selection: int, pressed: int | None) -> None:
    data = ButtonSigner(b"secret").encode_toggle(CASE, step, selection, pressed)
    assert len(data.encode()) == multi_choice_data_size(selection, pressed, step)


def keyboard_data(options: int, selection: int) -> list[str]:
    prompt = {"type": "multi_choice", "step": LARGEST_STEP, "options": [{"key": f"k{n}", "label": f"O {n}"} for n in range(options)]}
    markup = keyboard_for(prompt, CASE, ButtonSigner(b"secret"), selection=selection)
    assert markup is not None
    return [button.callback_data for row in markup.inline_keyboard for button in row]


@pytest.mark.parametrize("options", [1, 2, 3, 4, 5, 9, 10, 11])
def test_the_toggle_worst_case_is_the_largest_data_any_keyboard_of_that_size_sends(options: int) -> None:
    # Every selection a keyboard can show, every button on it, at the largest step.
    selections = range(2**options) if options <= 5 else [0, 1, 2**options - 1, 2 ** (options - 1)]
    sizes = [len(data.encode()) for selection in selections for data in keyboard_data(options, selection)]
    assert max(sizes) == multi_choice_worst_size(options) <= CALLBACK_LIMIT


def test_the_largest_toggle_keyboard_fits() -> None:
    sizes = [len(data.encode()) for data in keyboard_data(MULTI_CHOICE_OPTIONS, 2**MULTI_CHOICE_OPTIONS - 1)]
    assert max(sizes) == multi_choice_worst_size(MULTI_CHOICE_OPTIONS) == 55
    assert multi_choice_worst_size(MULTI_CHOICE_OPTIONS) > multi_choice_worst_size(MULTI_CHOICE_OPTIONS, 10**6)
