"""Reading services.yaml: YAML with line numbers, and every problem of every entry named at once."""

from __future__ import annotations

import datetime
from typing import Any, Callable, Hashable

import yaml

from bot.directory.model import (
    CONTACT_KEYS,
    CONTACT_TYPES,
    DIALLED,
    FORMAT_VERSION,
    MAX_DESCRIPTION,
    NATIONAL,
    NEED_LABELS,
    NEEDS,
    NUMBER,
    PROVINCES,
    REQUIRED_KEYS,
    SERVICE_KEYS,
    SLUG,
    STATUSES,
    TOP_KEYS,
    Contact,
    DirectoryError,
    Service,
)

__all__ = ["key_lines", "parse_yaml", "read_document"]


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


def parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DirectoryError([f"{origin}{line}: invalid YAML: {error.problem or error}"]) from None
    except yaml.YAMLError as error:
        raise DirectoryError([f"{origin}: invalid YAML: {error}"]) from None


def key_lines(text: str) -> dict[str, dict[str, int]]:
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


def read_document(document: Any, origin: str, problems: list[str]) -> list[Service]:
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
    for key in sorted(set(document) - TOP_KEYS, key=str):
        problems.append(f"{origin}: unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})")
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

    for key in sorted(set(raw) - SERVICE_KEYS, key=str):
        problem(f"unknown key {key!r} (allowed: {', '.join(sorted(SERVICE_KEYS))})")
    for key in REQUIRED_KEYS:
        if _blank(raw.get(key)):
            problem(f"missing {key}")

    service_id = raw.get("id")
    if service_id is not None and not (isinstance(service_id, str) and SLUG.match(service_id)):
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
        for key in sorted(set(raw) - CONTACT_KEYS, key=str):
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
        if kind in DIALLED and not NUMBER.match(text):
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


