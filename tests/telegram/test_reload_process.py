"""SIGHUP on the real bot process: the flows directory is reloaded without a restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.flowdir import INTRO_R1, INTRO_R2, break_a_route, change_the_intro, copy_flows, set_revision
from tests.telegram.fake_api import FakeBotApi, FakeBotApiServer
from tests.telegram.harness import VOLUNTEER
from tests.telegram.processes import SECRET, free_port, wait_until_listening, webhook_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")


def pendamping(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


class BotProcess:
    """`pendamping run --webhook` on a copy of the flows, its log collected line by line."""

    def __init__(self, tmp_path: Path) -> None:
        self.flows = copy_flows(tmp_path)
        self.api = FakeBotApi(loopback_webhooks=True)
        self.server = FakeBotApiServer(self.api)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/telegram"
        env = webhook_env(tmp_path / "bot.db", self.server.start(), port, PENDAMPING_FLOWS_DIR=str(self.flows))
        subprocess.run(pendamping("db", "upgrade"), env=env, cwd=ROOT, check=True, capture_output=True)
        subprocess.run(
            pendamping("members", "add", "--telegram-id", str(VOLUNTEER), "--role", "volunteer", "--name", "Ayu"),
            env=env, cwd=ROOT, check=True, capture_output=True,
        )
        self.process = subprocess.Popen(pendamping("run", "--webhook"), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()
        assert self.api.wait_until(lambda: self.api.webhook is not None, timeout=30), self.log
        assert wait_until_listening(port), self.log

    def _read_log(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line.rstrip("\n"))

    def say(self, text: str) -> str:
        """A volunteer's message over the webhook; returns everything the bot answered."""
        before = len(self.api.sent(VOLUNTEER))
        update = self.api.message_update(VOLUNTEER, text)
        request = urllib.request.Request(
            self.url, data=json.dumps(update).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert self.api.wait_until(lambda: len(self.api.sent(VOLUNTEER)) > before, timeout=10), self.log
        time.sleep(0.2)  # a step may send several messages
        return "\n".join(self.api.texts(VOLUNTEER)[before:])

    def hang_up(self, expected: str) -> str:
        """SIGHUP, then the log line of the reload it caused."""
        seen = len(self.log)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = [line for line in self.log[seen:] if "SIGHUP:" in line]
            if found:
                assert expected in found[0], found[0]
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no reload logged after SIGHUP: {self.log[seen:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.server.stop()


@pytest.fixture
def bot(tmp_path: Path):
    process = BotProcess(tmp_path)
    try:
        yield process
    finally:
        process.stop()


def test_sighup_reloads_a_valid_change_and_refuses_a_broken_one(bot: BotProcess):
    assert INTRO_R1 in bot.say("/new")
    set_revision(bot.flows, 2)
    change_the_intro(bot.flows)
    bot.hang_up("flows reloaded: protocol r1 -> r2")
    bot.say("/cancel")
    assert INTRO_R2 in bot.say("/new")

    set_revision(bot.flows, 3)
    break_a_route(bot.flows)
    line = bot.hang_up("flow reload refused; still running protocol r2")
    assert "consent_nowhere" in line
    assert bot.process.poll() is None  # still running, and still on r2
    bot.say("/cancel")
    assert INTRO_R2 in bot.say("/new")
