"""The console as a real process: piped conversations, and kill -9 in the middle of one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import Database, escalations_of, find_open_case, pending_count
from tests.console.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}", "PENDAMPING_LANGUAGE": "id"})
    for name in ("PENDAMPING_FLOWS_DIR", "PENDAMPING_START_FLOW"):
        env.pop(name, None)
    return env


def pendamping(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = environment(tmp_path)
    subprocess.run(pendamping("db", "upgrade"), env=env, cwd=ROOT, check=True, capture_output=True)
    return env


@pytest.mark.parametrize(("language", "closed"), [("id", "ditutup."), ("en", "is closed.")])
def test_a_piped_conversation_reaches_the_end(env, language, closed):
    script = "\n".join(SCENARIOS["child_in_danger"]) + "\n"
    result = subprocess.run(pendamping("console", "--lang", language), input=script, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    alerts = [line for line in result.stdout.splitlines() if line.startswith("[supervisor] 🚨")]
    assert len(alerts) >= 2 and "P0" in alerts[0] and all("P1" in alert for alert in alerts[1:])
    assert closed in result.stdout
    assert result.stderr == ""


def test_end_of_input_mid_case_keeps_it_for_later(env):
    result = subprocess.run(pendamping("console", "--lang", "en"), input="1\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "is saved; start the console again to resume it." in result.stdout


def wait_for_escalation(database_url: str, timeout: float = 20.0) -> None:
    """Until the step that raised the P0 flag is committed (its escalation is stored with it)."""
    database = Database(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with database.transaction() as session:
                case = find_open_case(session, "console")
                if case is not None and escalations_of(session, case.id):
                    return
            time.sleep(0.05)
        raise AssertionError("the P0 step was never committed")
    finally:
        database.dispose()


def test_killed_mid_conversation_resumes_at_the_last_stored_step(env):
    process = subprocess.Popen(
        pendamping("console", "--lang", "en"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=ROOT, text=True,
    )
    assert process.stdin is not None
    # Safe to talk: yes; danger now: yes (P0). Then kill -9 before any more input.
    process.stdin.write("1\n1\n")
    process.stdin.flush()
    wait_for_escalation(env["DATABASE_URL"])
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()
    process.stderr.close()
    process.stdin.close()

    rest = ["1"] + SCENARIOS["child_in_danger"][2:]
    result = subprocess.run(
        pendamping("console", "--lang", "en"), input="\n".join(rest) + "\n", env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "was not finished. Resume it?" in out
    resumed = out.index("Resuming case")
    # The stored step was the answer to "danger now": the trafficker question is open again.
    assert "could they see or hear this call?" in out[resumed:].split("\n\n")[1]
    assert "is closed." in out
    # The P0 alert was committed before the kill: it is delivered (again at most once) and not lost.
    assert out.count("[supervisor] 🚨 P0") <= 1
    assert "[supervisor] 🚨 P1" in out
    database = Database(env["DATABASE_URL"])
    with database.transaction() as session:
        assert pending_count(session) == 0  # every committed message, the P0 alert included, went out
    database.dispose()
