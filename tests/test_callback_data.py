"""The size `flows check` computes is the size the Telegram keyboards really send."""

from __future__ import annotations

import pytest

from bot.callback_data import CALLBACK_LIMIT, LARGEST_STEP, option_data_size
from bot.telegram.keyboards import CALLBACK_LIMIT as KEYBOARD_LIMIT, ButtonSigner

CASE = "0f8e7d6c-1111-2222-3333-444455556666"


@pytest.mark.parametrize(("step", "option"), [(0, 0), (12, 3), (9999, 42), (LARGEST_STEP, 999)])
def test_the_computed_size_is_the_size_of_the_encoded_data(step: int, option: int) -> None:
    data = ButtonSigner(b"secret").encode(CASE, step, option)
    assert len(data.encode()) == option_data_size(option, step)


def test_the_worst_case_is_the_largest_step() -> None:
    assert option_data_size(5) == option_data_size(5, LARGEST_STEP) > option_data_size(5, 10**6)
    assert KEYBOARD_LIMIT == CALLBACK_LIMIT == 64
