"""Every text has its Indonesian translation, the template is current, and translations keep placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.checks import catalog_findings, load_catalogs
from bot.engine import load_flows
from bot.i18n import LOCALES_DIR, CatalogMissing, pick_language, translator
from bot.library import DEFAULT_FLOWS_DIR

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def catalog(language: str = "id"):
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def test_every_flow_text_is_translated():
    catalogs = load_catalogs()
    missing = [str(finding) for flow in load_flows(DEFAULT_FLOWS_DIR).values() for finding in catalog_findings(flow, flow.id, catalogs)]
    assert missing == []


def test_every_catalog_entry_is_translated_and_checked():
    untranslated = [message.id for message in catalog() if message.id and (not message.string or message.fuzzy)]
    assert untranslated == []


def test_translations_keep_their_placeholders():
    broken = [
        message.id
        for message in catalog()
        if message.id and sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string))
    ]
    assert broken == []


def test_the_template_holds_every_text_in_the_code_and_flows(tmp_path: Path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "--no-location", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with fresh.open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    known = {message.id for message in catalog() if message.id}
    assert extracted - known == set(), "new texts: run `make translations` and translate them"


def test_a_missing_translation_is_found(demo_flow):
    findings = catalog_findings(demo_flow, "demo.yaml", load_catalogs())
    assert any("no 'id' translation for 'Demo screen'" in str(finding) for finding in findings)


def test_indonesian_is_served_from_the_compiled_catalog():
    assert translator("id").text("Yes") == "Ya"
    assert translator("id").text("New case {case_code} opened.", case_code="K-1") == "Kasus baru K-1 dibuka."
    assert translator("en").text("Yes") == "Yes"


def test_a_missing_compiled_catalog_is_an_error_not_english(monkeypatch, tmp_path):
    import bot.i18n as i18n

    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.translator.cache_clear()
    try:
        with pytest.raises(CatalogMissing, match="make catalogs"):
            i18n.translator("id")
    finally:
        i18n.translator.cache_clear()


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [(("en", "id"), "en"), ((None, "en-US"), "en"), ((None, "id_ID"), "id"), ((None, "fr"), "id"), ((None, None), "id")],
)
def test_the_volunteers_choice_wins_then_telegram_then_default(candidates, expected):
    assert pick_language(*candidates) == expected
