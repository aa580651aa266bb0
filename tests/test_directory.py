"""The referral directory: the shipped file is complete and honest about its sources, search puts the
right services first, and every mistake a maintainer can make in the file is named."""

from __future__ import annotations

import copy
import datetime
import io
from typing import Any

import pytest

from bot.directory import (
    DIRECTORY_PATH,
    NATIONAL,
    NEED_LABELS,
    NEEDS,
    PROVINCES,
    Directory,
    DirectoryError,
    extract_directory,
    load_directory,
)

ORIGIN = "test.yaml"


def entry(service_id: str, **fields: Any) -> dict[str, Any]:
    """A valid entry; keyword arguments replace its fields."""
    base: dict[str, Any] = {
        "id": service_id,
        "name": service_id.replace("_", " ").title(),
        "description": f"Description of {service_id}.",
        "needs": ["safety"],
        "regions": [NATIONAL],
        "contacts": [{"type": "phone", "value": "129"}],
        "source": "https://example.org/source",
        "last_verified": datetime.date(2025, 1, 1),
        "status": "verified",
    }
    base.update(fields)
    return base


def document(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "services": list(entries)}


def build(*entries: dict[str, Any]) -> Directory:
    return Directory.from_document(document(*entries), ORIGIN)


def ids(services: Any) -> list[str]:
    return [service.id for service in services]


@pytest.fixture(scope="module")
def shipped() -> Directory:
    return load_directory()


# --- The shipped file ------------------------------------------------------------------------------


def test_the_shipped_file_loads(shipped):
    assert len(shipped) >= 15
    assert DIRECTORY_PATH.name == "services.yaml"


def test_every_need_has_at_least_one_national_service(shipped):
    assert shipped.needs_without_services(NATIONAL) == []
    for need in NEEDS:
        assert any(service.national for service in shipped.services_for(need)), need


def test_every_entry_has_a_source_and_a_date(shipped):
    for service in shipped:
        assert service.source.startswith(("https://", "http://")), service.id
        assert isinstance(service.last_verified, datetime.date), service.id
        assert not isinstance(service.last_verified, datetime.datetime), service.id


def test_descriptions_stay_short_enough_for_a_chat_line(shipped):
    assert [service.id for service in shipped if len(service.description) >= 200] == []


@pytest.mark.parametrize(
    ("service_id", "status"),
    [
        ("sapa_129", "verified"),
        ("lpsk", "old"),
        ("lbh_apik", "unverified"),
        ("iom_indonesia", "unverified"),
        ("uptd_ppa_dki_jakarta", "unverified"),
        ("hospital_pkt", "old"),
        ("healing119", "verified"),
    ],
)
def test_statuses_follow_the_brief(shipped, service_id, status):
    assert shipped.get(service_id).status == status


def test_services_without_a_verified_number_list_none(shipped):
    # The brief found no public hotline for these; a number here would be invented.
    for service_id in ("lbh_apik", "iom_indonesia"):
        assert {contact.type for contact in shipped.get(service_id).contacts} <= {"website", "email", "app", "via"}


def test_the_referral_ladder_is_in_the_file(shipped):
    sapa = shipped.get("sapa_129")
    assert ("phone", "129") in {(contact.type, contact.value) for contact in sapa.contacts}
    assert {contact.value for contact in shipped.get("uptd_ppa").contacts} == {"sapa_129"}
    assert "mental_health" in shipped.get("healing119").needs
    assert "cross_border" in shipped.get("kp2mi").needs


def test_the_jakarta_unit_comes_first_in_jakarta_and_not_at_all_in_east_java(shipped):
    in_jakarta = shipped.search(["shelter"], "dki_jakarta")
    assert in_jakarta[0].id == "uptd_ppa_dki_jakarta"
    in_east_java = shipped.search(["shelter"], "jawa_timur")
    assert "uptd_ppa_dki_jakarta" not in ids(in_east_java)
    assert "sapa_129" in ids(in_east_java)


def test_need_and_province_tables():
    assert set(NEEDS) == set(NEED_LABELS) == {
        "safety", "medical", "legal", "shelter", "psychosocial", "family_tracing", "cross_border", "reporting", "mental_health",
    }
    assert len(PROVINCES) == 38
    assert PROVINCES["dki_jakarta"] == "DKI Jakarta"
    assert NATIONAL not in PROVINCES


# --- Search ----------------------------------------------------------------------------------------


def test_a_province_service_comes_before_national_ones_whatever_its_status():
    directory = build(
        entry("national_line", status="verified"),
        entry("jakarta_unit", regions=["dki_jakarta"], status="unverified"),
    )
    assert ids(directory.search(["safety"], "dki_jakarta")) == ["jakarta_unit", "national_line"]


def test_verified_before_old_before_unverified():
    directory = build(
        entry("a_unverified", status="unverified"),
        entry("b_old", status="old"),
        entry("c_verified", status="verified"),
    )
    assert ids(directory.search(["safety"], None)) == ["c_verified", "b_old", "a_unverified"]


def test_within_a_status_more_of_the_asked_needs_first_then_name():
    directory = build(
        entry("one_need", name="Alpha", needs=["safety"]),
        entry("two_needs", name="Zulu", needs=["safety", "legal", "medical"]),
        entry("also_one", name="beta", needs=["legal"]),
    )
    # Zulu covers two of the asked needs; Alpha and beta one each, so by name (case ignored).
    assert ids(directory.search(["safety", "legal"], None)) == ["two_needs", "one_need", "also_one"]


def test_regional_services_are_ordered_among_themselves_by_the_same_rules():
    directory = build(
        entry("national", status="verified"),
        entry("local_old", regions=["bali"], status="old"),
        entry("local_verified", regions=["bali", "jawa_timur"], status="verified"),
    )
    assert ids(directory.search(["safety"], "bali")) == ["local_verified", "local_old", "national"]


def test_a_service_matching_several_needs_appears_once():
    directory = build(entry("wide", needs=["safety", "legal", "shelter"]))
    assert ids(directory.search(["safety", "legal", "shelter", "legal"], None)) == ["wide"]


def test_services_without_any_asked_need_or_outside_the_province_are_left_out():
    directory = build(
        entry("legal_only", needs=["legal"]),
        entry("bali_only", regions=["bali"]),
        entry("match"),
    )
    assert ids(directory.search(["safety"], "jawa_timur")) == ["match"]
    assert ids(directory.search(["safety"], "bali")) == ["bali_only", "match"]


def test_without_a_province_only_national_services_are_offered():
    directory = build(entry("bali_only", regions=["bali"]), entry("national"))
    assert ids(directory.search(["safety"], None)) == ["national"]
    assert ids(directory.search(["safety"], NATIONAL)) == ["national"]


def test_no_needs_find_nothing():
    assert build(entry("a")).search([], "bali") == []


def test_search_refuses_unknown_needs_and_regions():
    directory = build(entry("a"))
    with pytest.raises(ValueError, match="unknown need"):
        directory.search(["housing"], None)
    with pytest.raises(ValueError, match="unknown region"):
        directory.search(["safety"], "jakarta")


def test_a_single_need_given_as_a_string_is_one_need():
    directory = build(entry("a", needs=["legal"]))
    assert ids(directory.search("legal", None)) == ["a"]


def test_get_and_services_for():
    directory = build(entry("a", needs=["legal"]), entry("b", needs=["legal", "safety"], regions=["bali"]))
    assert directory.get("b").regions == ("bali",)
    assert "a" in directory and "zzz" not in directory
    with pytest.raises(KeyError, match="zzz"):
        directory.get("zzz")
    assert ids(directory.services_for("legal")) == ["a", "b"]
    assert ids(directory.services_for("safety")) == ["b"]
    with pytest.raises(ValueError):
        directory.services_for("housing")


def test_service_values_are_typed_and_frozen():
    service = build(entry("a", last_verified="2024-08-01", status="old")).get("a")
    assert service.last_verified == datetime.date(2024, 8, 1)
    assert service.verified is False
    assert build(entry("b")).get("b").verified is True
    with pytest.raises(AttributeError):
        service.status = "verified"


def test_needs_without_services():
    directory = build(
        entry("a", needs=["safety", "medical"]),
        entry("b", needs=["legal"], regions=["bali"]),
    )
    everywhere = directory.needs_without_services()
    assert "legal" not in everywhere and "safety" not in everywhere
    assert everywhere == [need for need in NEEDS if need not in {"safety", "medical", "legal"}]
    assert "legal" in directory.needs_without_services("jawa_timur")
    assert "legal" not in directory.needs_without_services("bali")
    assert "legal" in directory.needs_without_services(NATIONAL)
    with pytest.raises(ValueError):
        directory.needs_without_services("atlantis")


# --- Errors in the file ----------------------------------------------------------------------------


def broken(index: int = 1, **fields: Any) -> dict[str, Any]:
    """Two entries; the one at `index` gets `fields`. A value of None removes the field."""
    entries = [entry("first"), entry("second")]
    for key, value in fields.items():
        if value is None:
            del entries[index][key]
        else:
            entries[index][key] = value
    return document(*entries)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"needs": ["safety", "housing"]}, "unknown need 'housing'"),
        ({"needs": []}, "needs must be a non-empty list"),
        ({"needs": ["legal", "legal"]}, "needs lists 'legal' twice"),
        ({"regions": ["jakarta"]}, "unknown region 'jakarta'"),
        ({"regions": [NATIONAL, "bali"]}, "already covers every province"),
        ({"status": "confirmed"}, "bad status 'confirmed'"),
        ({"last_verified": "yesterday"}, "bad date 'yesterday'"),
        ({"last_verified": "2025-02-30"}, "bad date '2025-02-30'"),
        ({"last_verified": datetime.datetime(2025, 1, 1, 10, 0)}, "must be a day"),
        ({"source": None}, "missing source"),
        ({"source": ""}, "missing source"),
        ({"source": "SAPA website"}, "must be the URL"),
        ({"contacts": None}, "missing contacts"),
        ({"contacts": []}, "contacts must be a non-empty list"),
        ({"contacts": [{"type": "pager", "value": "1"}]}, "unknown type 'pager'"),
        ({"contacts": [{"type": "phone", "value": 129}]}, 'write numbers in quotes'),
        ({"contacts": [{"type": "phone", "value": "call us"}]}, "does not look like a phone number"),
        ({"contacts": [{"type": "phone", "value": "129", "note": "x"}]}, "unknown key 'note'"),
        ({"contacts": [{"type": "via", "value": "nobody"}]}, "via unknown service 'nobody'"),
        ({"contacts": [{"type": "via", "value": "second"}]}, "via itself"),
        ({"description": "x" * 301}, "description is 301 characters"),
        ({"description": None}, "missing description"),
        ({"name": 5}, "name must be text"),
        ({"phone": "129"}, "unknown key 'phone'"),
        ({"id": "SAPA-129"}, "must be a lower-case slug"),
    ],
)
def test_each_mistake_names_the_file_the_entry_and_the_problem(fields, message):
    with pytest.raises(DirectoryError) as caught:
        Directory.from_document(broken(**fields), ORIGIN)
    text = str(caught.value)
    assert message in text
    assert text.startswith(f"{ORIGIN}: services[1]")
    if "id" not in fields:
        assert "services[1] 'second'" in text


def test_a_duplicate_id_names_both_places():
    with pytest.raises(DirectoryError, match=r"test.yaml: services\[2\] 'a': duplicate id \(first at services\[0\]\)"):
        build(entry("a"), entry("b"), entry("a"))


def test_a_broken_entry_still_claims_its_id():
    with pytest.raises(DirectoryError) as caught:
        build(entry("a", status="maybe"), entry("a"))
    assert "services[1] 'a': duplicate id (first at services[0])" in str(caught.value)


def test_a_via_to_a_broken_entry_is_reported_once_at_the_broken_entry():
    with pytest.raises(DirectoryError) as caught:
        build(entry("a", contacts=[{"type": "via", "value": "b"}]), entry("b", status="maybe"))
    assert caught.value.problems == ("test.yaml: services[1] 'b': bad status 'maybe' (use verified, old, unverified)",)


def test_via_must_reach_a_service_with_a_direct_contact():
    with pytest.raises(DirectoryError, match="'b', which has no direct contact"):
        build(
            entry("a", contacts=[{"type": "via", "value": "b"}]),
            entry("b", contacts=[{"type": "via", "value": "c"}]),
            entry("c"),
        )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"version": 2, "services": []}, "unsupported version 2"),
        ({"services": []}, "unsupported version missing"),
        ({"version": True, "services": []}, "unsupported version True"),
        ({"version": 1, "services": [], "extra": 1}, "unknown key 'extra'"),
        ({"version": 1, "services": {"a": 1}}, "'services' must be a list"),
        ([1, 2], "expected a mapping"),
        (None, "expected a mapping"),
    ],
)
def test_document_level_mistakes(doc, message):
    with pytest.raises(DirectoryError, match=message) as caught:
        Directory.from_document(doc, ORIGIN)
    assert str(caught.value).startswith(ORIGIN)


def test_every_problem_is_reported_at_once():
    doc = document(entry("a", needs=["housing"]), entry("b", status="maybe"))
    with pytest.raises(DirectoryError) as caught:
        Directory.from_document(doc, ORIGIN)
    assert len(caught.value.problems) == 2
    assert "services[0] 'a'" in caught.value.problems[0]
    assert "services[1] 'b'" in caught.value.problems[1]


def test_loading_does_not_change_the_document():
    doc = document(entry("a"))
    before = copy.deepcopy(doc)
    Directory.from_document(doc, ORIGIN)
    assert doc == before


VALID_YAML = """\
version: 1
services:
  - id: line
    name: A line
    description: Helps.
    needs: [safety]
    regions: [national]
    contacts:
      - {type: phone, value: "129"}
    hours: 24h
    source: https://example.org
    last_verified: 2025-01-01
    status: verified
"""


def test_load_directory_reads_a_file(tmp_path):
    path = tmp_path / "services.yaml"
    path.write_text(VALID_YAML, encoding="utf-8")
    service = load_directory(path).get("line")
    assert service.hours == "24h"
    assert service.last_verified == datetime.date(2025, 1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nservices: [\n", "invalid YAML"),
        (VALID_YAML.replace("    hours: 24h\n", "    hours: 24h\n    needs: [legal]\n"), "duplicate key 'needs'"),
        (VALID_YAML.replace("2025-01-01", "2025-13-01"), "bad date '2025-13-01'"),
        (VALID_YAML.replace('value: "129"', "value: 129"), "write numbers in quotes"),
    ],
)
def test_load_directory_names_the_file_on_bad_yaml(tmp_path, text, message):
    path = tmp_path / "services.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DirectoryError, match=message) as caught:
        load_directory(path)
    assert str(caught.value).startswith(str(path))


def test_load_directory_names_a_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(DirectoryError, match="cannot read") as caught:
        load_directory(path)
    assert str(path) in str(caught.value)


# --- Extraction ------------------------------------------------------------------------------------


def extract(data: bytes, name: str = "services.yaml") -> list[tuple[int, str | None, str, list[str]]]:
    fileobj = io.BytesIO(data)
    fileobj.name = name
    return list(extract_directory(fileobj, {}, [], {}))


def test_the_extractor_yields_every_description_and_hours_text(shipped):
    data = DIRECTORY_PATH.read_bytes()
    found = extract(data, str(DIRECTORY_PATH))
    msgids = {msgid for _, _, msgid, _ in found}
    assert {service.description for service in shipped} <= msgids
    assert {service.hours for service in shipped if service.hours} <= msgids
    assert "24h" in msgids
    lines = data.decode("utf-8").splitlines()
    for line, function, msgid, comments in found:
        assert function is None
        assert comments and comments[0].startswith("directory ")
        key = "hours" if comments[0].endswith("hours") else "description"
        assert lines[line - 1].lstrip().startswith(f"{key}:"), (line, msgid)


def test_the_extractor_refuses_a_broken_file():
    with pytest.raises(DirectoryError, match="unknown need"):
        extract(VALID_YAML.replace("[safety]", "[housing]").encode())
