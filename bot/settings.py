"""Settings from the environment. A missing or malformed one stops start-up with its name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from bot.i18n import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from bot.library import DEFAULT_FLOWS_DIR
from storage import DEFAULT_DATABASE_URL

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    language: str = DEFAULT_LANGUAGE
    start_flow: str = "protocol"
    flows_dir: Path = DEFAULT_FLOWS_DIR

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
        return cls(
            database_url=database_url,
            language=language,
            start_flow=_get(env, "PENDAMPING_START_FLOW", "protocol"),
            flows_dir=flows_dir,
        )


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default
