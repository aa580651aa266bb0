"""The bot as a separate process in webhook mode: the environment it is started with.

Shared by the webhook process tests, the reliability tests and the webhook benchmark.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from tests.telegram.fake_api import DEFAULT_TOKEN

__all__ = ["SECRET", "free_port", "webhook_env"]

SECRET = "webhook-secret-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_env(database: Path | str, api_base_url: str, port: int, **extra: str) -> dict[str, str]:
    """This process's environment without proxies, plus what `pendamping run --webhook` needs to
    serve 127.0.0.1:port against a fake Bot API at `api_base_url`."""
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_BASE_URL=api_base_url,
        WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port),
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
        **extra,
    )
    return env


def wait_until_listening(port: int, seconds: float = 10.0) -> bool:
    """True once something accepts connections on 127.0.0.1:port, False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
