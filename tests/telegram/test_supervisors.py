"""Supervisors on Telegram: alerts with Take and View buttons, copies edited, relay, queue, resolve."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.cases import utcnow
from storage import add_member, schedule_follow_up
from storage.models import CaseSession
from tests.telegram.harness import SUPERVISOR, VOLUNTEER, Harness, running_bot

BACKUP = SUPERVISOR + 1


GROUP = -1001234567890


def run(tmp_path, scenario, **options):
    async def main() -> None:
        async with running_bot(tmp_path, **options) as bot:
            with bot.database.transaction() as session:
                add_member(session, telegram_user_id=BACKUP, role="supervisor", display_name="Tono", now=utcnow())
            await scenario(bot)

    asyncio.run(main())


def keyboards(bot: Harness) -> int:
    return sum(bool((m.get("reply_markup") or {}).get("inline_keyboard")) for m in bot.api.sent(VOLUNTEER))


async def raise_p0(bot: Harness) -> None:
    await bot.say(VOLUNTEER, "/new")
    await bot.until(lambda: keyboards(bot) >= 1)
    before = len(bot.api.sent(VOLUNTEER))
    await bot.press(VOLUNTEER, "Ya")  # safe to talk
    await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > before and keyboards(bot) >= 1)
    before = len(bot.api.sent(VOLUNTEER))
    await bot.press(VOLUNTEER, "Ya")  # in danger now: P0
    await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > before)


def alert_buttons(bot: Harness, chat: int) -> tuple[int, dict[str, str]]:
    for message in reversed(bot.api.sent(chat)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        if rows:
            return message["message_id"], {button["text"]: button["callback_data"] for button in rows[0]}
    raise AssertionError("no alert with buttons")


def test_on_call_supervisors_take_an_alert_and_everyone_sees_who(tmp_path):
    async def scenario(bot: Harness) -> None:
        for supervisor in (SUPERVISOR, BACKUP):
            await bot.say(supervisor, "/oncall on")
        await bot.until(lambda: bot.api.texts(SUPERVISOR) and bot.api.texts(BACKUP))
        await raise_p0(bot)
        await bot.until(lambda: any(t.startswith("🚨 Peringatan P0") for t in bot.api.texts(SUPERVISOR)))
        await bot.until(lambda: any(t.startswith("🚨 Peringatan P0") for t in bot.api.texts(BACKUP)))
        message_id, buttons = alert_buttons(bot, SUPERVISOR)
        assert set(buttons) == {"Ambil kasus", "Lihat ringkasan"}
        backup_message, backup_buttons = alert_buttons(bot, BACKUP)  # before the Take edits this copy
        await bot.send(bot.api.callback_update(SUPERVISOR, buttons["Ambil kasus"], message_id))
        await bot.send(bot.api.callback_update(BACKUP, backup_buttons["Ambil kasus"], backup_message))
        answers = [answer.get("text") or "" for answer in bot.api.callback_answers]
        assert answers[-2].startswith("Anda memegang kasus K-") and answers[-1] == "Sudah diambil oleh Sari."
        # Both copies are edited to say who took it, and lose their buttons.
        await bot.until(lambda: all("✅" in m["text"] and not (m.get("reply_markup") or {}).get("inline_keyboard")
                                    for chat in (SUPERVISOR, BACKUP) for m in bot.api.sent(chat) if m["text"].startswith("🚨")))
        await bot.until(lambda: any(t.startswith("Sari telah mengambil kasus") for t in bot.api.texts(VOLUNTEER)))

    run(tmp_path, scenario)


def test_relay_queue_and_resolve(tmp_path):
    async def scenario(bot: Harness) -> None:
        await bot.say(SUPERVISOR, "/oncall on")
        await raise_p0(bot)
        await bot.until(lambda: any(t.startswith("🚨") for t in bot.api.texts(SUPERVISOR)))
        message_id, buttons = alert_buttons(bot, SUPERVISOR)
        code = bot.api.texts(SUPERVISOR)[-1].split()[3]
        await bot.say(SUPERVISOR, "/queue")
        await bot.until(lambda: any(t.startswith("Eskalasi terbuka") for t in bot.api.texts(SUPERVISOR)))
        assert f"P0 {code}" in bot.api.texts(SUPERVISOR)[-1]
        await bot.send(bot.api.callback_update(SUPERVISOR, buttons["Lihat ringkasan"], message_id))
        await bot.until(lambda: any(t.startswith(f"Peringatan {code}") for t in bot.api.texts(SUPERVISOR)))
        await bot.send(bot.api.callback_update(SUPERVISOR, buttons["Ambil kasus"], message_id))
        await bot.say(SUPERVISOR, f"/msg {code} Telepon 112 sekarang.")
        await bot.until(lambda: "💬 Sari: Telepon 112 sekarang." in bot.api.texts(VOLUNTEER))
        await bot.say(VOLUNTEER, "/msg Polisi sudah dalam perjalanan.")
        await bot.until(lambda: any("Polisi sudah dalam perjalanan." in t for t in bot.api.texts(SUPERVISOR)))
        await bot.say(SUPERVISOR, f"/resolve {code} polisi menangani")
        await bot.until(lambda: any(t.startswith(f"Sari menutup peringatan {code}") for t in bot.api.texts(VOLUNTEER)))
        await bot.say(VOLUNTEER, "/queue")  # volunteers cannot see the queue
        await bot.until(lambda: "tidak dikenal" in bot.api.texts(VOLUNTEER)[-1])

    run(tmp_path, scenario)


def test_the_supervisors_group_gets_a_copy_and_a_supervisor_can_take_it_there(tmp_path):
    async def scenario(bot: Harness) -> None:
        await bot.say(SUPERVISOR, "/oncall on")
        await raise_p0(bot)
        await bot.until(lambda: any(t.startswith("🚨 Peringatan P0") for t in bot.api.texts(GROUP)))
        message_id, buttons = alert_buttons(bot, GROUP)
        await bot.send(bot.api.callback_update(VOLUNTEER, buttons["Ambil kasus"], message_id, chat_id=GROUP))
        await bot.send(bot.api.callback_update(BACKUP, buttons["Ambil kasus"], message_id, chat_id=GROUP))
        answers = [answer.get("text") or "" for answer in bot.api.callback_answers]
        assert answers[-1].startswith("Anda memegang kasus K-")  # the volunteer's press was ignored
        await bot.until(lambda: any(t.startswith("Tono telah mengambil kasus") for t in bot.api.texts(VOLUNTEER)))
        await bot.until(lambda: all("✅" in m["text"] for m in bot.api.sent(GROUP) if m["text"].startswith("🚨")))

    run(tmp_path, scenario, group=GROUP)


def test_a_follow_up_falling_due_reaches_the_volunteer_and_the_supervisor_on_call(tmp_path):
    async def scenario(bot: Harness) -> None:
        await bot.say(SUPERVISOR, "/oncall on")
        await bot.say(VOLUNTEER, "/new")
        await bot.until(lambda: bot.api.texts(VOLUNTEER))
        with bot.database.transaction() as session:
            case = session.scalars(select(CaseSession)).one()
            schedule_follow_up(session, case, kind="callback", due_at=utcnow() - timedelta(seconds=1), now=utcnow())
            code = case.case_code
        # The sweeper runs once a second.
        await bot.until(lambda: any(t.startswith(f"⏰ Kasus {code}: telepon balik") for t in bot.api.texts(VOLUNTEER)))
        await bot.until(lambda: any(t.startswith(f"⏰ Kasus {code}") and "relawan sudah diingatkan" in t for t in bot.api.texts(SUPERVISOR)))
        await asyncio.sleep(1.5)  # another sweep or two: no second reminder
        assert len([t for t in bot.api.texts(VOLUNTEER) if t.startswith(f"⏰ Kasus {code}")]) == 1

    run(tmp_path, scenario)
