"""Reloading flows while the bot runs: a checked change goes live for new cases, open cases finish on
their revision, anything that would not pass `flows check --strict` is refused and changes nothing."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations
from sqlalchemy import select

from bot.cases import CaseService
from bot.directory import Directory
from bot.engine import Answer, load_flow_text
from bot.engine import spec
import bot.i18n as i18n
import bot.library as library_module
from bot.i18n import Translator, translator
from bot.ladder import Ladder
from bot.library import FlowLibrary
from bot.reloading import MAX_REASONS, ReloadOutcome, ReloadStatus, compiled_catalogs, missing_flows, shorten
from storage import Database, register_flow_revision
from storage.models import FlowRevision, OutboxMessage
from tests.conftest import DEMO_FLOW
from tests.flowdir import break_a_route, change_the_intro, copy_flows, set_revision

INTRO_EN_R1 = "Read the short consent script"
INTRO_EN_R2 = 'Read aloud: "You can skip any question'


def library_on(flows: Path, database: Database, clock) -> FlowLibrary:
    library = FlowLibrary.from_directory(flows)
    with database.transaction() as session:
        library.register(session, clock())
    return library


def stored_revisions(database: Database) -> list[tuple[str, int]]:
    with database.transaction() as session:
        return [(row.flow_id, row.revision) for row in session.scalars(select(FlowRevision).order_by(FlowRevision.revision))]


def test_a_valid_change_with_a_new_revision_is_picked_up(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    set_revision(flows, 2)
    change_the_intro(flows)
    outcome = library.reload(sqlite_database, clock())
    assert outcome == ReloadOutcome(ReloadStatus.RELOADED, ("protocol r2",), ("protocol r1 -> r2",))
    assert library.latest("protocol").flow.revision == 2
    assert stored_revisions(sqlite_database) == [("protocol", 1), ("protocol", 2)]
    # The old revision stays compiled for the cases on it.
    with sqlite_database.transaction() as session:
        old = library.machine(session, "protocol", 1).flow
    assert old.node("consent_intro").text.startswith(INTRO_EN_R1)
    assert library.latest("protocol").flow.node("consent_intro").text.startswith(INTRO_EN_R2)


def test_an_invalid_change_is_refused_with_the_reason_and_the_old_flows_keep_serving(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    set_revision(flows, 2)
    break_a_route(flows)
    outcome = library.reload(sqlite_database, clock())
    assert outcome.status is ReloadStatus.REFUSED and outcome.running == ("protocol r1",)
    assert any("consent_nowhere" in reason and "00_opening.yaml" in reason for reason in outcome.reasons), outcome.reasons
    assert str(tmp_path) not in " ".join(outcome.reasons)  # paths are shown from the flows directory
    assert library.latest("protocol").flow.revision == 1
    assert stored_revisions(sqlite_database) == [("protocol", 1)]  # nothing of the refused revision kept


def test_a_warning_refuses_a_reload_as_it_fails_ci(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    set_revision(flows, 2)
    opening = flows / "protocol" / "00_opening.yaml"
    opening.write_text(opening.read_text().replace("keep it brief.", "keep it short."))  # no translation yet
    outcome = library.reload(sqlite_database, clock())
    assert outcome.status is ReloadStatus.REFUSED
    assert any("no 'id' translation" in reason for reason in outcome.reasons), outcome.reasons
    assert library.latest("protocol").flow.revision == 1


def test_a_changed_flow_that_kept_its_revision_is_refused(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    change_the_intro(flows)  # a valid change, but still revision 1
    outcome = library.reload(sqlite_database, clock())
    assert outcome.status is ReloadStatus.REFUSED
    assert any("changed but kept revision 1; raise its revision number" in reason for reason in outcome.reasons)
    assert library.latest("protocol").flow.node("consent_intro").text.startswith(INTRO_EN_R1)


def test_a_revision_another_process_stored_with_other_content_is_refused(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    with sqlite_database.transaction() as session:
        register_flow_revision(session, flow_id="protocol", revision=2, spec_version=1, checksum="0" * 64, source="x", now=clock())
    set_revision(flows, 2)
    change_the_intro(flows)
    outcome = library.reload(sqlite_database, clock())
    assert outcome.status is ReloadStatus.REFUSED
    assert any("raise its revision number" in reason for reason in outcome.reasons), outcome.reasons
    assert library.latest("protocol").flow.revision == 1


def test_no_change_says_so(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    outcome = library.reload(sqlite_database, clock())
    assert outcome == ReloadOutcome(ReloadStatus.UNCHANGED, ("protocol r1",))
    assert outcome.message(translator("en")) == "No change: the flows directory holds what is running (protocol r1)."


def test_two_reloads_at_once_run_one_after_the_other(tmp_path, sqlite_database, clock):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    set_revision(flows, 2)
    change_the_intro(flows)
    outcomes: list[ReloadOutcome] = []
    threads = [threading.Thread(target=lambda: outcomes.append(library.reload(sqlite_database, clock()))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.status.value for outcome in outcomes) == ["reloaded", "unchanged"]


def test_open_cases_finish_on_their_revision_and_new_cases_start_on_the_new_one(tmp_path, database, clock):
    flows = copy_flows(tmp_path)
    library = FlowLibrary.from_directory(flows)
    service = CaseService(
        database, library, start_flow="protocol", supervisor_language="en", directory=Directory([]),
        ladder=Ladder(lambda session, tier: ("supervisors",)), clock=clock,
    )
    service.register_flows()
    old = service.open_case("v1", "en").case
    set_revision(flows, 2)
    change_the_intro(flows)
    assert library.reload(database, clock()).status is ReloadStatus.RELOADED
    new = service.open_case("v2", "en").case
    assert (old.flow_revision, new.flow_revision) == (1, 2)
    assert INTRO_EN_R1 in first_text(database, "v1") and INTRO_EN_R2 in first_text(database, "v2")
    stepped = service.act(old.id, Answer("yes"))
    assert stepped.case.flow_revision == 1 and stepped.case.step > old.step


def first_text(database: Database, volunteer: str) -> str:
    with database.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return next(str(row.payload["text"]) for row in rows if row.recipient.endswith(volunteer))


def test_a_library_not_loaded_from_a_directory_refuses_to_reload(sqlite_database, clock):
    library = FlowLibrary({"demo": load_flow_text(DEMO_FLOW, "demo.yaml")})
    outcome = library.reload(sqlite_database, clock())
    assert outcome.status is ReloadStatus.REFUSED and outcome.running == ("demo r1",)


def test_a_flow_gone_from_the_directory_is_refused():
    demo = load_flow_text(DEMO_FLOW, "demo.yaml")
    assert missing_flows([demo], ["demo", "intake"]) == [
        "flow 'intake' is gone from the flows directory; a reload never removes a flow (restart to remove it)"
    ]


def test_long_refusals_are_shortened(tmp_path):
    directory = tmp_path / "flows"
    problems = [f"{directory}/protocol/flow.yaml:{line}: " + "x" * 1000 for line in range(20)]
    lines = shorten(problems, directory)
    assert len(lines) == MAX_REASONS and lines[-1] == f"... {20 - MAX_REASONS + 1} more: run `pendamping flows check --strict`"
    assert all(line.startswith("flows/protocol/flow.yaml:") and len(line) <= 300 for line in lines[:-1])


def test_messages_in_the_supervisors_language():
    reloaded = ReloadOutcome(ReloadStatus.RELOADED, ("protocol r4",), ("protocol r3 -> r4",))
    assert reloaded.message(translator("en")).startswith("Flows reloaded: protocol r3 -> r4. New cases start on the new revision")
    assert reloaded.message(translator("id")).startswith("Alur protokol dimuat ulang: protocol r3 -> r4.")
    refused = ReloadOutcome(ReloadStatus.REFUSED, ("protocol r3",), reasons=("flows/protocol/flow.yaml:1: bad",))
    assert refused.message(translator("id")) == "Muat ulang ditolak; yang berjalan tetap protocol r3. Alasannya:\nflows/protocol/flow.yaml:1: bad"
    assert refused.summary == "flow reload refused; still running protocol r3: flows/protocol/flow.yaml:1: bad"


def _locales(tmp_path: Path, source: str, compiled: str | None) -> Path:
    """A catalog whose .po translates 'Yes' as `source` and whose .mo (if any) as `compiled`."""
    folder = tmp_path / "locales" / "id" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    for name, string, writer in (("messages.po", source, write_po), ("messages.mo", compiled, write_mo)):
        if string is None:
            continue
        catalog = Catalog(locale="id")
        catalog.add("Yes", string)
        with (folder / name).open("wb") as handle:
            writer(handle, catalog)
    return tmp_path / "locales"


def test_a_catalog_not_compiled_since_its_last_edit_is_refused(tmp_path):
    flow = load_flow_text(DEMO_FLOW.replace("title: Demo screen", "title: 'Yes'"), "demo.yaml")
    problems, _ = compiled_catalogs([flow], _locales(tmp_path / "stale", "Ya", "Iya"))
    assert len(problems) == 1 and "not compiled yet" in problems[0] and "make catalogs" in problems[0]
    problems, _ = compiled_catalogs([flow], _locales(tmp_path / "missing", "Ya", None))
    assert len(problems) == 1
    problems, catalogs = compiled_catalogs([flow], _locales(tmp_path / "fresh", "Ya", "Ya"))
    assert problems == [] and catalogs["id"].gettext("Yes") == "Ya"


def test_refreshed_translations_keep_the_texts_only_the_old_catalog_had(tmp_path):
    old, new = Translations(), Translations()
    old._catalog = {"Old text": "Teks lama", "Yes": "Ya"}  # type: ignore[attr-defined]
    new._catalog = {"Yes": "Iya"}  # type: ignore[attr-defined]
    language = Translator("id", old)
    assert language.refresh(new) is True
    assert language.text("Yes") == "Iya" and language.text("Old text") == "Teks lama"
    same = Translations()
    same._catalog = {"Yes": "Iya"}  # type: ignore[attr-defined]
    assert language.refresh(same) is False  # nothing new: kept as it was, no deeper chain of fallbacks
    assert language._translations is new


def test_a_stored_revision_of_an_older_spec_version_is_migrated_when_a_case_needs_it(monkeypatch, sqlite_database, clock):
    """Spec migrations apply to stored revisions too: a case started before an upgrade finishes."""
    old_source = DEMO_FLOW.replace("title: Demo screen", "name: Demo screen").replace("revision: 1", "revision: 7")
    with sqlite_database.transaction() as session:
        register_flow_revision(session, flow_id="demo", revision=7, spec_version=1, checksum="1" * 64, source=old_source, now=clock())

    def rename_title(document):
        document["title"] = document.pop("name")
        return document

    monkeypatch.setattr(spec, "SPEC_VERSION", 2)
    monkeypatch.setattr(spec, "MIGRATIONS", {1: rename_title})
    library = FlowLibrary({"demo": load_flow_text(DEMO_FLOW.replace("spec_version: 1", "spec_version: 2"), "demo.yaml")})
    with sqlite_database.transaction() as session:
        flow = library.machine(session, "demo", 7).flow
    assert (flow.title, flow.spec_version, flow.revision) == ("Demo screen", 2, 7)


def test_a_change_of_translations_alone_is_reloaded_and_said(tmp_path, sqlite_database, clock, monkeypatch):
    flows = copy_flows(tmp_path)
    library = library_on(flows, sqlite_database, clock)
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES_DIR, locales)
    folder = locales / "id" / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="id")
    msgid = library.latest("protocol").flow.node("consent_intro").text
    catalog[msgid].string = "Teks pembuka yang diperbarui."
    with (folder / "messages.po").open("wb") as handle:
        write_po(handle, catalog, width=0)
    with (folder / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    served = Translator("id", Translations.load(str(i18n.LOCALES_DIR), ["id"], i18n.DOMAIN))
    monkeypatch.setattr(i18n, "LOCALES_DIR", locales)
    monkeypatch.setattr(library_module, "translator", lambda language: served)  # not the process-wide one
    outcome = library.reload(sqlite_database, clock())
    assert (outcome.status, outcome.changes) == (ReloadStatus.RELOADED, ("translations (id)",))
    assert served.text(msgid) == "Teks pembuka yang diperbarui."
    assert library.reload(sqlite_database, clock()).status is ReloadStatus.UNCHANGED
