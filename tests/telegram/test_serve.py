"""The webhook endpoint's acknowledgement: after the step is stored, and after the reply it caused has
gone to Telegram, or a short wait if that send hangs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import tornado.httpserver
import tornado.web
from telegram import Update

from bot.cases import utcnow
from bot.telegram import serve as serve_module
from bot.telegram.delivery import ChatPacer, TelegramDelivery, enqueue_notice, recipient_for
from bot.telegram.keyboards import ButtonSigner
from storage import Database
from tests.telegram.fake_api import FakeBotApi
from tests.telegram.processes import free_port
from tests.telegram.test_delivery import NEVER, QUICK, SLOW, SlowForOneChat

SECRET = "s" * 32


class OverTheNetwork(SlowForOneChat):
    """Sends take a while, as over a network: 20 ms, or until released for the slow chat."""

    async def do_api_request(self, endpoint: str, api_kwargs: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.02)
        return await super().do_api_request(endpoint, api_kwargs)


class Front:
    """Stands in for the router: each update's step queues one reply to its sender."""

    def __init__(self, database: Database, delivery: TelegramDelivery) -> None:
        self.database = database
        self.delivery = delivery

    async def on_update(self, update: Update, context: Any) -> None:
        assert update.effective_user is not None
        await asyncio.to_thread(self._step, update.effective_user.id)

    def _step(self, user: int) -> None:
        with self.database.transaction() as session:
            enqueue_notice(session, recipient_for("volunteer", user), f"reply to {user}", utcnow())


def test_the_update_is_acknowledged_after_its_reply_went_out_and_a_hanging_send_delays_it_briefly(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_module, "REPLY_FIRST_SECONDS", 0.3)
    fake = FakeBotApi()

    async def scenario() -> tuple[list[tuple[int, str]], float, list[tuple[int, str]], int, int]:
        bot = OverTheNetwork()
        delivery = TelegramDelivery(sqlite_database, bot, ButtonSigner(b"k"), utcnow, sweep_seconds=NEVER, pacer=ChatPacer(burst=100))  # type: ignore[arg-type]
        running = asyncio.create_task(delivery.run())
        front = Front(sqlite_database, delivery)
        app = tornado.web.Application([(serve_module.WEBHOOK_PATH, serve_module._UpdateEndpoint, {"front": front, "bot": None, "secret": SECRET})])
        server = tornado.httpserver.HTTPServer(app)
        port = free_port()
        server.listen(port, address="127.0.0.1")
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        url = f"http://127.0.0.1:{port}{serve_module.WEBHOOK_PATH}"
        try:
            async with httpx.AsyncClient() as client:
                quick = await client.post(url, json=fake.message_update(QUICK, "ya"), headers=headers)
                sent_when_acknowledged = list(bot.sent)
                began = time.monotonic()
                slow = await client.post(url, json=fake.message_update(SLOW, "ya"), headers=headers)
                waited = time.monotonic() - began
                hanging_when_acknowledged = list(bot.sent)
                bot.release.set()
            return sent_when_acknowledged, waited, hanging_when_acknowledged, quick.status_code, slow.status_code
        finally:
            server.stop()
            delivery.stop()
            await asyncio.wait_for(running, timeout=10)

    sent, waited, hanging, quick_status, slow_status = asyncio.run(scenario())
    assert quick_status == slow_status == 200
    assert sent == [(QUICK, f"reply to {QUICK}")]  # the reply had gone out before the 200
    assert hanging == sent and 0.3 <= waited < 3.0  # the hanging send held the 200 up for the wait only
