"""The referral directory: services a volunteer can offer in the "make a plan" stage, searched by the
caller's needs and province.

The data lives in `services.yaml` next to this module (its header documents the format). It is
checked on load and every problem is reported at once, named by file and entry, so a bad entry stops
the bot at start-up instead of reaching a caller. Descriptions and hours are English msgids:
`extract_directory` hands them to `pybabel extract`, and they are translated where they are shown.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Collection, Hashable, Iterable, Iterator, Mapping

import yaml

from bot.i18n import N_

__all__ = [
    "CONTACT_TYPES",
    "DIRECTORY_PATH",
    "FORMAT_VERSION",
    "MAX_DESCRIPTION",
    "NATIONAL",
    "NEEDS",
    "NEED_LABELS",
    "PROVINCES",
    "STATUSES",
    "Contact",
    "Directory",
    "DirectoryError",
    "Service",
    "extract_directory",
    "load_directory",
]

DIRECTORY_PATH = Path(__file__).resolve().parent / "services.yaml"

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
_STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}

# `via` names another entry to go through (e.g. UPTD PPA via SAPA 129), so a number lives in one
# entry only and is re-confirmed in one place.
CONTACT_TYPES: tuple[str, ...] = ("phone", "whatsapp", "email", "website", "app", "via")
_DIALLED = {"phone", "whatsapp"}

# Longer than a chat line; the file asks for under 200, this is the hard stop.
MAX_DESCRIPTION = 300

_TOP_KEYS = {"version", "services"}
_REQUIRED_KEYS = ("id", "name", "description", "needs", "regions", "contacts", "source", "last_verified", "status")
_SERVICE_KEYS = set(_REQUIRED_KEYS) | {"hours"}
_CONTACT_KEYS = {"type", "value"}
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_NUMBER = re.compile(r"^\+?[0-9(][0-9() -]*[0-9]$")


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


class Directory:
    """Checked services, in file order. Build one with `load_directory` or `from_document`."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._services = tuple(services)
        self._by_id = {service.id: service for service in self._services}
        if len(self._by_id) != len(self._services):
            raise ValueError("service ids must be unique")

    @classmethod
    def from_document(cls, document: Any, origin: str) -> Directory:
        """Check a parsed YAML document; raise DirectoryError listing every problem found."""
        problems: list[str] = []
        services = _read_document(document, origin, problems)
        if problems:
            raise DirectoryError(problems)
        return cls(services)

    @property
    def services(self) -> tuple[Service, ...]:
        return self._services

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services)

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._by_id

    def get(self, service_id: str) -> Service:
        """The service with this id; KeyError if there is none."""
        try:
            return self._by_id[service_id]
        except KeyError:
            raise KeyError(f"no service {service_id!r} in the directory") from None

    def search(self, needs: Iterable[str], region: str | None) -> list[Service]:
        """Services offering any of `needs` in `region` (a province slug) or nationally.

        Order: services of that province before national ones, since a local unit can act sooner;
        then verified, old, unverified; then those covering more of the asked needs; then by name.
        With no region (or "national"), only national services: a province's number is no use to a
        caller whose province is not known.
        """
        wanted = _known_needs(needs)
        local_region = None if region is None or region == NATIONAL else _known_region(region)
        ranked: list[tuple[tuple[int, int, int, str, str], Service]] = []
        for service in self._services:
            covered = len(wanted.intersection(service.needs))
            if not covered:
                continue
            if service.national:
                local = False
            elif local_region is not None and local_region in service.regions:
                local = True
            else:
                continue
            key = (0 if local else 1, _STATUS_RANK[service.status], -covered, service.name.casefold(), service.id)
            ranked.append((key, service))
        ranked.sort(key=lambda pair: pair[0])
        return [service for _, service in ranked]

    def services_for(self, need: str) -> list[Service]:
        """Every service offering `need`, in any region, in file order."""
        (known,) = _known_needs([need])
        return [service for service in self._services if known in service.needs]

    def needs_without_services(self, region: str | None = None) -> list[str]:
        """Needs no entry offers (for a maintainer check). With a region: no entry there or national."""
        if region is None:
            pool: Iterable[Service] = self._services
        else:
            known = _known_region(region)
            pool = [service for service in self._services if service.national or known in service.regions]
        offered = {need for service in pool for need in service.needs}
        return [need for need in NEEDS if need not in offered]


def load_directory(path: Path | str = DIRECTORY_PATH) -> Directory:
    """Read and check the directory file; DirectoryError names the file on any problem."""
    origin = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryError([f"{origin}: cannot read the directory file: {error}"]) from None
    return Directory.from_document(_parse(text, origin), origin)


def extract_directory(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extraction method: yield (line, function, msgid, comments) for every description and
    hours text of the directory file."""
    origin = str(getattr(fileobj, "name", "<directory>"))
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    # An invalid file raises DirectoryError here: extracting from a broken file would hide the break.
    directory = Directory.from_document(_parse(text, origin), origin)
    lines = _key_lines(text)
    for service in directory:
        where = lines.get(service.id, {})
        yield where.get("description", where.get("id", 1)), None, service.description, [f"directory {service.id}, description"]
        if service.hours is not None:
            yield where.get("hours", where.get("id", 1)), None, service.hours, [f"directory {service.id}, hours"]


# --- Reading -------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping. Plain safe_load keeps the last
    one without a word, so a pasted entry with two `needs:` lines would silently lose the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # 2025-13-01 looks like a date but is none: PyYAML would raise a bare ValueError with no
        # line. Kept as text, it is reported as a bad date of its entry.
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _parse(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DirectoryError([f"{origin}{line}: invalid YAML: {error.problem or error}"]) from None
    except yaml.YAMLError as error:
        raise DirectoryError([f"{origin}: invalid YAML: {error}"]) from None


def _key_lines(text: str) -> dict[str, dict[str, int]]:
    """Line (1-based) of each key of each entry, by entry id; empty where the file does not compose."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    found: dict[str, dict[str, int]] = {}
    services = _node_value(root, "services")
    if not isinstance(services, yaml.SequenceNode):
        return found
    for entry in services.value:
        if not isinstance(entry, yaml.MappingNode):
            continue
        keys = {str(key.value): key.start_mark.line + 1 for key, _ in entry.value if isinstance(key, yaml.ScalarNode)}
        service_id = _node_value(entry, "id")
        if isinstance(service_id, yaml.ScalarNode):
            found[str(service_id.value)] = keys
    return found


def _node_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node  # type: ignore[no-any-return]
    return None


def _read_document(document: Any, origin: str, problems: list[str]) -> list[Service]:
    if not isinstance(document, dict):
        problems.append(f"{origin}: expected a mapping with 'version' and 'services'")
        return []
    version = document.get("version")
    # bool is an int in Python: `version: true` must not pass for 1.
    if isinstance(version, bool) or version != FORMAT_VERSION:
        shown = "missing" if "version" not in document else repr(version)
        problems.append(f"{origin}: unsupported version {shown}; this code reads version {FORMAT_VERSION}")
        # Entries of another version may mean something else: checking them would mislead.
        return []
    for key in sorted(set(document) - _TOP_KEYS, key=str):
        problems.append(f"{origin}: unknown key {key!r} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    raw_services = document.get("services")
    if not isinstance(raw_services, list):
        problems.append(f"{origin}: 'services' must be a list of entries")
        return []

    services: list[Service] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_services):
        service = _read_service(raw, index, origin, problems)
        # Ids are claimed by broken entries too: fixing the first entry must not reveal a duplicate.
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(raw_id, str) and raw_id:
            if raw_id in first_index:
                problems.append(f"{_where(origin, index, raw_id)}: duplicate id (first at services[{first_index[raw_id]}])")
                continue
            first_index[raw_id] = index
        if service is not None:
            services.append(service)

    # `via` targets are checked once every id is known; a target must be reachable directly, which
    # also rules out chains and loops.
    by_id = {service.id: service for service in services}
    for service in services:
        for contact in service.contacts:
            if contact.type != "via":
                continue
            where = _where(origin, first_index[service.id], service.id)
            target = by_id.get(contact.value)
            if target is None and contact.value in first_index:
                continue  # the target entry is broken and already reported
            if target is None:
                problems.append(f"{where}: contact via unknown service {contact.value!r}")
            elif target is service:
                problems.append(f"{where}: contact via itself")
            elif all(other.type == "via" for other in target.contacts):
                problems.append(f"{where}: contact via {contact.value!r}, which has no direct contact")
    return services


def _where(origin: str, index: int, service_id: object) -> str:
    named = f" {service_id!r}" if isinstance(service_id, str) and service_id else ""
    return f"{origin}: services[{index}]{named}"


_Problem = Callable[[str], None]


def _read_service(raw: Any, index: int, origin: str, problems: list[str]) -> Service | None:
    if not isinstance(raw, dict):
        problems.append(f"{_where(origin, index, None)}: an entry must be a mapping of keys")
        return None
    where = _where(origin, index, raw.get("id"))
    before = len(problems)

    def problem(message: str) -> None:
        problems.append(f"{where}: {message}")

    for key in sorted(set(raw) - _SERVICE_KEYS, key=str):
        problem(f"unknown key {key!r} (allowed: {', '.join(sorted(_SERVICE_KEYS))})")
    for key in _REQUIRED_KEYS:
        if _blank(raw.get(key)):
            problem(f"missing {key}")

    service_id = raw.get("id")
    if service_id is not None and not (isinstance(service_id, str) and _SLUG.match(service_id)):
        problem(f"id {service_id!r} must be a lower-case slug (a-z, 0-9, _)")
    name = _text(raw.get("name"), "name", problem)
    description = _text(raw.get("description"), "description", problem)
    if description is not None and len(description) > MAX_DESCRIPTION:
        problem(f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    hours = _text(raw.get("hours"), "hours", problem)
    source = _text(raw.get("source"), "source", problem)
    if source is not None and not source.startswith(("https://", "http://")):
        problem(f"source {source!r} must be the URL the contact was taken from")

    needs = _keys(raw.get("needs"), "needs", problem)
    for need in needs:
        if need not in NEED_LABELS:
            problem(f"unknown need {need!r} (known: {', '.join(NEEDS)})")
    regions = _keys(raw.get("regions"), "regions", problem)
    for region in regions:
        if region != NATIONAL and region not in PROVINCES:
            problem(f"unknown region {region!r} (use {NATIONAL!r} or a province slug from PROVINCES)")
    if NATIONAL in regions and len(regions) > 1:
        problem(f"regions lists {NATIONAL!r} with provinces; {NATIONAL!r} already covers every province")

    contacts = _contacts(raw.get("contacts"), problem)
    last_verified = _date(raw.get("last_verified"), problem)
    status = raw.get("status")
    if status is not None and status not in STATUSES:
        problem(f"bad status {status!r} (use {', '.join(STATUSES)})")

    if (
        len(problems) > before
        or not isinstance(service_id, str)
        or name is None
        or description is None
        or source is None
        or last_verified is None
        or not isinstance(status, str)
    ):
        return None
    return Service(
        id=service_id,
        name=name,
        description=description,
        needs=needs,
        regions=regions,
        contacts=contacts,
        hours=hours,
        source=source,
        last_verified=last_verified,
        status=status,
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, key: str, problem: _Problem) -> str | None:
    # A blank required text is reported once, as missing.
    if _blank(value):
        return None
    if not isinstance(value, str):
        problem(f"{key} must be text, not {value!r}")
        return None
    return value.strip()


def _keys(value: Any, key: str, problem: _Problem) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        problem(f"{key} must be a non-empty list of keys, e.g. [{'safety' if key == 'needs' else NATIONAL}]")
        return ()
    for item in sorted({item for item in value if value.count(item) > 1}):
        problem(f"{key} lists {item!r} twice")
    return tuple(dict.fromkeys(value))


def _contacts(value: Any, problem: _Problem) -> tuple[Contact, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        problem("contacts must be a non-empty list of {type, value}")
        return ()
    contacts: list[Contact] = []
    for number, raw in enumerate(value):
        label = f"contacts[{number}]"
        if not isinstance(raw, dict):
            problem(f"{label} must be a mapping {{type, value}}")
            continue
        for key in sorted(set(raw) - _CONTACT_KEYS, key=str):
            problem(f"{label}: unknown key {key!r} (allowed: type, value)")
        kind, text = raw.get("type"), raw.get("value")
        if kind not in CONTACT_TYPES:
            problem(f"{label}: unknown type {kind!r} (use {', '.join(CONTACT_TYPES)})")
            continue
        if not isinstance(text, str) or not text.strip():
            hint = ' (write numbers in quotes: "129")' if isinstance(text, int) else ""
            problem(f"{label}: value must be text{hint}")
            continue
        text = text.strip()
        if kind in _DIALLED and not _NUMBER.match(text):
            problem(f"{label}: {text!r} does not look like a {kind} number")
            continue
        contacts.append(Contact(kind, text))
    return tuple(contacts)


def _date(value: Any, problem: _Problem) -> datetime.date | None:
    if value is None:
        return None
    # YAML reads an unquoted 2025-01-01 as a date; a timestamp is a datetime, itself a date.
    if isinstance(value, datetime.datetime):
        problem(f"last_verified {value!r} must be a day (YYYY-MM-DD), not a time")
        return None
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    problem(f"bad date {value!r} for last_verified (use YYYY-MM-DD)")
    return None


def _known_needs(needs: Iterable[str]) -> frozenset[str]:
    if isinstance(needs, str):
        # A lone string would be read letter by letter.
        needs = [needs]
    wanted = frozenset(needs)
    unknown = sorted(wanted - NEED_LABELS.keys())
    if unknown:
        raise ValueError(f"unknown need(s) {', '.join(map(repr, unknown))}; known: {', '.join(NEEDS)}")
    return wanted


def _known_region(region: str) -> str:
    if region != NATIONAL and region not in PROVINCES:
        raise ValueError(f"unknown region {region!r}; use {NATIONAL!r} or a province slug")
    return region
