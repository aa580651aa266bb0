"""The fake Bot API, driven by the real python-telegram-bot client (no network)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.telegram.fake_api import FakeBotApi, FakeBotApiServer, mock_transport, parse_request_params

CHAT = 5501


def _bot(api: FakeBotApi, token: str | None = None) -> Bot:
    return Bot(
        token or api.token,
        request=HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)}),
        get_updates_request=HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)}),
    )


def _run(scenario: Callable[[Bot, FakeBotApi], Awaitable[None]], api: FakeBotApi | None = None) -> FakeBotApi:
    api = api or FakeBotApi()

    async def main() -> None:
        async with _bot(api) as bot:
            await scenario(bot, api)

    asyncio.run(main())
    return api


def _keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in data]])


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx honours proxy variables; the local server must be reached directly.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as timedelta, no warning


def test_get_me() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        me = await bot.get_me()
        assert me.username == "pendamping_test_bot"
        assert me.is_bot and me.id == 7000000001
        assert bot.username == "pendamping_test_bot"  # initialize() already called getMe

    api = _run(scenario, FakeBotApi())
    assert [c.method for c in api.calls] == ["getMe", "getMe"]
    assert all(c.status == 200 for c in api.calls)


def test_send_then_remove_keyboard() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        message = await bot.send_message(CHAT, "Apakah penelepon aman?", reply_markup=_keyboard("ya", "tidak"))
        assert message.chat_id == CHAT and message.text == "Apakah penelepon aman?"
        assert message.reply_markup == _keyboard("ya", "tidak")
        second = await bot.send_message(CHAT, "42")  # a numeric text stays a string
        assert second.message_id == message.message_id + 1

        edited = await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
        assert isinstance(edited, type(message)) and edited.reply_markup is None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=999)

    api = _run(scenario)
    sent = api.sent(CHAT)
    assert [m["text"] for m in sent] == ["Apakah penelepon aman?", "42"]
    assert "reply_markup" not in sent[0] and "edit_date" in sent[0]
    first = api.calls_to("sendMessage")[0].params
    assert first["chat_id"] == CHAT
    assert first["reply_markup"] == {
        "inline_keyboard": [[{"text": "Ya", "callback_data": "ya"}, {"text": "Tidak", "callback_data": "tidak"}]]
    }
    assert api.calls_to("sendMessage")[1].params["text"] == "42"


def test_edit_text_html_and_delete() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        message = await bot.send_message(CHAT, "<b>Langkah 1</b> 🙂 &amp; lanjut", parse_mode="HTML", reply_markup=_keyboard("ok"))
        assert message.text == "Langkah 1 🙂 & lanjut"
        assert message.entities[0].type == "bold" and message.entities[0].length == 9
        # Editing the text without reply_markup drops the keyboard, as on Telegram.
        await bot.edit_message_text("Langkah 2", chat_id=CHAT, message_id=message.message_id)
        with pytest.raises(BadRequest, match="(?i)unsupported start tag \"br\""):
            await bot.send_message(CHAT, "a<br>b", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(CHAT, "x", reply_markup=_keyboard("d" * 65))
        gone = await bot.send_message(CHAT, "sementara")
        assert await bot.delete_message(CHAT, gone.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(CHAT, gone.message_id)

    api = _run(scenario)
    assert api.texts(CHAT) == ["Langkah 2"]
    assert api.sent(CHAT)[0].get("reply_markup") is None
    assert api.deleted(CHAT) == [2]


def test_answer_callback_query() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        message = await bot.send_message(CHAT, "Pilih", reply_markup=_keyboard("ya"))
        api.push_update(api.callback_update(CHAT, "ya", message.message_id))
        (update,) = await bot.get_updates()
        query = update.callback_query
        assert query is not None and query.data == "ya" and query.from_user.language_code == "id"
        assert query.message is not None and query.message.message_id == message.message_id
        assert await bot.answer_callback_query(query.id, text="Tercatat")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("123")

    api = _run(scenario)
    assert [a["text"] for a in api.callback_answers] == ["Tercatat"]
    assert isinstance(api.callback_answers[0]["callback_query_id"], str)


def test_commands_per_language() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        assert await bot.set_my_commands([("mulai", "Mulai panggilan baru")], language_code="id")
        assert await bot.set_my_commands([("start", "Start a new call")], language_code="en")
        (command,) = await bot.get_my_commands(language_code="id")
        assert command.command == "mulai"
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([("Start", "x")])

    api = _run(scenario)
    assert api.commands == {
        ("default", "id"): [{"command": "mulai", "description": "Mulai panggilan baru"}],
        ("default", "en"): [{"command": "start", "description": "Start a new call"}],
    }
    assert api.commands_for("en")[0]["command"] == "start"


def test_get_updates_offset_and_long_poll() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        api.push_update(api.command_update(CHAT, "mulai"))
        api.push_update(api.message_update(CHAT, "42"))
        first, second = await bot.get_updates()
        assert first.message is not None and first.message.text == "/mulai"
        assert first.message.entities[0].type == "bot_command" and first.message.entities[0].offset == 0
        assert second.message is not None and second.message.text == "42"
        assert len(await bot.get_updates(offset=second.update_id)) == 1
        assert await bot.get_updates(offset=second.update_id + 1) == ()
        assert api.pending_updates == []

        # Long poll: a push from another thread wakes it, and it does not block other calls.
        timer = threading.Timer(0.3, lambda: api.push_update(api.sticker_update(CHAT)))
        timer.start()
        started = time.monotonic()
        updates, sent = await asyncio.gather(bot.get_updates(timeout=3), bot.send_message(CHAT, "tetap jalan"))
        assert 0.2 < time.monotonic() - started < 2
        assert updates[0].message is not None and updates[0].message.sticker is not None
        assert sent.text == "tetap jalan"
        started = time.monotonic()
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=timedelta(milliseconds=300)) == ()
        assert time.monotonic() - started >= 0.25

    _run(scenario)


def test_update_builders_parse_in_ptb() -> None:
    api = FakeBotApi()
    bot = _bot(api)
    builders = [
        api.photo_update(CHAT, caption="bukti"),
        api.voice_update(CHAT),
        api.edited_message_update(CHAT, "ralat", 1),
        api.forwarded_update(CHAT, "pesan diteruskan"),
        api.group_message_update(CHAT, "/mulai@pendamping_test_bot"),
    ]
    photo, voice, edited, forwarded, group = (Update.de_json(u, bot) for u in builders)
    assert photo.message is not None and photo.message.caption == "bukti" and len(photo.message.photo) == 2
    assert voice.message is not None and voice.message.voice is not None
    assert edited.edited_message is not None and edited.edited_message.text == "ralat"
    assert forwarded.message is not None and forwarded.message.forward_origin is not None
    assert group.message is not None and group.message.chat.type == "supergroup"
    assert group.message.entities[0].length == len("/mulai@pendamping_test_bot")
    assert [u["update_id"] for u in builders] == [1, 2, 3, 4, 5]


def test_retry_after() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        api.fail("sendMessage", status=429, retry_after=7)
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(CHAT, "halo")
        assert raised.value.retry_after == timedelta(seconds=7)
        await bot.send_message(CHAT, "halo")  # times=1: the next call succeeds

    api = _run(scenario)
    assert api.texts(CHAT) == ["halo"]
    assert [c.status for c in api.calls_to("sendMessage")] == [429, 200]


def test_server_error_and_outage() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        api.fail(status=500, chat_id=CHAT, times=2)
        await bot.send_message(CHAT + 1, "other chat is fine")
        for _ in range(2):
            with pytest.raises(NetworkError) as raised:
                await bot.send_message(CHAT, "halo")
            assert type(raised.value) is NetworkError and "Internal Server Error" in str(raised.value)
        api.fail_for(0.2, status=502, method="sendMessage")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "halo")
        await asyncio.sleep(0.25)
        await bot.send_message(CHAT, "halo")

    api = _run(scenario)
    assert api.texts(CHAT) == ["halo"]


def test_hang_is_a_timeout() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        api.fail("sendMessage", status=0)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "halo")
        assert time.monotonic() - started < 1
        api.fail_for(60, status=0)
        api.clear_failures()
        await bot.send_message(CHAT, "halo")

    api = _run(scenario)
    assert [c.status for c in api.calls_to("sendMessage")] == [0, 200]
    assert api.texts(CHAT) == ["halo"]


def test_unknown_method_wrong_token_and_webhook_conflict() -> None:
    async def scenario(bot: Bot, api: FakeBotApi) -> None:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendHologram", api_kwargs={"chat_id": CHAT})
        assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
        assert (await bot.get_webhook_info()).url == "https://example.org/hook"
        with pytest.raises(Conflict):
            await bot.get_updates()
        api.push_update(api.message_update(CHAT, "lama"))
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == ()
        assert await bot.log_out() and await bot.close()

    api = _run(scenario)
    assert api.webhook is None

    async def wrong_token() -> None:
        with pytest.raises(InvalidToken):
            await _bot(api, token="1:wrong").get_me()

    asyncio.run(wrong_token())


def test_form_and_multipart_decoding() -> None:
    api = FakeBotApi()
    url = f"https://api.telegram.org/bot{api.token}/sendMessage"

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=mock_transport(api)) as client:
            files = {"document": ("a.txt", b"isi", "text/plain")}
            response = await client.post(url, data={"chat_id": str(CHAT), "text": "true"}, files=files)
            assert response.json()["result"]["text"] == "true"
            response = await client.post(url, json={"chat_id": CHAT, "text": "json body"})
            assert response.json()["ok"] is True
            response = await client.get(f"https://api.telegram.org/file/bot{api.token}/photos/1.jpg")
            assert response.status_code == 404

    asyncio.run(scenario())
    params = api.calls[0].params
    assert params["chat_id"] == CHAT and params["text"] == "true"
    assert params["document"] == {"filename": "a.txt", "content_type": "text/plain", "content": b"isi"}
    assert parse_request_params("application/x-www-form-urlencoded", b"chat_id=%40kanal&text=1") == {
        "chat_id": "@kanal",
        "text": "1",
    }


def test_application_polling_end_to_end() -> None:
    api = FakeBotApi()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "Selamat datang", reply_markup=_keyboard("mulai"))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"Dipilih: {query.data}")

    async def main() -> None:
        app = (
            Application.builder()
            .token(api.token)
            .request(HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)}))
            .get_updates_request(HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)}))
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(pressed))
        async with app:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            await app.start()
            api.push_update(api.command_update(CHAT, "start"))
            assert await api.wait_until_async(lambda: api.texts(CHAT) == ["Selamat datang"], timeout=2)
            api.push_update(api.callback_update(CHAT, "mulai", api.sent(CHAT)[0]["message_id"]))
            assert await api.wait_until_async(lambda: api.texts(CHAT) == ["Dipilih: mulai"], timeout=2)
            await app.updater.stop()
            await app.stop()

    asyncio.run(main())
    assert len(api.callback_answers) == 1
    assert api.sent(CHAT)[0].get("reply_markup") is None
    assert api.pending_updates == []  # the updater confirmed what it handled


def test_real_http_server() -> None:
    api = FakeBotApi(hang_seconds=0.5)

    async def scenario(url: str) -> None:
        async with Bot(api.token, base_url=url) as bot:
            message = await bot.send_message(CHAT, "lewat HTTP", reply_markup=_keyboard("ya"))
            await bot.edit_message_reply_markup(CHAT, message.message_id)
            # A long poll in one request thread does not hold up another request.
            timer = threading.Timer(0.3, lambda: api.push_update(api.message_update(CHAT, "halo")))
            timer.start()
            updates, _ = await asyncio.gather(bot.get_updates(timeout=3), bot.send_message(CHAT, "paralel"))
            assert updates[0].message is not None and updates[0].message.text == "halo"
            api.fail("sendMessage", status=429, retry_after=3)
            with pytest.raises(RetryAfter):
                await bot.send_message(CHAT, "x")
        slow = Bot(api.token, base_url=url, request=HTTPXRequest(read_timeout=0.2))
        async with slow:
            api.fail("sendMessage", status=0)
            with pytest.raises(TimedOut):
                await slow.send_message(CHAT, "x")

    with FakeBotApiServer(api) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/bot")
        asyncio.run(scenario(server.base_url))
        # A long poll still running when the server stops ends at once.
        poll = threading.Thread(target=api.handle, args=("getUpdates", {"timeout": 30}))
        poll.start()
        time.sleep(0.05)
    poll.join(timeout=2)
    assert not poll.is_alive()
    assert api.texts(CHAT) == ["lewat HTTP", "paralel"]
    assert api.sent(CHAT)[0].get("reply_markup") is None
