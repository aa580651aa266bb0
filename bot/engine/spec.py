"""The flow file format's version and the migrations that bring older files up to it."""

from __future__ import annotations

from typing import Callable

from bot.engine.yamltext import LinedMap

__all__ = ["MIGRATIONS", "SPEC_VERSION", "Migration"]

# The file format this code reads. Older files are migrated on load; newer ones are refused.
SPEC_VERSION = 1

# MIGRATIONS[n] turns a spec_version n document into spec_version n + 1.
Migration = Callable[[LinedMap], LinedMap]
MIGRATIONS: dict[int, Migration] = {}
