"""The callback data of a question's buttons: its layout and its worst-case size.

`bot/telegram/keyboards.py` builds the data; `pendamping flows check` computes its size from the
same layout, without importing `telegram`, so a flow never ships a button Telegram would refuse.
Telegram caps callback data at 64 bytes, and a refused keyboard means a question the volunteer
cannot answer by button in the middle of a call.

Layout: ``p:<case>:<step>:<option>:<signature>``. The case is the first characters of the case id,
the step the case's step counter, the option the answer's number (from 0) in the question, and
the signature a truncated HMAC in URL-safe base64. Only the option number comes from the flow:
keys and labels never travel in the data, however long they are.
"""

from __future__ import annotations

import math

__all__ = [
    "CALLBACK_LIMIT",
    "CASE_PREFIX_LENGTH",
    "LARGEST_STEP",
    "OPTION_PREFIX",
    "SIGNATURE_BYTES",
    "option_data_size",
    "signature_length",
]

CALLBACK_LIMIT = 64
OPTION_PREFIX = "p"
CASE_PREFIX_LENGTH = 8
SIGNATURE_BYTES = 9
# The step counter has no bound of its own in the session's JSON document; a 64-bit counter's
# largest value is far past the steps of any call, so the worst case is honest without being absurd.
LARGEST_STEP = 2**63 - 1


def signature_length() -> int:
    """Characters of the signature: padded base64 of SIGNATURE_BYTES."""
    return 4 * math.ceil(SIGNATURE_BYTES / 3)


def option_data_size(option: int, step: int | None = None) -> int:
    """Bytes of the callback data of answer number `option` (from 0), at `step` or the largest one."""
    shown_step = LARGEST_STEP if step is None else step
    fields = (OPTION_PREFIX, "c" * CASE_PREFIX_LENGTH, str(shown_step), str(option), "s" * signature_length())
    return len(":".join(fields).encode())
