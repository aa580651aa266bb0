"""What the bot process logs: its own records, not a line per request or per step from libraries."""

from __future__ import annotations

import logging

import pytest

from bot.telegram.app import configure_logging


@pytest.fixture
def restored_logging():
    names = ("", "httpx", "tornado.access", "transitions", "transitions.core")
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = list(logging.getLogger().handlers)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


def test_per_request_and_per_step_library_records_are_left_out(restored_logging, caplog):
    configure_logging()
    with caplog.at_level(logging.INFO):  # caplog lowers the root; the libraries' own levels still hold
        logging.getLogger("transitions.core").info("Finished processing state consent_intro enter callbacks.")
        logging.getLogger("tornado.access").info("200 POST /telegram (127.0.0.1) 3.10ms")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRET/sendMessage")
        logging.getLogger("bot.telegram.app").info("Pendamping is running")
        logging.getLogger("transitions.core").warning("a real problem")
    assert [record.name for record in caplog.records] == ["bot.telegram.app", "transitions.core"]
