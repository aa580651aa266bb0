"""/reload on Telegram: a supervisor puts a changed flow to use without a restart. New cases start on
the new revision, a case already open finishes on its own, and a broken change is refused and
changes nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.cases import utcnow
from storage import add_member
from storage.models import CaseSession
from tests.flowdir import INTRO_R1, INTRO_R2, break_a_route, change_the_intro, copy_flows, set_revision
from tests.telegram.harness import SUPERVISOR, VOLUNTEER, Harness, running_bot

SECOND_VOLUNTEER = VOLUNTEER + 1


def has_keyboard(bot: Harness, chat: int) -> bool:
    return any((message.get("reply_markup") or {}).get("inline_keyboard") for message in bot.api.sent(chat))


async def reply_to(bot: Harness, chat: int, text: str) -> str:
    """Send `text` as `chat` and return the bot's next message."""
    before = len(bot.api.sent(chat))
    await bot.say(chat, text)
    await bot.until(lambda: len(bot.api.sent(chat)) > before)
    return bot.api.texts(chat)[before]


async def open_case(bot: Harness, chat: int) -> str:
    """/new, up to the first question; returns everything the case has shown so far."""
    before = len(bot.api.sent(chat))
    await bot.say(chat, "/new")
    await bot.until(lambda: any((m.get("reply_markup") or {}).get("inline_keyboard") for m in bot.api.sent(chat)[before:]))
    return "\n".join(bot.api.texts(chat)[before:])


async def finish_cannot_talk_safely(bot: Harness) -> None:
    """The rest of the safe-contact path, from its first question to the end of the case."""
    for press in ("Tidak", "Tidak", "Ya"):
        before = len(bot.api.sent(VOLUNTEER))
        await bot.press(VOLUNTEER, press)
        await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > before)
    for typed in ("2", "20", "2", "caller_ended"):
        await reply_to(bot, VOLUNTEER, typed)


def cases(bot: Harness, volunteer: int) -> list[tuple[int, str]]:
    """A volunteer's cases, oldest first: the flow revision each runs on, and its status."""
    with bot.database.transaction() as session:
        found = session.scalars(select(CaseSession).order_by(CaseSession.created_at)).all()
        return [(case.flow_revision, case.status) for case in found if case.volunteer.endswith(str(volunteer))]


def test_a_supervisor_reloads_a_changed_flow_and_open_cases_finish_on_their_revision(tmp_path):
    flows = copy_flows(tmp_path)

    async def scenario(bot: Harness) -> None:
        with bot.database.transaction() as session:
            add_member(session, telegram_user_id=SECOND_VOLUNTEER, role="volunteer", display_name="Budi", now=utcnow())
        assert INTRO_R1 in await open_case(bot, VOLUNTEER)

        # The maintainer changes the flow and raises its revision; nothing changes until /reload.
        set_revision(flows, 2)
        change_the_intro(flows)
        assert (await reply_to(bot, VOLUNTEER, "/reload")).startswith("Perintah tidak dikenal.")
        answer = await reply_to(bot, SUPERVISOR, "/reload")
        assert answer.startswith("Alur protokol dimuat ulang: protocol r1 -> r2. Kasus baru memakai revisi baru"), answer

        # A new case starts on r2 and shows the new words; the open one goes on and ends on r1.
        shown = await open_case(bot, SECOND_VOLUNTEER)
        assert INTRO_R2 in shown and INTRO_R1 not in shown
        await finish_cannot_talk_safely(bot)
        assert "ditutup." in bot.api.texts(VOLUNTEER)[-1]
        assert cases(bot, VOLUNTEER) == [(1, "ended")]
        assert cases(bot, SECOND_VOLUNTEER) == [(2, "active")]

        # A broken change is refused with the reason; r2 keeps serving.
        set_revision(flows, 3)
        break_a_route(flows)
        answer = await reply_to(bot, SUPERVISOR, "/reload")
        assert answer.startswith("Muat ulang ditolak; yang berjalan tetap protocol r2. Alasannya:"), answer
        assert "flows/protocol/00_opening.yaml" in answer and "consent_nowhere" in answer
        shown = await open_case(bot, VOLUNTEER)
        assert INTRO_R2 in shown
        assert cases(bot, VOLUNTEER) == [(1, "ended"), (2, "active")]

    async def main() -> None:
        async with running_bot(tmp_path, flows_dir=flows) as bot:
            await scenario(bot)

    asyncio.run(main())


def test_supervisors_see_reload_in_their_help(tmp_path):
    async def scenario(bot: Harness) -> None:
        assert "/reload" in await reply_to(bot, SUPERVISOR, "/help")
        assert "/reload" not in await reply_to(bot, VOLUNTEER, "/help")

    async def main() -> None:
        async with running_bot(tmp_path) as bot:
            await scenario(bot)

    asyncio.run(main())
