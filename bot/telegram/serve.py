"""Receiving updates so that none is acknowledged before it is stored.

python-telegram-bot's own webhook server answers 200 as soon as an update is queued in memory, and
its polling loop confirms an offset while the fetched updates may still wait in that queue. A
process killed in between loses the update for good: Telegram does not send an acknowledged update
again, and a volunteer's "in danger now" would never reach a supervisor. Here an update is
acknowledged only after the router has committed its step (or found it handled before): the
webhook answers 200 after that (and after the reply the step caused has been sent, or a short wait),
500 if it failed (Telegram then retries), and polling confirms an offset only after the whole batch
was handled.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.error import NetworkError, TelegramError

from bot.settings import TelegramSettings
from bot.telegram.delivery import recipient_for
from bot.telegram.router import TelegramFront

__all__ = ["WEBHOOK_PATH", "install_stop_signals", "poll_updates", "serve_webhook"]

LOGGER = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# How long the acknowledgement of an update may wait for the reply it caused to be sent.
REPLY_FIRST_SECONDS = 0.25


class _UpdateEndpoint(tornado.web.RequestHandler):
    """POST /telegram: one update, answered only once it is handled."""

    def initialize(self, front: TelegramFront, bot: Any, secret: str) -> None:
        self.front = front
        self.bot = bot
        self.secret = secret

    async def post(self) -> None:
        token = self.request.headers.get(SECRET_HEADER, "")
        if not token or not hmac.compare_digest(token, self.secret):
            raise tornado.web.HTTPError(403)
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise tornado.web.HTTPError(403)
        try:
            update = Update.de_json(json.loads(self.request.body), self.bot)
        except (ValueError, TypeError, KeyError):
            raise tornado.web.HTTPError(400) from None
        try:
            await self.front.on_update(update, None)  # type: ignore[arg-type]
        except Exception:
            LOGGER.exception("update %s could not be handled; Telegram will send it again", update.update_id)
            raise tornado.web.HTTPError(500) from None
        # The step is stored. Its reply is being sent on this same event loop, and every await on
        # the way to Telegram would otherwise let this answer be written first: the volunteer waits
        # for the reply, Telegram only for this 200, which goes after it (or after a short wait).
        if update.effective_user is not None:
            await self.front.delivery.sends_to(recipient_for("volunteer", update.effective_user.id), REPLY_FIRST_SECONDS)
        self.set_status(200)
        await self.finish()


async def serve_webhook(front: TelegramFront, bot: Any, telegram: TelegramSettings, stop: asyncio.Event) -> None:
    assert telegram.webhook_url is not None and telegram.webhook_secret is not None
    app = tornado.web.Application([(WEBHOOK_PATH, _UpdateEndpoint, {"front": front, "bot": bot, "secret": telegram.webhook_secret})])
    server = tornado.httpserver.HTTPServer(app)
    server.listen(telegram.webhook_port, address=telegram.webhook_listen)
    await bot.set_webhook(url=telegram.webhook_url, secret_token=telegram.webhook_secret, allowed_updates=Update.ALL_TYPES)
    LOGGER.info("webhook listening on %s:%s%s", telegram.webhook_listen, telegram.webhook_port, WEBHOOK_PATH)
    try:
        await stop.wait()
    finally:
        server.stop()
        await server.close_all_connections()


async def poll_updates(front: TelegramFront, bot: Any, stop: asyncio.Event, timeout: int = 30) -> None:
    await bot.delete_webhook()
    offset: int | None = None
    stopping = asyncio.create_task(stop.wait())
    while not stop.is_set():
        fetch = asyncio.create_task(bot.get_updates(offset=offset, timeout=timeout, allowed_updates=Update.ALL_TYPES))
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            fetch.cancel()  # unconfirmed updates are fetched again by the next start
            break
        try:
            updates = fetch.result()
        except NetworkError:
            await asyncio.sleep(1)
            continue
        except TelegramError:
            LOGGER.exception("getUpdates failed")
            await asyncio.sleep(5)
            continue
        if not updates:
            continue
        # A chat's updates keep their order: the router takes each chat's lock in arrival order.
        results = await asyncio.gather(*(front.on_update(update, None) for update in updates), return_exceptions=True)  # type: ignore[arg-type]
        handled = [update for update, result in zip(updates, results) if not isinstance(result, BaseException)]
        for update, result in zip(updates, results):
            if isinstance(result, BaseException):
                LOGGER.error("update %s failed (%s); fetching it again", update.update_id, result)
        if len(handled) == len(updates):
            offset = updates[-1].update_id + 1
        else:
            # Confirm only up to the first failure: it and everything after it come again. Updates
            # already handled are recognised by their update_id and not applied twice.
            first_failed = next(u for u, r in zip(updates, results) if isinstance(r, BaseException))
            offset = first_failed.update_id
            await asyncio.sleep(1)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
