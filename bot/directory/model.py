"""The directory's data: needs, provinces, statuses, and the service entries themselves."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Iterable

from bot.i18n import N_

# The file format this code reads; a newer file is refused rather than half understood.
FORMAT_VERSION = 1

# Display order, most urgent first: a volunteer scanning the list in a crisis meets safety first.
# Labels are msgids, translated where they are shown.
NEED_LABELS: dict[str, str] = {
    "safety": N_("Safety or evacuation"),
    "medical": N_("Medical care"),
    "mental_health": N_("Mental-health crisis support"),
    "shelter": N_("Shelter"),
    "reporting": N_("Reporting to the authorities"),
    "legal": N_("Legal aid"),
    "psychosocial": N_("Psychosocial support"),
    "cross_border": N_("Cross-border help"),
    "family_tracing": N_("Family tracing and return"),
}
NEEDS: tuple[str, ...] = tuple(NEED_LABELS)

NATIONAL = "national"

# The 38 provinces (since the 2022 Papua split), slug -> name as Indonesians write it. Place names
# are not translated.
PROVINCES: dict[str, str] = {
    "aceh": "Aceh",
    "sumatera_utara": "Sumatera Utara",
    "sumatera_barat": "Sumatera Barat",
    "riau": "Riau",
    "kepulauan_riau": "Kepulauan Riau",
    "jambi": "Jambi",
    "bengkulu": "Bengkulu",
    "sumatera_selatan": "Sumatera Selatan",
    "kepulauan_bangka_belitung": "Kepulauan Bangka Belitung",
    "lampung": "Lampung",
    "banten": "Banten",
    "dki_jakarta": "DKI Jakarta",
    "jawa_barat": "Jawa Barat",
    "jawa_tengah": "Jawa Tengah",
    "di_yogyakarta": "DI Yogyakarta",
    "jawa_timur": "Jawa Timur",
    "bali": "Bali",
    "nusa_tenggara_barat": "Nusa Tenggara Barat",
    "nusa_tenggara_timur": "Nusa Tenggara Timur",
    "kalimantan_barat": "Kalimantan Barat",
    "kalimantan_tengah": "Kalimantan Tengah",
    "kalimantan_selatan": "Kalimantan Selatan",
    "kalimantan_timur": "Kalimantan Timur",
    "kalimantan_utara": "Kalimantan Utara",
    "sulawesi_utara": "Sulawesi Utara",
    "gorontalo": "Gorontalo",
    "sulawesi_tengah": "Sulawesi Tengah",
    "sulawesi_barat": "Sulawesi Barat",
    "sulawesi_selatan": "Sulawesi Selatan",
    "sulawesi_tenggara": "Sulawesi Tenggara",
    "maluku": "Maluku",
    "maluku_utara": "Maluku Utara",
    "papua": "Papua",
    "papua_barat": "Papua Barat",
    "papua_barat_daya": "Papua Barat Daya",
    "papua_selatan": "Papua Selatan",
    "papua_tengah": "Papua Tengah",
    "papua_pegunungan": "Papua Pegunungan",
}

# Best first: a volunteer should reach for a confirmed number before an old or unconfirmed one.
STATUSES: tuple[str, ...] = ("verified", "old", "unverified")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}

# `via` names another entry to go through (e.g. UPTD PPA via SAPA 129), so a number lives in one
# entry only and is re-confirmed in one place.
CONTACT_TYPES: tuple[str, ...] = ("phone", "whatsapp", "email", "website", "app", "via")
DIALLED = {"phone", "whatsapp"}

# Longer than a chat line; the file asks for under 200, this is the hard stop.
MAX_DESCRIPTION = 300

TOP_KEYS = {"version", "services"}
REQUIRED_KEYS = ("id", "name", "description", "needs", "regions", "contacts", "source", "last_verified", "status")
SERVICE_KEYS = set(REQUIRED_KEYS) | {"hours"}
CONTACT_KEYS = {"type", "value"}
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
NUMBER = re.compile(r"^\+?[0-9(][0-9() -]*[0-9]$")


@dataclass(frozen=True)
class Contact:
    type: str
    value: str


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    description: str
    needs: tuple[str, ...]
    regions: tuple[str, ...]
    contacts: tuple[Contact, ...]
    hours: str | None
    source: str
    last_verified: datetime.date
    status: str

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    @property
    def national(self) -> bool:
        return NATIONAL in self.regions


class DirectoryError(ValueError):
    """The directory file cannot be used. `problems` holds one line per problem, each naming the file
    and, where there is one, the entry (`services[3] 'lpsk'`)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))



def known_needs(needs: Iterable[str]) -> frozenset[str]:
    if isinstance(needs, str):
        # A lone string would be read letter by letter.
        needs = [needs]
    wanted = frozenset(needs)
    unknown = sorted(wanted - NEED_LABELS.keys())
    if unknown:
        raise ValueError(f"unknown need(s) {', '.join(map(repr, unknown))}; known: {', '.join(NEEDS)}")
    return wanted


def known_region(region: str) -> str:
    if region != NATIONAL and region not in PROVINCES:
        raise ValueError(f"unknown region {region!r}; use {NATIONAL!r} or a province slug")
    return region
