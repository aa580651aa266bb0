"""A multi-choice question on Telegram: toggle buttons that live in the keyboard, and Done.

Tapping an option only redraws the keyboard (the selection travels in the buttons' data); Done
answers with the ticked options as one answer, exactly as typing their numbers would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.i18n import translator
from storage.models import CaseSession, EventRecord, OutboxMessage, ProcessedUpdate
from tests.telegram.harness import VOLUNTEER, Harness, running_bot

NEEDS_FLOW = """\
spec_version: 1
id: protocol
revision: 1
title: Needs screen
start: needs
nodes:
  needs:
    ask: multi_choice
    text: What does the caller need?
    options:
      safety: Safety or evacuation
      legal: Legal aid
      shelter: Shelter
      medical: Medical care
    next: note
  note:
    ask: text
    text: Note in a few words.
    next: done
  done:
    end: completed
    text: Screen complete.
"""

# The options as a volunteer reads them: the flow's English, through the shipped catalog.
SAFETY, LEGAL, SHELTER, MEDICAL = (translator("id").text(label) for label in ("Safety or evacuation", "Legal aid", "Shelter", "Medical care"))
NOT_VALID = "Tombol ini sudah tidak berlaku."
EARLIER = "Tombol ini milik pertanyaan sebelumnya."


def run(tmp_path: Path, scenario: Any, language: str = "id") -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "protocol.yaml").write_text(NEEDS_FLOW, encoding="utf-8")

    async def main() -> None:
        async with running_bot(tmp_path, flows_dir=flows, language=language) as bot:
            await scenario(bot)

    asyncio.run(main())


def stored(bot: Harness) -> tuple[Any, ...]:
    """Everything a step or a recorded update changes: the case's state and version, the event
    log, the outbox and the handled updates."""
    with bot.database.transaction() as session:
        case = session.scalars(select(CaseSession)).one()
        counts = [session.scalar(select(func.count()).select_from(model)) for model in (EventRecord, OutboxMessage, ProcessedUpdate)]
        return (case.version, case.state["step"], case.state["node"], dict(case.state["answers"]), *counts)


def answers_recorded(bot: Harness) -> list[dict[str, Any]]:
    with bot.database.transaction() as session:
        return [event.payload for event in session.scalars(select(EventRecord).where(EventRecord.type == "answer_recorded"))]


async def open_needs(bot: Harness, language: str = "id") -> int:
    """/new, up to the multi-choice question; returns the question's message id."""
    await bot.say(VOLUNTEER, "/new", language)
    await bot.until(lambda: any((m.get("reply_markup") or {}).get("inline_keyboard") for m in bot.api.sent(VOLUNTEER)))
    message_id, _labels, _data = bot.last_keyboard(VOLUNTEER)
    return message_id


def labels_of(bot: Harness, message_id: int) -> list[str]:
    message = next(m for m in bot.api.sent(VOLUNTEER) if m["message_id"] == message_id)
    return [button["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for button in row]


def test_taps_redraw_the_keyboard_and_store_nothing_then_done_answers_once(tmp_path: Path) -> None:
    async def scenario(bot: Harness) -> None:
        question = await open_needs(bot)
        assert labels_of(bot, question) == [f"☐ {SAFETY}", f"☐ {LEGAL}", f"☐ {SHELTER}", f"☐ {MEDICAL}", "Selesai"]
        text = next(m["text"] for m in bot.api.sent(VOLUNTEER) if m["message_id"] == question)
        assert f"1. {SAFETY}\n2. {LEGAL}\n3. {SHELTER}\n4. {MEDICAL}" in text  # still listed in full
        before = stored(bot)

        for tap in (f"☐ {LEGAL}", f"☐ {SHELTER}", f"☐ {MEDICAL}", f"☑ {SHELTER}"):
            edits = len(bot.api.calls_to("editMessageReplyMarkup"))
            await bot.press(VOLUNTEER, tap)
            assert len(bot.api.calls_to("editMessageReplyMarkup")) == edits + 1
            assert bot.api.callback_answers[-1].get("text") is None
        assert labels_of(bot, question) == [f"☐ {SAFETY}", f"☑ {LEGAL}", f"☐ {SHELTER}", f"☑ {MEDICAL}", "Selesai"]
        assert stored(bot) == before  # no step ran, no event, no message, not even the update ids
        assert answers_recorded(bot) == []
        _, _, stale_data = bot.last_keyboard(VOLUNTEER)

        sent = len(bot.api.sent(VOLUNTEER))
        await bot.press(VOLUNTEER, "Selesai")
        await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > sent)
        assert answers_recorded(bot) == [{"node": "needs", "value": ["legal", "medical"]}]
        assert stored(bot)[2:4] == ("note", {"needs": ["legal", "medical"]})
        assert labels_of(bot, question) == []  # the keyboard went, like any answered question's
        assert translator("id").text("Note in a few words.") in bot.api.texts(VOLUNTEER)[-1]

        # The same keyboard's buttons again, as if it had not gone: Done and a tap are both stale.
        after = stored(bot)
        edits = len(bot.api.calls_to("editMessageReplyMarkup"))
        for data in (stale_data[-1], stale_data[0]):
            await bot.send(bot.api.callback_update(VOLUNTEER, data, question))
        assert [answer.get("text") for answer in bot.api.callback_answers[-2:]] == [EARLIER, EARLIER]
        assert len(bot.api.calls_to("editMessageReplyMarkup")) == edits
        assert stored(bot) == after

    run(tmp_path, scenario)


def test_done_with_nothing_ticked_only_gets_a_note(tmp_path: Path) -> None:
    async def scenario(bot: Harness) -> None:
        question = await open_needs(bot)
        before = stored(bot)
        await bot.press(VOLUNTEER, "Selesai")
        assert bot.api.callback_answers[-1].get("text") == "Centang setidaknya satu pilihan dulu, lalu tekan Selesai."
        assert bot.api.calls_to("editMessageReplyMarkup") == []
        assert labels_of(bot, question)[-1] == "Selesai"
        assert stored(bot) == before and answers_recorded(bot) == []

        # Ticked and unticked again: Done is back to nothing ticked.
        await bot.press(VOLUNTEER, f"☐ {SHELTER}")
        await bot.press(VOLUNTEER, f"☑ {SHELTER}")
        await bot.press(VOLUNTEER, "Selesai")
        assert bot.api.callback_answers[-1].get("text") == "Centang setidaknya satu pilihan dulu, lalu tekan Selesai."
        assert stored(bot) == before and answers_recorded(bot) == []

    run(tmp_path, scenario)


def test_forged_and_altered_toggles_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async def scenario(bot: Harness) -> None:
        question = await open_needs(bot)
        await bot.press(VOLUNTEER, f"☐ {LEGAL}")
        shown = labels_of(bot, question)
        _, _, data = bot.last_keyboard(VOLUNTEER)
        before = stored(bot)
        edits = len(bot.api.calls_to("editMessageReplyMarkup"))
        tap, done = data[0], data[-1]
        assert done.split(":")[3] == "2"  # Legal aid (answer number 1) ticked: bit 1
        forged = [
            done.replace(":2:d:", ":f:d:"),  # Done with every option ticked, under the old signature
            tap.replace(":2:0:", ":2:3:"),  # another option
            tap[:-3] + "AAA",  # another signature
            done.replace(":d:", ":0:"),  # Done made into a tap
            "m:" + "x" * 40,
        ]
        for item in forged:
            await bot.send(bot.api.callback_update(VOLUNTEER, item, question))
        assert [answer.get("text") for answer in bot.api.callback_answers[-len(forged):]] == [NOT_VALID] * len(forged)
        assert len(bot.api.calls_to("editMessageReplyMarkup")) == edits
        assert labels_of(bot, question) == shown
        assert stored(bot) == before and answers_recorded(bot) == []

    run(tmp_path, scenario)


def test_typed_numbers_still_answer_a_multi_choice_question(tmp_path: Path) -> None:
    async def scenario(bot: Harness) -> None:
        await open_needs(bot)
        await bot.press(VOLUNTEER, f"☐ {SHELTER}")  # a tap first: typing wins over the keyboard's selection
        sent = len(bot.api.sent(VOLUNTEER))
        await bot.say(VOLUNTEER, "4, 1")
        await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > sent)
        assert answers_recorded(bot) == [{"node": "needs", "value": ["medical", "safety"]}]

        # A keyboard left on the answered question (as if it were still shown) is now stale.
        before = stored(bot)
        await bot.press(VOLUNTEER, "Selesai")
        assert bot.api.callback_answers[-1].get("text") == EARLIER
        assert stored(bot) == before

    run(tmp_path, scenario)


def test_the_done_button_is_in_the_case_language(tmp_path: Path) -> None:
    async def scenario(bot: Harness) -> None:
        question = await open_needs(bot, "en")
        assert labels_of(bot, question)[-1] == "Done"
        await bot.press(VOLUNTEER, "☐ Safety or evacuation", "en")
        assert labels_of(bot, question) == ["☑ Safety or evacuation", "☐ Legal aid", "☐ Shelter", "☐ Medical care", "Done"]
        await bot.press(VOLUNTEER, "☑ Safety or evacuation", "en")
        await bot.press(VOLUNTEER, "Done", "en")
        assert bot.api.callback_answers[-1].get("text") == "Tick at least one option first, then press Done."

    run(tmp_path, scenario, language="en")
