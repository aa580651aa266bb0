"""Runs the real Pendamping Application in-process against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

from bot.cases import utcnow
from bot.ladder import Deadlines
from bot.settings import Settings, TelegramSettings
from bot.telegram.app import _started, _stopped, build_application
from storage import Database, add_member, upgrade
from tests.telegram.fake_api import DEFAULT_TOKEN, FakeBotApi, JsonDict, mock_transport

SUPERVISOR = 1001
VOLUNTEER = 2002
STRANGER = 3003


@dataclass
class Harness:
    api: FakeBotApi
    application: Any
    database: Database

    async def send(self, update: JsonDict) -> None:
        """Hand one update to the bot, as the polling loop or the webhook server would."""
        await self.application.process_update(Update.de_json(update, self.application.bot))

    async def say(self, user_id: int, text: str, language: str = "id") -> None:
        await self.send(self.api.message_update(user_id, text, language_code=language))

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        assert await self.api.wait_until_async(predicate, timeout=timeout), "the bot never got there"

    def last_keyboard(self, chat_id: int) -> tuple[int, list[str], list[str]]:
        """The latest message with buttons: its id, the button labels and their callback data."""
        for message in reversed(self.api.sent(chat_id)):
            markup = message.get("reply_markup") or {}
            rows = markup.get("inline_keyboard") or []
            if rows:
                buttons = [button for row in rows for button in row]
                return message["message_id"], [b["text"] for b in buttons], [b["callback_data"] for b in buttons]
        raise AssertionError("no message with buttons")

    async def press(self, user_id: int, label: str, language: str = "id") -> None:
        message_id, labels, data = self.last_keyboard(user_id)
        await self.send(self.api.callback_update(user_id, data[labels.index(label)], message_id, language_code=language))


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    language: str = "id",
    api: FakeBotApi | None = None,
    group: int | None = None,
    deadlines: Deadlines = Deadlines(),
    flows_dir: Path | None = None,
) -> AsyncIterator[Harness]:
    api = api or FakeBotApi()
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    database = Database(url)
    upgrade(database)
    with database.transaction() as session:
        add_member(session, telegram_user_id=SUPERVISOR, role="supervisor", display_name="Sari", now=utcnow())
        add_member(session, telegram_user_id=VOLUNTEER, role="volunteer", display_name="Ayu", now=utcnow())
    settings = Settings(database_url=url, language=language, deadlines=deadlines)
    if flows_dir is not None:
        settings = replace(settings, flows_dir=flows_dir)
    telegram = TelegramSettings(token=DEFAULT_TOKEN, supervisor_group=group)
    application = build_application(
        settings, telegram,
        request=HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)}),
        get_updates_request=HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)}),
        global_rate=1000,
    )
    # Pace nothing per chat in tests: the pacer is tested on its own.
    application.bot_data["delivery"].pacer.burst = 1000
    async with application:
        await application.start()
        await _started(application)
        try:
            yield Harness(api, application, database)
        finally:
            await application.stop()
            await _stopped(application)
    database.dispose()
