"""python-telegram-bot's Bot over aiohttp against the fake Bot API served on 127.0.0.1: answers,
Telegram's errors and the network's, as python-telegram-bot's own transport reports them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.transport import AiohttpRequest, _body
from tests.telegram.fake_api import DEFAULT_TOKEN, FakeBotApi, FakeBotApiServer
from tests.telegram.processes import free_port

CHAT = 4242


@pytest.fixture
def served() -> Iterator[tuple[FakeBotApi, str]]:
    api = FakeBotApi()
    server = FakeBotApiServer(api)
    base_url = server.start()
    try:
        yield api, base_url
    finally:
        server.stop()


def _bot(base_url: str, **timeouts: float) -> Bot:
    return Bot(DEFAULT_TOKEN, base_url=base_url, request=AiohttpRequest(**timeouts), get_updates_request=AiohttpRequest(connection_pool_size=1))


def test_a_message_with_buttons_goes_out_and_comes_back_parsed(served: tuple[FakeBotApi, str]) -> None:
    api, base_url = served

    async def main() -> None:
        async with _bot(base_url) as bot:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya ✅", callback_data="o:1"), InlineKeyboardButton("Tidak", callback_data="o:2")]])
            message = await bot.send_message(CHAT, "Apakah penelepon aman? & 100% <ok>", reply_markup=markup)
            assert message.text == "Apakah penelepon aman? & 100% <ok>"
            assert message.reply_markup == markup
            await bot.edit_message_reply_markup(chat_id=CHAT, message_id=message.message_id, reply_markup=None)

    asyncio.run(main())
    [sent] = api.sent(CHAT)
    assert sent["text"] == "Apakah penelepon aman? & 100% <ok>"
    assert "reply_markup" not in sent or not sent["reply_markup"]


def test_telegrams_errors_arrive_as_python_telegram_bot_raises_them(served: tuple[FakeBotApi, str]) -> None:
    api, base_url = served

    async def main() -> None:
        async with _bot(base_url) as bot:
            api.fail("sendMessage", status=429, retry_after=7)
            with pytest.raises(RetryAfter) as limited:
                await bot.send_message(CHAT, "x")
            wait = limited.value.retry_after
            assert (wait if isinstance(wait, (int, float)) else wait.total_seconds()) == 7
            api.fail("sendMessage", status=502)
            with pytest.raises(NetworkError):
                await bot.send_message(CHAT, "x")
            with pytest.raises(BadRequest):
                await bot.send_message(CHAT, "")
            assert (await bot.send_message(CHAT, "after the errors")).text == "after the errors"

    asyncio.run(main())
    assert api.texts(CHAT) == ["after the errors"]


def test_a_hanging_answer_times_out_and_an_unreachable_api_is_a_network_error(served: tuple[FakeBotApi, str]) -> None:
    api, base_url = served

    async def main() -> None:
        async with _bot(base_url, read_timeout=0.3) as bot:
            api.fail("sendMessage", status=0)  # the fake never answers this one
            with pytest.raises(TimedOut):
                await bot.send_message(CHAT, "x")
        api.interrupt_waits()
        nowhere = f"http://127.0.0.1:{free_port()}/bot"
        request = AiohttpRequest(connect_timeout=1.0)
        await request.initialize()
        try:
            with pytest.raises(NetworkError):
                await request.post(f"{nowhere}{DEFAULT_TOKEN}/getMe")
        finally:
            await request.shutdown()

    asyncio.run(main())


def test_a_request_used_before_initialize_says_so() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="not initialized"):
            await AiohttpRequest().do_request("http://127.0.0.1:9/bot/getMe", "POST")

    asyncio.run(main())


def test_the_proxy_comes_from_the_environment_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    request = AiohttpRequest()
    assert request._proxy_for("https://api.telegram.org/botTOKEN/sendMessage") == "http://proxy.internal:3128"
    assert request._proxy_for("http://127.0.0.1:8081/botTOKEN/sendMessage") is None
    monkeypatch.delenv("https_proxy")
    # Read once: a variable changed while the bot runs takes a restart, as for every setting.
    assert request._proxy_for("https://api.telegram.org/botTOKEN/getMe") == "http://proxy.internal:3128"
    assert AiohttpRequest()._proxy_for("https://api.telegram.org/botTOKEN/getMe") is None


def test_parameters_go_as_one_json_object_and_files_as_form_parts() -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya ✅", callback_data="o:1")]])
    plain = RequestData([RequestParameter.from_input("chat_id", CHAT), RequestParameter.from_input("text", "& 100% <ok>"), RequestParameter.from_input("reply_markup", markup)])
    body, headers = _body(plain)
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body) == {"chat_id": CHAT, "text": "& 100% <ok>", "reply_markup": markup.to_dict()}

    upload = RequestData([RequestParameter.from_input("chat_id", CHAT), RequestParameter.from_input("document", InputFile(b"%PDF", filename="rujukan.pdf"))])
    form, form_headers = _body(upload)
    assert form_headers is None  # aiohttp sets multipart/form-data with its boundary
    assert isinstance(form, aiohttp.FormData)
    assert _body(None) == (None, None)
