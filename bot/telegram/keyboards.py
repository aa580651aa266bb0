"""Inline keyboards and their callback data, bound to one case and one step.

Callback data must fit Telegram's 64 bytes and comes back from the client unchecked, so it carries
a short HMAC: a forged or altered button is recognised and never applied, and a button from an
earlier step is recognised by its step number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callback_data import CALLBACK_LIMIT, OPTION_PREFIX

__all__ = ["BUTTON_LABEL_LIMIT", "ButtonPress", "CALLBACK_LIMIT", "ALERT_ACTIONS", "ButtonSigner", "alert_keyboard", "keyboard_for", "text_for"]

# Supervisor buttons on an alert: take the case, or see its summary.
ALERT_ACTIONS = ("take", "view")

# One layout for the keyboards and for `flows check` (see bot/callback_data.py).
PREFIX = OPTION_PREFIX


@dataclass(frozen=True)
class ButtonPress:
    case_prefix: str
    step: int
    option: int


class ButtonSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, case_id: str, step: int, option: int) -> str:
        digest = hmac.new(self._secret, f"{case_id}:{step}:{option}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:9]).decode()

    def encode(self, case_id: str, step: int, option: int) -> str:
        data = f"{PREFIX}:{case_id[:8]}:{step}:{option}:{self._signature(case_id, step, option)}"
        assert len(data.encode()) <= CALLBACK_LIMIT, data
        return data

    def encode_alert(self, action: str, alert_code: str) -> str:
        digest = hmac.new(self._secret, f"alert:{action}:{alert_code}".encode(), hashlib.sha256).digest()
        return f"a:{ALERT_ACTIONS.index(action)}:{alert_code}:{base64.urlsafe_b64encode(digest[:9]).decode()}"

    def decode_alert(self, data: str | None) -> tuple[str, str] | None:
        """(action, alert code) of an untampered alert button, otherwise None."""
        parts = (data or "").split(":")
        if len(parts) != 4 or parts[0] != "a" or parts[1] not in ("0", "1"):
            return None
        action = ALERT_ACTIONS[int(parts[1])]
        return (action, parts[2]) if hmac.compare_digest(self.encode_alert(action, parts[2]), data or "") else None

    def decode(self, data: str | None, case_id: str) -> ButtonPress | None:
        """The press, if the data is ours, for this case, and unaltered; otherwise None."""
        parts = (data or "").split(":")
        if len(parts) != 5 or parts[0] != PREFIX or not parts[2].isdigit() or not parts[3].isdigit():
            return None
        step, option = int(parts[2]), int(parts[3])
        if parts[1] != case_id[:8] or not hmac.compare_digest(parts[4], self._signature(case_id, step, option)):
            return None
        return ButtonPress(parts[1], step, option)


def keyboard_for(prompt: dict[str, Any] | None, case_id: str, signer: ButtonSigner) -> InlineKeyboardMarkup | None:
    """Buttons for a choice or yes/no question; several answers at once are typed as numbers instead."""
    if not prompt or prompt.get("type") not in ("choice", "yes_no"):
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


def text_for(text: str, prompt: dict[str, Any] | None) -> str:
    """A question answered by typing several numbers has no keyboard: its options are listed. So are
    a choice's options when one is too long for its button, which then shows only the beginning."""
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


def _has_long_label(options: list[dict[str, Any]]) -> bool:
    return any(len(str(option["label"])) > BUTTON_LABEL_LIMIT for option in options)


def _button_label(number: int, label: str, numbered: bool) -> str:
    if not numbered:
        return label
    text = f"{number}. {label}"
    return text if len(text) <= BUTTON_LABEL_LIMIT else text[: BUTTON_LABEL_LIMIT - 1].rstrip() + "…"


def alert_keyboard(alert_code: str, signer: ButtonSigner, labels: tuple[str, str]) -> InlineKeyboardMarkup:
    take, view = labels
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(take, callback_data=signer.encode_alert("take", alert_code)),
        InlineKeyboardButton(view, callback_data=signer.encode_alert("view", alert_code)),
    ]])
