"""Prints outbox messages: the volunteer's plainly, supervisors' alerts on `[supervisor]` lines."""

from __future__ import annotations

from typing import Any, TextIO

from bot.i18n import N_, Translator
from storage import Delivery

__all__ = ["ConsoleSender"]


class ConsoleSender:
    def __init__(self, out: TextIO, translator: Translator) -> None:
        self.out = out
        self.translator = translator
        self.prompt: dict[str, Any] | None = None

    def send(self, delivery: Delivery) -> None:
        if delivery.recipient.startswith("volunteer:"):
            self._volunteer(delivery.payload)
        else:
            for line in str(delivery.payload.get("text", "")).splitlines():
                self.out.write(f"[supervisor] {line}\n")
        self.out.flush()

    def _volunteer(self, payload: dict[str, Any]) -> None:
        self.out.write(str(payload.get("text", "")) + "\n")
        prompt = payload.get("prompt")
        if prompt:
            self.prompt = prompt
            for number, option in enumerate(prompt.get("options") or [], start=1):
                self.out.write(f"  {number}. {option['label']}\n")
            if prompt.get("hint"):
                self.out.write(str(prompt["hint"]) + "\n")
            elif prompt.get("type") == "number":
                self.out.write(self.translator.text(N_("(Type a number.)")) + "\n")
            elif prompt.get("type") == "text":
                self.out.write(self.translator.text(N_("(Type your answer.)")) + "\n")
        self.out.write("\n")
