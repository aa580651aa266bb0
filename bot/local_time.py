"""Times as volunteers and supervisors read them: in the hotline's own time zone, with its name.

Everything is stored and computed in UTC. Only what a person reads is shown in the zone the
deployment names (`PENDAMPING_TIMEZONE`, Asia/Jakarta by default): a night-shift volunteer in
Indonesia should not have to add seven hours to know when a callback is due.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_TIMEZONE", "DEFAULT_ZONE", "clock_time", "date_and_time", "load_zone"]

DEFAULT_TIMEZONE = "Asia/Jakarta"  # WIB; Asia/Makassar is WITA, Asia/Jayapura WIT


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"no time zone named {name!r}") from None


DEFAULT_ZONE = load_zone(DEFAULT_TIMEZONE)


def _local(moment: datetime | str, zone: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)  # stored times are UTC
    return value.astimezone(zone)


def date_and_time(moment: datetime | str, zone: ZoneInfo) -> str:
    """2026-11-25 09:30 WIB"""
    return _local(moment, zone).strftime("%Y-%m-%d %H:%M %Z")


def clock_time(moment: datetime | str, zone: ZoneInfo) -> str:
    """09:30 WIB"""
    return _local(moment, zone).strftime("%H:%M %Z")
