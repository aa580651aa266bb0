"""The callback data of a question's buttons: its layouts and their worst-case sizes.

`bot/telegram/keyboards.py` builds the data; `pendamping flows check` computes its size from the
same layouts, without importing `telegram`, so a flow never ships a button Telegram would refuse.
Telegram caps callback data at 64 bytes, and a refused keyboard means a question the volunteer
cannot answer by button in the middle of a call.

A choice or yes/no button: ``p:<case>:<step>:<option>:<signature>``. The case is the first
characters of the case id, the step the case's step counter, the option the answer's number (from
0) in the question, and the signature a truncated HMAC in URL-safe base64.

A multi-choice (toggle) button: ``m:<case>:<step>:<selection>:<pressed>:<signature>``. The
selection is the set of options ticked on the keyboard the button belongs to, a bitmask (bit i for
answer number i) in lowercase hexadecimal; pressed is the number of the option the button ticks or
unticks, or ``d`` for Done. The selection lives only in the keyboard: nothing is stored until Done.
A bitmask of at most MULTI_CHOICE_OPTIONS bits keeps the data short; a question with more
options is answered by typing numbers.

Only option numbers come from the flow: keys and labels never travel in the data, however long
they are.
"""

from __future__ import annotations

import math

__all__ = [
    "CALLBACK_LIMIT",
    "CASE_PREFIX_LENGTH",
    "DONE_PRESS",
    "LARGEST_STEP",
    "MULTI_CHOICE_OPTIONS",
    "MULTI_PREFIX",
    "OPTION_PREFIX",
    "SIGNATURE_BYTES",
    "multi_choice_data_size",
    "multi_choice_worst_size",
    "option_data_size",
    "pressed_field",
    "selection_field",
    "signature_length",
]

CALLBACK_LIMIT = 64
OPTION_PREFIX = "p"
MULTI_PREFIX = "m"
DONE_PRESS = "d"
CASE_PREFIX_LENGTH = 8
SIGNATURE_BYTES = 9
# The step counter has no bound of its own in the session's JSON document; a 64-bit counter's
# largest value is far past the steps of any call, so the worst case is honest without being absurd.
LARGEST_STEP = 2**63 - 1
# More options than this are quicker typed than tapped through, and 32 bits keep the selection at
# eight hex digits: 55 bytes at the largest step.
MULTI_CHOICE_OPTIONS = 32


def signature_length() -> int:
    """Characters of the signature: padded base64 of SIGNATURE_BYTES."""
    return 4 * math.ceil(SIGNATURE_BYTES / 3)


def option_data_size(option: int, step: int | None = None) -> int:
    """Bytes of the callback data of answer number `option` (from 0), at `step` or the largest one."""
    shown_step = LARGEST_STEP if step is None else step
    fields = (OPTION_PREFIX, "c" * CASE_PREFIX_LENGTH, str(shown_step), str(option), "s" * signature_length())
    return len(":".join(fields).encode())


def selection_field(selection: int) -> str:
    """The selection as it travels: its bitmask in lowercase hex, "0" when nothing is ticked."""
    return format(selection, "x")


def pressed_field(pressed: int | None) -> str:
    """The pressed button as it travels: an option number (from 0), or DONE_PRESS for Done."""
    return DONE_PRESS if pressed is None else str(pressed)


def multi_choice_data_size(selection: int, pressed: int | None, step: int | None = None) -> int:
    """Bytes of a toggle button's data: `pressed` (None for Done) on a keyboard showing `selection`."""
    shown_step = LARGEST_STEP if step is None else step
    fields = (
        MULTI_PREFIX, "c" * CASE_PREFIX_LENGTH, str(shown_step), selection_field(selection), pressed_field(pressed),
        "s" * signature_length(),
    )
    return len(":".join(fields).encode())


def multi_choice_worst_size(options: int, step: int | None = None) -> int:
    """The most bytes any button of a toggle keyboard for `options` options can carry: every
    option ticked, and the press with the longest number (the last option's, or Done's)."""
    everything = 2**options - 1
    presses = [None] + ([options - 1] if options > 0 else [])
    return max(multi_choice_data_size(everything, pressed, step) for pressed in presses)
