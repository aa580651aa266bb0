"""The Telegram adapter with python-telegram-bot's real request code against the fake Bot API."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from storage.models import CaseSession, EventRecord, Member, OutboxMessage, ProcessedUpdate
from tests.telegram.harness import STRANGER, SUPERVISOR, VOLUNTEER, Harness, running_bot


def run(tmp_path, scenario, **options):
    async def main() -> None:
        async with running_bot(tmp_path, **options) as bot:
            await scenario(bot)

    asyncio.run(main())


def unsent(bot: Harness) -> int:
    with bot.database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))) or 0)


def count(bot: Harness, model) -> int:
    with bot.database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_command_menus_are_set_per_language(tmp_path):
    async def scenario(bot: Harness) -> None:
        assert bot.api.commands_for("id")[0] == {"command": "new", "description": "Buka kasus baru"}
        assert bot.api.commands_for("en")[0] == {"command": "new", "description": "Open a new case"}

    run(tmp_path, scenario)


def test_a_stranger_gets_public_numbers_in_their_language_and_nothing_is_stored(tmp_path):
    async def scenario(bot: Harness) -> None:
        members_before = count(bot, Member)
        await bot.say(STRANGER, "halo, tolong", language="id")
        await bot.say(STRANGER + 1, "hello", language="en")
        await bot.until(lambda: bot.api.texts(STRANGER) and bot.api.texts(STRANGER + 1))
        assert "SAPA 129" in bot.api.texts(STRANGER)[0] and bot.api.texts(STRANGER)[0].startswith("Bot ini")
        assert bot.api.texts(STRANGER + 1)[0].startswith("This bot is for trained hotline volunteers")
        await bot.say(STRANGER, "halo lagi")  # within the window: no second reply
        await asyncio.sleep(0.2)
        assert len(bot.api.texts(STRANGER)) == 1
        assert count(bot, Member) == members_before
        assert count(bot, CaseSession) == count(bot, OutboxMessage) == count(bot, ProcessedUpdate) == 0

    run(tmp_path, scenario)


def walk_cannot_talk_safely(bot: Harness, language: str):
    """The safe-contact conversation, by buttons and typed answers; returns when the case closes."""
    async def walk() -> None:
        await bot.say(VOLUNTEER, "/new", language)
        await bot.until(lambda: any((m.get("reply_markup") or {}).get("inline_keyboard") for m in bot.api.sent(VOLUNTEER)))
        no = "Tidak" if language == "id" else "No"
        yes = "Ya" if language == "id" else "Yes"
        for press in (no, no, yes):
            before = len(bot.api.sent(VOLUNTEER))
            await bot.press(VOLUNTEER, press, language)
            await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > before)
        for typed in ("2", "20", "2"):  # callback method (choice 2), hours, continue: no
            before = len(bot.api.sent(VOLUNTEER))
            await bot.say(VOLUNTEER, typed, language)
            await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > before)
        before = len(bot.api.sent(VOLUNTEER))
        await bot.say(VOLUNTEER, "caller_ended", language)
        await bot.until(lambda: len(bot.api.sent(VOLUNTEER)) > before)
    return walk


def test_a_whole_conversation_in_indonesian_with_an_alert_to_the_supervisor(tmp_path):
    async def scenario(bot: Harness) -> None:
        await walk_cannot_talk_safely(bot, "id")()
        texts = "\n".join(bot.api.texts(VOLUNTEER))
        assert "Kasus baru K-" in texts and "ditutup." in bot.api.texts(VOLUNTEER)[-1]
        alerts = bot.api.texts(SUPERVISOR)
        assert len(alerts) == 1 and alerts[0].startswith("🚨 Peringatan P1")
        assert "Relawan: Ayu" in alerts[0]

    run(tmp_path, scenario)


def test_a_whole_conversation_in_english(tmp_path):
    async def scenario(bot: Harness) -> None:
        await walk_cannot_talk_safely(bot, "en")()
        assert "is closed." in bot.api.texts(VOLUNTEER)[-1]
        assert bot.api.texts(SUPERVISOR)[0].startswith("🚨 P1 alert")

    run(tmp_path, scenario, language="en")


def test_a_pressed_keyboard_is_removed_and_a_stale_or_forged_button_changes_nothing(tmp_path):
    async def scenario(bot: Harness) -> None:
        await bot.say(VOLUNTEER, "/new")
        await bot.until(lambda: any((m.get("reply_markup") or {}).get("inline_keyboard") for m in bot.api.sent(VOLUNTEER)))
        message_id, labels, data = bot.last_keyboard(VOLUNTEER)
        await bot.press(VOLUNTEER, "Ya")
        await bot.until(lambda: len(bot.api.calls_to("editMessageReplyMarkup")) == 1)
        pressed = next(m for m in bot.api.sent(VOLUNTEER) if m["message_id"] == message_id)
        assert not (pressed.get("reply_markup") or {}).get("inline_keyboard")
        with bot.database.transaction() as session:
            steps = session.scalar(select(CaseSession.version))
        # The old button again (as if the keyboard had not gone), then a forged one.
        await bot.send(bot.api.callback_update(VOLUNTEER, data[1], message_id))
        forged = data[0][:-3] + "AAA"
        await bot.send(bot.api.callback_update(VOLUNTEER, forged, message_id))
        await bot.send(bot.api.callback_update(VOLUNTEER, "x" * 40, message_id))
        answers = [answer.get("text") for answer in bot.api.callback_answers]
        assert answers[1] == "Tombol ini milik pertanyaan sebelumnya."
        assert answers[2:] == ["Tombol ini sudah tidak berlaku."] * 2
        with bot.database.transaction() as session:
            assert session.scalar(select(CaseSession.version)) == steps

    run(tmp_path, scenario)


def test_a_repeated_update_id_is_processed_once(tmp_path):
    async def scenario(bot: Harness) -> None:
        update = bot.api.message_update(VOLUNTEER, "/new", update_id=777)
        await bot.send(update)
        await bot.send(update)
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) >= 1)
        await asyncio.sleep(0.2)
        assert count(bot, CaseSession) == 1
        help_update = bot.api.message_update(VOLUNTEER, "/help", update_id=778)
        await bot.send(help_update)
        await bot.send(help_update)
        await asyncio.sleep(0.3)
        assert sum(text.startswith("Jawab dengan tombol") for text in bot.api.texts(VOLUNTEER)) == 1

    run(tmp_path, scenario)


def test_other_kinds_of_update_get_a_polite_answer_and_change_nothing(tmp_path):
    async def scenario(bot: Harness) -> None:
        await bot.say(VOLUNTEER, "/new")
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) >= 1)
        with bot.database.transaction() as session:
            before = session.scalar(select(CaseSession.state))
        for update in (
            bot.api.sticker_update(VOLUNTEER),
            bot.api.photo_update(VOLUNTEER),
            bot.api.voice_update(VOLUNTEER),
            bot.api.edited_message_update(VOLUNTEER, "ya", 1),
            bot.api.forwarded_update(VOLUNTEER, "ya"),
        ):
            await bot.send(update)
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) >= 6)
        replies = bot.api.texts(VOLUNTEER)[1:]
        assert sum("Tidak ada yang dicatat" in text for text in replies) == 3
        assert any("Pesan yang diedit tidak dibaca" in text for text in replies)
        assert any("Pesan yang diteruskan tidak dibaca" in text for text in replies)
        await bot.send(bot.api.group_message_update(VOLUNTEER, "halo"))
        await bot.until(lambda: bool(bot.api.texts(-1001234567890)))
        assert "obrolan pribadi" in bot.api.texts(-1001234567890)[0]
        with bot.database.transaction() as session:
            assert session.scalar(select(CaseSession.state)) == before

    run(tmp_path, scenario)


def test_an_invitation_makes_a_member_once(tmp_path):
    async def scenario(bot: Harness) -> None:
        await bot.say(SUPERVISOR, "/invite")
        await bot.until(lambda: any("t.me/" in text for text in bot.api.texts(SUPERVISOR)))
        link = next(text for text in bot.api.texts(SUPERVISOR) if "t.me/" in text).split()[-1]
        assert link.startswith("https://t.me/pendamping_test_bot?start=")
        token = link.split("start=")[1]
        await bot.say(STRANGER, f"/start {token}")
        await bot.until(lambda: bool(bot.api.texts(STRANGER)))
        assert bot.api.texts(STRANGER)[0].startswith("Jawab dengan tombol")
        await bot.say(STRANGER + 1, f"/start {token}")
        await bot.until(lambda: bool(bot.api.texts(STRANGER + 1)))
        assert "sudah dipakai" in bot.api.texts(STRANGER + 1)[0]
        await bot.say(VOLUNTEER, "/invite")  # a volunteer cannot invite
        await bot.until(lambda: bool(bot.api.texts(VOLUNTEER)))
        assert "tidak dikenal" in bot.api.texts(VOLUNTEER)[0]

    run(tmp_path, scenario)


def test_429_is_honoured_and_each_chat_keeps_its_order(tmp_path):
    async def scenario(bot: Harness) -> None:
        bot.api.fail("sendMessage", status=429, retry_after=1, times=1)
        started = time.monotonic()
        await bot.say(VOLUNTEER, "/new")
        await bot.say(VOLUNTEER, "/help")
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) >= 2, timeout=8)
        assert time.monotonic() - started >= 1.0
        first, second = bot.api.texts(VOLUNTEER)[:2]
        assert first.startswith("Kasus baru K-") and second.startswith("Jawab dengan tombol")
        await bot.until(lambda: unsent(bot) == 0)  # the send is recorded just after Telegram has it
        with bot.database.transaction() as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert rows[0].attempts == 2 and rows[0].sent_at is not None

    run(tmp_path, scenario)


def test_server_errors_are_retried_until_delivered(tmp_path):
    async def scenario(bot: Harness) -> None:
        bot.api.fail("sendMessage", status=502, times=2)
        await bot.say(VOLUNTEER, "/new")
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) >= 1, timeout=10)
        assert bot.api.texts(VOLUNTEER)[0].startswith("Kasus baru K-")
        await bot.until(lambda: unsent(bot) == 0)
        assert count(bot, EventRecord) > 0
        assert len(bot.api.calls_to("sendMessage")) == 3  # two failures, then the delivery

    run(tmp_path, scenario)


def test_a_slow_step_in_one_chat_does_not_hold_up_another(tmp_path, mocker):
    from bot.cases import CaseService
    from storage import add_member
    from bot.cases import utcnow

    real_open = CaseService.open_case

    def slow_for_the_first(self, volunteer, *args, **kwargs):
        if volunteer == f"tg:{VOLUNTEER}":
            time.sleep(1.0)  # a slow database call, in a worker thread
        return real_open(self, volunteer, *args, **kwargs)

    mocker.patch.object(CaseService, "open_case", slow_for_the_first)

    async def scenario(bot: Harness) -> None:
        other = VOLUNTEER + 1
        with bot.database.transaction() as session:
            add_member(session, telegram_user_id=other, role="volunteer", display_name="Budi", now=utcnow())
        arrival: dict[int, float] = {}

        async def first_reply(user: int) -> None:
            await bot.until(lambda: bool(bot.api.texts(user)), timeout=10)
            arrival[user] = time.monotonic()

        await asyncio.gather(
            bot.say(VOLUNTEER, "/new"), bot.say(other, "/new"), first_reply(VOLUNTEER), first_reply(other)
        )
        assert arrival[other] < arrival[VOLUNTEER] - 0.5

    run(tmp_path, scenario)


def test_messages_left_unsent_before_a_start_are_delivered(tmp_path):
    from bot.cases import utcnow
    from bot.telegram.delivery import enqueue_notice, recipient_for
    from storage import Database, upgrade

    database = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    upgrade(database)
    with database.transaction() as session:  # committed by a process that died before sending
        enqueue_notice(session, recipient_for("volunteer", VOLUNTEER), "left from before", utcnow())
    database.dispose()

    async def scenario(bot: Harness) -> None:
        await bot.until(lambda: "left from before" in bot.api.texts(VOLUNTEER))
        assert bot.api.texts(VOLUNTEER).count("left from before") == 1
        await bot.until(lambda: unsent(bot) == 0)
        assert unsent(bot) == 0

    run(tmp_path, scenario)


def test_the_chat_pacer_allows_a_burst_then_one_per_interval():
    from bot.telegram.delivery import ChatPacer

    pacer = ChatPacer(burst=2, interval=0.2, group_interval=3.0)
    assert [pacer.reserve(42) for _ in range(2)] == [0.0, 0.0]
    wait = pacer.reserve(42)
    assert 0.15 <= wait <= 0.2
    assert pacer.reserve(43) == 0.0  # another chat is not held up
    time.sleep(wait + 0.01)
    assert pacer.reserve(42) == 0.0
    assert pacer.reserve(-100) == 0.0 and pacer.reserve(-100) == 0.0 and pacer.reserve(-100) >= 2.9  # groups: 20 a minute


def test_a_paced_chat_waits_without_holding_up_other_chats(tmp_path):
    from bot.telegram.delivery import ChatPacer

    async def scenario(bot: Harness) -> None:
        bot.application.bot_data["delivery"].pacer = ChatPacer(burst=1, interval=2.0)
        for _ in range(3):
            await bot.say(VOLUNTEER, "/help")
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) == 1)
        started = time.monotonic()
        await bot.say(STRANGER, "halo")  # a stranger's reply is sent directly, not paced behind others
        await bot.say(SUPERVISOR, "/help")
        await bot.until(lambda: len(bot.api.texts(SUPERVISOR)) == 1, timeout=3)
        assert time.monotonic() - started < 1.5  # not behind the volunteer's paced rows
        await bot.until(lambda: len(bot.api.texts(VOLUNTEER)) == 3, timeout=10)
        assert time.monotonic() - started >= 3.5  # the volunteer's two later messages kept the pace

    run(tmp_path, scenario)
