"""A bare python-telegram-bot echo bot in webhook mode: the baseline of `bench.webhook`.

`python -m bench.echo_bot [--global-rate N]` reads the same environment as the bot (token, Bot API
base URL, webhook URL, secret, listen address and port), builds its Application with the same
ApplicationBuilder settings (concurrent updates, AIORateLimiter without retries), logs the same
way, and answers every text message with the same text, straight away: no database, no outbox.
"""

from __future__ import annotations

import argparse
import logging

from telegram import Update
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.settings import TelegramSettings


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    if message is not None and message.text is not None:
        await message.reply_text(message.text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo_bot", description=__doc__)
    parser.add_argument("--global-rate", type=float, default=10_000.0, help="messages per second over all chats")
    args = parser.parse_args(argv)
    telegram = TelegramSettings.from_env(webhook=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    application = (
        ApplicationBuilder()
        .token(telegram.token)
        .base_url(telegram.api_base_url)
        .concurrent_updates(True)
        .rate_limiter(AIORateLimiter(overall_max_rate=args.global_rate, max_retries=0))
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    assert telegram.webhook_url is not None and telegram.webhook_secret is not None
    application.run_webhook(
        listen=telegram.webhook_listen,
        port=telegram.webhook_port,
        url_path="telegram",
        webhook_url=telegram.webhook_url,
        secret_token=telegram.webhook_secret,
        allowed_updates=Update.ALL_TYPES,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
