"""Question buttons whose callback data Telegram would refuse (over 64 bytes), and multi-choice
questions with more options than a toggle keyboard carries."""

from __future__ import annotations

from bot import callback_data
from bot.checks.report import CheckWarning
from bot.engine import Flow
from bot.engine.flow import InputType

__all__ = ["callback_findings"]

# Questions answered by pressing one button.
BUTTON_INPUTS = (InputType.CHOICE, InputType.YES_NO)


def callback_findings(flow: Flow, path: str = "") -> list[CheckWarning]:
    """The first option of each question whose button data can exceed the limit, at the worst step;
    each multi-choice question whose toggle keyboard can exceed it, or that has too many options
    for one and is answered by typing numbers only.

    Only answers' numbers come from the flow, so it is a question with very many options that can
    reach the limit, or a change to the data's layout; keys and labels never travel in it.
    """
    found: list[CheckWarning] = []
    for node in flow.nodes.values():
        if node.input is None:
            continue
        if node.input.type is InputType.MULTI_CHOICE:
            found.extend(_toggle_findings(node.id, node.file or path, node.line, len(node.input.options)))
            continue
        if node.input.type not in BUTTON_INPUTS:
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


def _toggle_findings(node: str, file: str, line: int, options: int) -> list[CheckWarning]:
    if options > callback_data.MULTI_CHOICE_OPTIONS:
        message = (
            f"the multi-choice question has {options} options, more than the {callback_data.MULTI_CHOICE_OPTIONS} "
            "a toggle keyboard carries: it gets no buttons and is answered by typing numbers only"
        )
        return [CheckWarning(file, line, node, message)]
    size = callback_data.multi_choice_worst_size(options)
    if size > callback_data.CALLBACK_LIMIT:
        message = (
            f"the toggle buttons of the multi-choice question carry up to {size} bytes of callback data, "
            f"over Telegram's {callback_data.CALLBACK_LIMIT}: the question's keyboard would be refused"
        )
        return [CheckWarning(file, line, node, message)]
    return []
