"""The bot in webhook mode with its send limits raised, for `bench.webhook` only.

`python -m bench.webhook_runner [--global-rate N] [--no-chat-pacer]` does what `python -m bot run
--webhook` does (same settings from the environment, same logging, same serving code), except that it builds the application with `global_rate` instead of Telegram's 30 messages per
second, and can lift the per-chat pacer (3 at once, then 1 a second per chat). Both limits are
there for Telegram's sake and cap throughput by design; lifting them shows what the code costs.
"""

from __future__ import annotations

import argparse
import asyncio

from bot.settings import Settings, TelegramSettings
from bot.telegram.app import build_application, configure_logging, serve
from bot.telegram.delivery import ChatPacer, TelegramDelivery

UNPACED = 10**9  # a bucket this deep never runs dry in a benchmark: the pacer's bookkeeping runs, it never waits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_runner", description=__doc__)
    parser.add_argument("--global-rate", type=float, default=10_000.0, help="messages per second over all chats")
    parser.add_argument("--no-chat-pacer", action="store_true", help="never hold a chat's messages back")
    parser.add_argument("--thread-steps", action="store_true", help="run steps in worker threads of this process, not a step process")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    telegram = TelegramSettings.from_env(webhook=True)
    configure_logging()  # as bot.cli does before bot.telegram.app.run
    application = build_application(settings, telegram, global_rate=args.global_rate, step_process=not args.thread_steps)
    if args.no_chat_pacer:
        delivery: TelegramDelivery = application.bot_data["delivery"]
        delivery.pacer = ChatPacer(burst=UNPACED, interval=1.0)
    asyncio.run(serve(application, telegram, webhook=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
