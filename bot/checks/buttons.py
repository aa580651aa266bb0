"""Question buttons whose callback data Telegram would refuse (over 64 bytes)."""

from __future__ import annotations

from bot import callback_data
from bot.checks.report import CheckWarning
from bot.engine import Flow
from bot.engine.flow import InputType

__all__ = ["callback_findings"]

# Questions answered by pressing a button; several answers at once are typed as numbers instead.
BUTTON_INPUTS = (InputType.CHOICE, InputType.YES_NO)


def callback_findings(flow: Flow, path: str = "") -> list[CheckWarning]:
    """The first option of each question whose button data can exceed the limit, at the worst step.

    Only an answer's number comes from the flow, so it is a question with very many options that
    can reach the limit, or a change to the data's layout; keys and labels never travel in it.
    """
    found: list[CheckWarning] = []
    for node in flow.nodes.values():
        if node.input is None or node.input.type not in BUTTON_INPUTS:
            continue
        for number, option in enumerate(node.input.options):
            size = callback_data.option_data_size(number)
            if size > callback_data.CALLBACK_LIMIT:
                message = (
                    f"the button of option '{option.key}' (answer {number + 1}) carries up to {size} bytes of "
                    f"callback data, over Telegram's {callback_data.CALLBACK_LIMIT}: the question's keyboard would be refused"
                )
                found.append(CheckWarning(node.file or path, option.line or node.line, node.id, message))
                break  # every later answer's number is at least as long
    return found
