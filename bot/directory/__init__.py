"""The referral directory: services a volunteer can offer in the "make a plan" stage, searched by the
caller's needs and province.

The data lives in `services.yaml` next to this module (its header documents the format). It is
checked on load and every problem is reported at once, named by file and entry, so a bad entry stops
the bot at start-up instead of reaching a caller. Descriptions and hours are English msgids:
`extract_directory` hands them to `pybabel extract`, and they are translated where they are shown.
"""


from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Collection, Iterable, Iterator, Mapping

from bot.directory.model import (
    CONTACT_TYPES,
    FORMAT_VERSION,
    MAX_DESCRIPTION,
    NATIONAL,
    NEED_LABELS,
    NEEDS,
    PROVINCES,
    STATUS_RANK,
    STATUSES,
    Contact,
    DirectoryError,
    Service,
    known_needs,
    known_region,
)
from bot.directory.reading import key_lines, parse_yaml, read_document

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
        services = read_document(document, origin, problems)
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
        wanted = known_needs(needs)
        local_region = None if region is None or region == NATIONAL else known_region(region)
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
            key = (0 if local else 1, STATUS_RANK[service.status], -covered, service.name.casefold(), service.id)
            ranked.append((key, service))
        ranked.sort(key=lambda pair: pair[0])
        return [service for _, service in ranked]

    def services_for(self, need: str) -> list[Service]:
        """Every service offering `need`, in any region, in file order."""
        (known,) = known_needs([need])
        return [service for service in self._services if known in service.needs]

    def needs_without_services(self, region: str | None = None) -> list[str]:
        """Needs no entry offers (for a maintainer check). With a region: no entry there or national."""
        if region is None:
            pool: Iterable[Service] = self._services
        else:
            known = known_region(region)
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
    return Directory.from_document(parse_yaml(text, origin), origin)


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
    directory = Directory.from_document(parse_yaml(text, origin), origin)
    lines = key_lines(text)
    for service in directory:
        where = lines.get(service.id, {})
        yield where.get("description", where.get("id", 1)), None, service.description, [f"directory {service.id}, description"]
        if service.hours is not None:
            yield where.get("hours", where.get("id", 1)), None, service.hours, [f"directory {service.id}, hours"]


# --- Reading -------------------------------------------------------------------------------------
