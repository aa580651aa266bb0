"""The bot as a real process in webhook mode: updates POSTed over HTTP, Bot API calls answered by a
local fake Bot API server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.cases import utcnow
from storage import Database, add_member
from tests.telegram.fake_api import FakeBotApi, FakeBotApiServer
from tests.telegram.harness import SUPERVISOR, VOLUNTEER
from tests.telegram.processes import SECRET, free_port, wait_until_listening, webhook_env

ROOT = Path(__file__).resolve().parents[2]


def pendamping(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def post(url: str, update: dict, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture
def bot_process(tmp_path: Path):
    api = FakeBotApi(loopback_webhooks=True)
    server = FakeBotApiServer(api)
    base_url = server.start()
    port = free_port()
    env = webhook_env(tmp_path / "bot.db", base_url, port)
    subprocess.run(pendamping("db", "upgrade"), env=env, cwd=ROOT, check=True, capture_output=True)
    for user, role, name in ((SUPERVISOR, "supervisor", "Sari"), (VOLUNTEER, "volunteer", "Ayu")):
        subprocess.run(
            pendamping("members", "add", "--telegram-id", str(user), "--role", role, "--name", name),
            env=env, cwd=ROOT, check=True, capture_output=True,
        )
    process = subprocess.Popen(pendamping("run", "--webhook"), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert api.wait_until(lambda: api.webhook is not None, timeout=30), "the bot never set its webhook"
        assert wait_until_listening(port), "the webhook server never listened"
        yield api, f"http://127.0.0.1:{port}/telegram", process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        server.stop()


def test_a_wrong_or_missing_secret_gets_403_and_changes_nothing(bot_process):
    api, url, _ = bot_process
    update = api.message_update(VOLUNTEER, "/new")
    assert post(url, update, "wrong-secret-wrong-secret") == 403
    assert post(url, update, None) == 403
    time.sleep(0.5)
    assert api.texts(VOLUNTEER) == []
    assert api.webhook["secret_token"] == SECRET


def test_a_full_conversation_over_the_webhook(bot_process):
    api, url, process = bot_process

    def keyboard() -> tuple[int, list[str], list[str]]:
        for message in reversed(api.sent(VOLUNTEER)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            if rows:
                buttons = [button for row in rows for button in row]
                return message["message_id"], [b["text"] for b in buttons], [b["callback_data"] for b in buttons]
        raise AssertionError("no keyboard")

    def step(update: dict) -> None:
        before = len(api.sent(VOLUNTEER))
        assert post(url, update, SECRET) == 200
        assert api.wait_until(lambda: len(api.sent(VOLUNTEER)) > before, timeout=10), process

    step(api.message_update(VOLUNTEER, "/new"))
    assert api.texts(VOLUNTEER)[0].startswith("Kasus baru K-")
    for label in ("Tidak", "Tidak", "Ya"):
        message_id, labels, data = keyboard()
        step(api.callback_update(VOLUNTEER, data[labels.index(label)], message_id))
    for typed in ("2", "20", "2", "caller_ended"):
        step(api.message_update(VOLUNTEER, typed))
    assert "ditutup." in api.texts(VOLUNTEER)[-1]
    assert api.wait_until(lambda: bool(api.texts(SUPERVISOR)), timeout=10)
    assert api.texts(SUPERVISOR)[0].startswith("🚨 Peringatan P1")


def test_updates_of_many_chats_at_once_go_through_the_step_process_and_every_one_is_answered(bot_process, tmp_path: Path):
    api, url, process = bot_process
    chats = list(range(7001, 7013))
    database = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    with database.transaction() as session:
        for chat in chats:
            add_member(session, telegram_user_id=chat, role="volunteer", display_name=f"Relawan {chat}", now=utcnow())
    database.dispose()

    def all_at_once(text: str) -> None:
        before = {chat: len(api.sent(chat)) for chat in chats}
        with ThreadPoolExecutor(len(chats)) as pool:  # Telegram, too, posts over several connections
            statuses = list(pool.map(lambda chat: post(url, api.message_update(chat, text), SECRET), chats))
        assert statuses == [200] * len(chats)
        assert api.wait_until(lambda: all(len(api.sent(chat)) > before[chat] for chat in chats), timeout=15), process

    all_at_once("/new")
    for _ in range(3):
        all_at_once("maybe")  # not an answer: stored as a step, the question comes again
    process.send_signal(signal.SIGTERM)
    log = process.communicate(timeout=30)[0]
    assert "steps overlap: they run in the step process" in log
    assert process.returncode == 0, log[-2000:]
    for chat in chats:
        assert api.texts(chat)[0].startswith("Kasus baru K-") and len(api.texts(chat)) >= 4
