"""The Telegram adapter: the only package that imports `telegram`."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after and the like) now,
# rather than reading values its next major version changes.
os.environ.setdefault("PTB_TIMEDELTA", "true")
