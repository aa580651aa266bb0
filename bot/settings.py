"""Settings from the environment. A missing or malformed one stops start-up with its name."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

from bot.i18n import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from bot.ladder import Deadlines
from bot.library import DEFAULT_FLOWS_DIR
from bot.local_time import DEFAULT_TIMEZONE, load_zone
from storage import DEFAULT_DATABASE_URL

__all__ = ["Settings", "SettingsError", "TelegramSettings"]


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    language: str = DEFAULT_LANGUAGE
    start_flow: str = "protocol"
    flows_dir: Path = DEFAULT_FLOWS_DIR
    deadlines: Deadlines = Deadlines()
    timezone: str = DEFAULT_TIMEZONE  # an IANA name; the zone people read times in

    @property
    def zone(self) -> ZoneInfo:
        return load_zone(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        language = _get(env, "PENDAMPING_LANGUAGE", DEFAULT_LANGUAGE).lower()
        if language not in SUPPORTED_LANGUAGES:
            raise SettingsError(f"PENDAMPING_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)}, not {language!r}")
        flows_dir = Path(_get(env, "PENDAMPING_FLOWS_DIR", str(DEFAULT_FLOWS_DIR)))
        if not flows_dir.is_dir():
            raise SettingsError(f"PENDAMPING_FLOWS_DIR is not a directory: {flows_dir}")
        database_url = _get(env, "DATABASE_URL", DEFAULT_DATABASE_URL)
        if "://" not in database_url:
            raise SettingsError(f"DATABASE_URL must be a URL such as sqlite:///pendamping.db, not {database_url!r}")
        deadlines = Deadlines(
            p0=timedelta(seconds=_number(env, "ESCALATION_DEADLINE_P0_SECONDS", 120, 10, 3600)),
            p1=timedelta(seconds=_number(env, "ESCALATION_DEADLINE_P1_SECONDS", 600, 10, 86400)),
        )
        timezone = _get(env, "PENDAMPING_TIMEZONE", DEFAULT_TIMEZONE)
        try:
            load_zone(timezone)
        except ValueError:
            raise SettingsError(
                f"PENDAMPING_TIMEZONE must be a time zone name such as Asia/Jakarta (WIB), Asia/Makassar (WITA) "
                f"or Asia/Jayapura (WIT), not {timezone!r}"
            ) from None
        return cls(
            database_url=database_url,
            language=language,
            start_flow=_get(env, "PENDAMPING_START_FLOW", "protocol"),
            flows_dir=flows_dir,
            deadlines=deadlines,
            timezone=timezone,
        )


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


@dataclass(frozen=True)
class TelegramSettings:
    """What the Telegram runner needs beyond the common settings; checked before anything starts."""

    token: str
    api_base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    invite_hours: int = 48
    # Optional: a group of supervisors that gets a copy of every paging alert.
    supervisor_group: int | None = None

    @property
    def bot_id(self) -> str:
        return self.token.split(":", 1)[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, webhook: bool = False) -> "TelegramSettings":
        env = os.environ if env is None else env
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise SettingsError("TELEGRAM_BOT_TOKEN is not set; get one from @BotFather")
        if not TOKEN_PATTERN.match(token):
            raise SettingsError("TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters)")
        api_base_url = _get(env, "TELEGRAM_API_BASE_URL", cls.api_base_url)
        if not api_base_url.startswith(("https://", "http://")):
            raise SettingsError(f"TELEGRAM_API_BASE_URL must be an http(s) URL, not {api_base_url!r}")
        invite_hours = _number(env, "PENDAMPING_INVITE_HOURS", cls.invite_hours, 1, 24 * 30)
        group_raw = env.get("SUPERVISOR_GROUP_CHAT_ID", "").strip()
        if group_raw and not (group_raw.startswith("-") and group_raw[1:].isdigit()):
            raise SettingsError(f"SUPERVISOR_GROUP_CHAT_ID must be a group's chat id (a negative number), not {group_raw!r}")
        group = int(group_raw) if group_raw else None
        if not webhook:
            return cls(token=token, api_base_url=api_base_url, invite_hours=invite_hours, supervisor_group=group)
        webhook_url = env.get("WEBHOOK_URL", "").strip()
        if not webhook_url.startswith(("https://", "http://")):
            raise SettingsError("WEBHOOK_URL must be the public https:// URL Telegram posts updates to")
        secret = env.get("WEBHOOK_SECRET", "").strip()
        if not SECRET_PATTERN.match(secret):
            raise SettingsError("WEBHOOK_SECRET must be 16 to 256 characters of letters, digits, _ and -")
        return cls(
            token=token,
            api_base_url=api_base_url,
            webhook_url=webhook_url,
            webhook_secret=secret,
            webhook_listen=_get(env, "WEBHOOK_LISTEN", cls.webhook_listen),
            webhook_port=_number(env, "WEBHOOK_PORT", cls.webhook_port, 1, 65535),
            invite_hours=invite_hours,
            supervisor_group=group,
        )


def _number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)
