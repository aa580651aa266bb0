"""Inline keyboards and their callback data, bound to one case and one step.

Callback data must fit Telegram's 64 bytes and comes back from the client unchecked, so it carries
a short HMAC: a forged or altered button is recognised and never applied, and a button from an
earlier step is recognised by its step number.

A multi-choice question gets a toggle keyboard: one button per option, ticked or not, and Done.
The ticked options live only in the keyboard (every button's data carries them), so a tap changes
the keyboard and nothing else; Done answers with the ticked options as if their numbers were typed.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callback_data import (
    CALLBACK_LIMIT,
    DONE_PRESS,
    MULTI_CHOICE_OPTIONS,
    MULTI_PREFIX,
    OPTION_PREFIX,
    pressed_field,
    selection_field,
)
from bot.render import DONE

__all__ = [
    "ALERT_ACTIONS",
    "BUTTON_LABEL_LIMIT",
    "CALLBACK_LIMIT",
    "DONE",
    "ButtonPress",
    "ButtonSigner",
    "TogglePress",
    "alert_keyboard",
    "keyboard_for",
    "text_for",
]

# Supervisor buttons on an alert: take the case, or see its summary.
ALERT_ACTIONS = ("take", "view")

# One layout for the keyboards and for `flows check` (see bot/callback_data.py).
PREFIX = OPTION_PREFIX


# The button that answers a multi-choice question with the options ticked on its keyboard.
TICKED, UNTICKED = "☑", "☐"


@dataclass(frozen=True)
class ButtonPress:
    case_prefix: str
    step: int
    option: int


@dataclass(frozen=True)
class TogglePress:
    """A tap on a multi-choice keyboard showing `selection` (bit i: answer number i is ticked):
    on option number `pressed`, or on Done when `pressed` is None."""

    case_prefix: str
    step: int
    selection: int
    pressed: int | None

    @property
    def after(self) -> int:
        """The selection the tap leads to: the pressed option flipped (Done changes nothing)."""
        return self.selection if self.pressed is None else self.selection ^ (1 << self.pressed)

    @property
    def typed(self) -> str:
        """The ticked options as a volunteer would type them ("1,3"), for the step Done runs."""
        return ",".join(str(number + 1) for number in range(MULTI_CHOICE_OPTIONS) if self.selection >> number & 1)


class ButtonSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, case_id: str, step: int, option: int) -> str:
        digest = hmac.digest(self._secret, f"{case_id}:{step}:{option}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest[:9]).decode()

    def encode(self, case_id: str, step: int, option: int) -> str:
        data = f"{PREFIX}:{case_id[:8]}:{step}:{option}:{self._signature(case_id, step, option)}"
        assert len(data.encode()) <= CALLBACK_LIMIT, data
        return data

    def encode_toggle(self, case_id: str, step: int, selection: int, pressed: int | None) -> str:
        """A toggle button's data: `pressed` (None for Done) on a keyboard showing `selection`."""
        data = self._toggle_data(case_id, step, selection, pressed)
        assert len(data.encode()) <= CALLBACK_LIMIT, data
        return data

    def _toggle_data(self, case_id: str, step: int, selection: int, pressed: int | None) -> str:
        fields = f"{step}:{selection_field(selection)}:{pressed_field(pressed)}"
        digest = hmac.digest(self._secret, f"{MULTI_PREFIX}:{case_id}:{fields}".encode(), "sha256")
        return f"{MULTI_PREFIX}:{case_id[:8]}:{fields}:{base64.urlsafe_b64encode(digest[:9]).decode()}"

    def decode_toggle(self, data: str | None, case_id: str) -> TogglePress | None:
        """The tap, if the data is ours, for this case, unaltered and in its one spelling; otherwise None."""
        parts = (data or "").split(":")
        if len(parts) != 6 or parts[0] != MULTI_PREFIX or parts[1] != case_id[:8]:
            return None
        try:
            step, selection = int(parts[2]), int(parts[3], 16)
            pressed = None if parts[4] == DONE_PRESS else int(parts[4])
        except ValueError:
            return None
        if step < 0 or not 0 <= selection < 2**MULTI_CHOICE_OPTIONS or not (pressed is None or 0 <= pressed < MULTI_CHOICE_OPTIONS):
            return None
        # Comparing the whole data also refuses another spelling of the same numbers ("007", "0x5").
        if not hmac.compare_digest(self._toggle_data(case_id, step, selection, pressed).encode(), (data or "").encode()):
            return None
        return TogglePress(parts[1], step, selection, pressed)

    def encode_alert(self, action: str, alert_code: str) -> str:
        digest = hmac.digest(self._secret, f"alert:{action}:{alert_code}".encode(), "sha256")
        return f"a:{ALERT_ACTIONS.index(action)}:{alert_code}:{base64.urlsafe_b64encode(digest[:9]).decode()}"

    def decode_alert(self, data: str | None) -> tuple[str, str] | None:
        """(action, alert code) of an untampered alert button, otherwise None."""
        parts = (data or "").split(":")
        if len(parts) != 4 or parts[0] != "a" or parts[1] not in ("0", "1"):
            return None
        action = ALERT_ACTIONS[int(parts[1])]
        return (action, parts[2]) if hmac.compare_digest(self.encode_alert(action, parts[2]).encode(), (data or "").encode()) else None

    def decode(self, data: str | None, case_id: str) -> ButtonPress | None:
        """The press, if the data is ours, for this case, and unaltered; otherwise None."""
        parts = (data or "").split(":")
        # ASCII digits only: "²" is a digit to str.isdigit() but not to int().
        if len(parts) != 5 or parts[0] != PREFIX or not (parts[2] + parts[3]).isascii() or not parts[2].isdigit() or not parts[3].isdigit():
            return None
        step, option = int(parts[2]), int(parts[3])
        if parts[1] != case_id[:8] or not hmac.compare_digest(parts[4].encode(), self._signature(case_id, step, option).encode()):
            return None
        return ButtonPress(parts[1], step, option)


def _has_toggle_keyboard(prompt: dict[str, Any] | None) -> bool:
    """A multi-choice question whose options fit a toggle keyboard's bitmask; more are typed."""
    if not prompt or prompt.get("type") != "multi_choice":
        return False
    return 0 < len(prompt.get("options") or []) <= MULTI_CHOICE_OPTIONS


def keyboard_for(
    prompt: dict[str, Any] | None, case_id: str, signer: ButtonSigner, *, done_label: str = DONE, selection: int = 0
) -> InlineKeyboardMarkup | None:
    """Buttons for a choice or yes/no question, and toggles for a multi-choice one showing
    `selection` with a Done button labelled `done_label` (translated by the caller)."""
    if not prompt:
        return None
    if _has_toggle_keyboard(prompt):
        return _toggle_keyboard(prompt, case_id, signer, done_label, selection)
    if prompt.get("type") not in ("choice", "yes_no"):
        return None
    step = int(prompt["step"])
    options = prompt.get("options") or []
    numbered = _has_long_label(options)
    buttons = [
        InlineKeyboardButton(_button_label(number, str(option["label"]), numbered), callback_data=signer.encode(case_id, step, number - 1))
        for number, option in enumerate(options, start=1)
    ]
    if prompt.get("type") == "yes_no":
        return InlineKeyboardMarkup([buttons])
    return InlineKeyboardMarkup([[button] for button in buttons])


def _toggle_keyboard(prompt: dict[str, Any], case_id: str, signer: ButtonSigner, done_label: str, selection: int) -> InlineKeyboardMarkup:
    step = int(prompt["step"])
    options = prompt.get("options") or []
    limit = BUTTON_LABEL_LIMIT - len(TICKED) - 1  # the tick and its space count against the label
    numbered = _has_long_label(options, limit)
    rows = [
        [InlineKeyboardButton(
            f"{TICKED if selection >> index & 1 else UNTICKED} {_button_label(index + 1, str(option['label']), numbered, limit)}",
            callback_data=signer.encode_toggle(case_id, step, selection, index),
        )]
        for index, option in enumerate(options)
    ]
    rows.append([InlineKeyboardButton(done_label, callback_data=signer.encode_toggle(case_id, step, selection, None))])
    return InlineKeyboardMarkup(rows)


def text_for(text: str, prompt: dict[str, Any] | None) -> str:
    """A multi-choice question's options are listed in full, with the hint to type their numbers:
    its toggle buttons may show only the beginning of a label, and typing always works. So are a
    choice's options when one is too long for its button, which then shows only the beginning."""
    if not prompt:
        return text
    listed = prompt.get("options") or []
    if prompt.get("type") == "multi_choice":
        hint = str(prompt.get("hint") or "")
    elif prompt.get("type") == "choice" and _has_long_label(listed):
        hint = ""
    else:
        return text
    options = [f"{number}. {option['label']}" for number, option in enumerate(listed, start=1)]
    return "\n".join([text, "", *options, hint]).rstrip()


# Telegram draws a button one line high and cuts a long label off at the screen's edge; a risk
# option whose end ("... a P0 flag is open") falls off must not be mistaken for another. Past
# this length the full labels are listed in the message and the buttons are numbered to match.
BUTTON_LABEL_LIMIT = 40


def _has_long_label(options: list[dict[str, Any]], limit: int = BUTTON_LABEL_LIMIT) -> bool:
    return any(len(str(option["label"])) > limit for option in options)


def _button_label(number: int, label: str, numbered: bool, limit: int = BUTTON_LABEL_LIMIT) -> str:
    if not numbered:
        return label
    text = f"{number}. {label}"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def alert_keyboard(alert_code: str, signer: ButtonSigner, labels: tuple[str, str]) -> InlineKeyboardMarkup:
    take, view = labels
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(take, callback_data=signer.encode_alert("take", alert_code)),
        InlineKeyboardButton(view, callback_data=signer.encode_alert("view", alert_code)),
    ]])
