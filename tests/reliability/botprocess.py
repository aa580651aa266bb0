"""The real bot as a process in webhook mode against a FakeBotApiServer, restartable and killable.

Shared by the reliability tests. Everything listens on 127.0.0.1; the fake Bot API outlives the
bot process, so a restarted bot finds the chats as the killed one left them.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from storage import Database, ProcessedUpdate
from tests.telegram.fake_api import FakeBotApi, FakeBotApiServer, JsonDict
from tests.telegram.processes import SECRET, free_port, webhook_env
from tests.telegram.test_webhook_process import ROOT, pendamping

__all__ = ["BotProcess", "keyboard", "wait_for"]


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll predicate (e.g. a database query) until true or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def keyboard(api: FakeBotApi, chat_id: int) -> tuple[int, list[str], list[str]] | None:
    """The latest bot message in the chat that still has buttons: id, labels, callback data."""
    for message in reversed(api.sent(chat_id)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        if rows:
            buttons = [button for row in rows for button in row]
            return message["message_id"], [b["text"] for b in buttons], [b["callback_data"] for b in buttons]
    return None


def _quiet_resets(server: FakeBotApiServer) -> None:
    """A killed bot resets its keep-alive connections to the fake; socketserver would print a
    traceback for each. Other errors are still printed."""
    http_server = server._server
    assert http_server is not None
    original = http_server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            original(request, client_address)

    http_server.handle_error = handle_error  # type: ignore[method-assign]


class BotProcess:
    """`python -m bot run --webhook` on a fresh SQLite database, restartable on the same one."""

    def __init__(self, tmp_path: Path, api: FakeBotApi, **extra_env: str) -> None:
        self.tmp_path = tmp_path
        self.api = api
        self.server = FakeBotApiServer(api)
        base_url = self.server.start()
        _quiet_resets(self.server)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        self.database_url = f"sqlite:///{tmp_path / 'bot.db'}"
        env = webhook_env(tmp_path / "bot.db", base_url, self.port, PYTHONUNBUFFERED="1", **extra_env)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self._database: Database | None = None

    # ---- the process ----------------------------------------------------------------------

    def cli(self, *args: str) -> None:
        subprocess.run(pendamping(*args), env=self.env, cwd=ROOT, check=True, capture_output=True, timeout=60)

    def start(self, timeout: float = 30.0) -> None:
        assert self.process is None, "already running"
        before = self._webhooks_set()
        self.starts += 1
        self._log = open(self.tmp_path / f"bot-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            pendamping("run", "--webhook"), env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        # The webhook server listens before setWebhook is called; the Application starts taking
        # updates from its queue right after, so an update POSTed now waits at most that long.
        while self._webhooks_set() <= before or not self._listening():
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode} at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not start in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs, whatever the bot was doing is cut off."""
        process = self.process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.kills += 1
        self._forget()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in 15 s. Safe to call when not running."""
        process = self.process
        if process is None:
            return
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        finally:
            self._forget()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._database is not None:
                self._database.dispose()
                self._database = None
            self.server.stop()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        logs = sorted(self.tmp_path.glob("bot-*.log"), key=lambda p: int(p.stem.split("-")[1]))
        if not logs:
            return ""
        return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])

    def _forget(self) -> None:
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _webhooks_set(self) -> int:
        return sum(1 for call in self.api.calls_to("setWebhook") if call.status == 200)

    def _listening(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    # ---- talking to it --------------------------------------------------------------------

    def post(self, update: JsonDict, timeout: float = 10.0) -> int | str:
        """POST an update as Telegram would: the HTTP status, or the name of the connection error
        (expected while the process is being killed)."""
        request = urllib.request.Request(
            self.url,
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return type(reason).__name__

    # ---- its database ---------------------------------------------------------------------

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.database_url)
        return self._database

    def query(self, read: Callable[[Any], Any]) -> Any:
        with self.database.transaction() as session:
            return read(session)

    def committed(self, update_id: int) -> bool:
        """Whether the bot stored the step of this update (its id is written in that transaction)."""
        return bool(self.query(lambda s: s.get(ProcessedUpdate, update_id) is not None))

    def processed_ids(self) -> set[int]:
        return set(self.query(lambda s: list(s.scalars(select(ProcessedUpdate.update_id)))))
