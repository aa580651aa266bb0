"""Free-text screening finds the protocol's risk terms in informal Indonesian and English, keeps
known false friends quiet, and refuses a broken lexicon with the entry to fix."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Level, load_flows
from bot.engine.screening import Lexicon, LexiconError, Match, normalise
from bot.lexicon import LEXICON_PATH, load_lexicon

# The flag ids the protocol flows declare for screening, with the level of the risk matrix.
PROTOCOL_FLAGS = {
    "immediate_danger": Level.P0,
    "trafficker_present": Level.P0,
    "medical_emergency": Level.P0,
    "suicide_risk_acute": Level.P0,
    "transfer_imminent": Level.P0,
    "exploitation_ongoing": Level.P1,
    "sexual_violence_72h": Level.P1,
    "child_involved": Level.P1,
    "family_threatened": Level.P1,
    "suicide_risk_non_acute": Level.P1,
    "severe_distress": Level.P2,
}


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon()


def flags_of(lexicon: Lexicon, text: str) -> list[str]:
    return [match.flag for match in lexicon.screen(text)]


def lexicon_of(*entries: dict[str, Any]) -> Lexicon:
    return Lexicon.from_document({"version": 1, "entries": list(entries)}, "test.yaml")


def entry(terms: list[Any], flag: str = "immediate_danger", level: str = "P0", **extra: Any) -> dict[str, Any]:
    return {"flag": flag, "level": level, "language": "id", "terms": terms, **extra}


# --- The shipped lexicon ------------------------------------------------------------------------

POSITIVES = [
    # suicide_risk_acute
    ("gw pengen mati aja", "suicide_risk_acute"),
    ("Aku PENGEEEN MATIII 😭😭", "suicide_risk_acute"),
    ("sy udah gak pengen hidup lagi", "suicide_risk_acute"),
    ("dia bilang mau bundir", "suicide_risk_acute"),
    ("kepikiran bunuhdiri terus", "suicide_risk_acute"),
    ("mo mati aja rasanya", "suicide_risk_acute"),
    ("pernah coba gantung diri", "suicide_risk_acute"),
    ("dia mau minum racun", "suicide_risk_acute"),
    ("pengenmati", "suicide_risk_acute"),
    ("aku mau mengakhiri hidupku", "suicide_risk_acute"),
    ("lebih baik aku mati", "suicide_risk_acute"),
    ("I want to kill myself", "suicide_risk_acute"),
    ("i just wanna die", "suicide_risk_acute"),
    ("She said she'd end it all tonight", "suicide_risk_acute"),
    # immediate_danger
    ("aku disekap di rumah majikan", "immediate_danger"),
    ("kami dikurung di mess", "immediate_danger"),
    ("anak itu tersekap di gudang", "immediate_danger"),
    ("ada penyekapan di ruko itu", "immediate_danger"),
    ("tolong, saya mau dibunuh", "immediate_danger"),
    ("dia dipukulin terus sama mandor", "immediate_danger"),
    ("korban ditodong pisau", "immediate_danger"),
    ("mereka ngancem bunuh kalau lapor", "immediate_danger"),
    ("TOLONGGG tolong", "immediate_danger"),
    ("they locked us in the room", "immediate_danger"),
    ("he said he is going to kill me", "immediate_danger"),
    # trafficker_present
    ("bosnya ada disini", "trafficker_present"),
    ("majikan lg di sebelah", "trafficker_present"),
    ("hp aku dicek tiap malam", "trafficker_present"),
    ("the boss is next to me", "trafficker_present"),
    ("he reads my messages", "trafficker_present"),
    # medical_emergency
    ("temennya pingsan", "medical_emergency"),
    ("dia pendarahan hebat", "medical_emergency"),
    ("gak bisa napas", "medical_emergency"),
    ("tdk sadarkan diri sejak tadi", "medical_emergency"),
    ("she is not breathing", "medical_emergency"),
    ("I think he took an overdose", "medical_emergency"),
    # transfer_imminent
    ("kami mau dibawa ke pelabuhan malam ini", "transfer_imminent"),
    ("katanya berangkat nanti malem", "transfer_imminent"),
    ("besok diberangkatkan", "transfer_imminent"),
    ("mau nyebrang ke malaysia lewat jalur tikus", "transfer_imminent"),
    ("They are taking us to the port tonight", "transfer_imminent"),
    ("my flight is tomorrow morning", "transfer_imminent"),
    # exploitation_ongoing
    ("paspornya ditahan agen", "exploitation_ongoing"),
    ("KTP saya disita majikan", "exploitation_ongoing"),
    ("gajinya ga dibayar 3 bulan", "exploitation_ongoing"),
    ("masih punya hutang sama calo", "exploitation_ongoing"),
    ("gak boleh keluar dari mess", "exploitation_ongoing"),
    ("the agency took my passport", "exploitation_ongoing"),
    ("I owe the agent 20 million", "exploitation_ongoing"),
    # sexual_violence_72h
    ("dia diperkosa kemarin", "sexual_violence_72h"),
    ("aku dilecehin sama bos", "sexual_violence_72h"),
    ("ada pencabulan di asrama", "sexual_violence_72h"),
    ("she was raped two days ago", "sexual_violence_72h"),
    # child_involved
    ("adiknya masih SMP", "child_involved"),
    ("umurnya 15 tahun", "child_involved"),
    ("anak dibawah umur", "child_involved"),
    ("korban umur15thn", "child_involved"),
    ("my 14-year-old daughter", "child_involved"),
    # family_threatened
    ("keluarga saya diancam", "family_threatened"),
    ("dia bilang mau nyakitin mama gw", "family_threatened"),
    ("they threatened my family", "family_threatened"),
    # suicide_risk_non_acute
    ("kadang nyilet tangan", "suicide_risk_non_acute"),
    ("pernah menyakiti diri sendiri", "suicide_risk_non_acute"),
    ("capek hidup bgt", "suicide_risk_non_acute"),
    ("I have been cutting myself", "suicide_risk_non_acute"),
    ("history of self-harm", "suicide_risk_non_acute"),
    # severe_distress
    ("dia panik banget", "severe_distress"),
    ("gak bisa berhenti nangis", "severe_distress"),
    ("udah 3 hari tdk bs tdr", "severe_distress"),
    ("she can't stop crying", "severe_distress"),
]

NEGATIVES = [
    "bunuh nyamuk dulu",
    "mati lampu dari tadi",
    "HP-nya mati",
    "hpnya mati aja terus",
    "matiin aja hpnya",
    "I'd die for a coffee",
    "the deadline is tomorrow",
    "dead battery",
    "pukul 8 malam",
    "kunci motor hilang",
    "jangan panik ya",
    "dia sudah pulang dengan selamat",
    "saya mau tanya soal paspor",
    "gaji sudah dibayar",
    "umurnya 25 tahun",
    "hit me up later",
    "this cake is to die for",
    "my phone died",
    "killing time at the mall",
    "I'm just kidding",
    "pakai tanda kurung",
    "dia mengurung diri di kamar",
    "dia pengen makan",
    "waktu SMP aku suka main bola",
    "kemauan dia kuat",
    "mau ke bandara jemput ibu",
    "korban aman sekarang",
    "no suicidal thoughts reported",
    "tidak ada pikiran bunuh diri",
]


@pytest.mark.parametrize(("text", "flag"), POSITIVES)
def test_shipped_lexicon_finds_the_flag(lexicon, text, flag):
    assert flags_of(lexicon, text) == [flag]


@pytest.mark.parametrize("text", NEGATIVES)
def test_shipped_lexicon_keeps_false_friends_quiet(lexicon, text):
    assert lexicon.screen(text) == []


def test_shipped_file_loads_with_protocol_flags_and_levels(lexicon):
    assert LEXICON_PATH.name == "risk_terms.yaml" and LEXICON_PATH.is_file()
    assert lexicon.flags() == set(PROTOCOL_FLAGS)
    levels = {match.flag: match.level for text, _ in POSITIVES for match in lexicon.screen(text)}
    assert levels == PROTOCOL_FLAGS


def test_shipped_flags_are_declared_by_the_flows_at_the_same_level(lexicon):
    flows = load_flows(Path(__file__).resolve().parents[2] / "bot" / "flows")
    declared = {flag.id: flag.level for flow in flows.values() for flag in flow.flags.values()}
    assert {flag: declared.get(flag) for flag in lexicon.flags()} == PROTOCOL_FLAGS


def test_a_p0_term_in_a_long_note_is_found(lexicon):
    note = "Korban cerita soal kerja di pabrik, jam kerja panjang, makan seadanya. " * 12
    text = note + "Tadi dia bilang pengen mati aja. " + note
    [match] = lexicon.screen(text)
    assert match.flag == "suicide_risk_acute" and text[match.start : match.end] == "pengen mati"


# --- Normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gw PENGEN   matiii!!! 😭", "aku ingin mati"),
        ("gak/ga/nggak/enggak/tdk", "tidak tidak tidak tidak tidak"),
        ("udah aja mo", "sudah saja mau"),
        ("pingin pengin", "ingin ingin"),
        ("bundir", "bunuh diri"),
        ("HP-nya mati", "hpnya mati"),
        ("anak2 umur15thn", "anak anak umur 15 tahun"),
        ("Café Ñandú", "cafe nandu"),
        ("I can't breathe", "i cant breathe"),
        ("I’m here", "im here"),
        ("saat maaf", "saat maaf"),
        ("tolonggg", "tolong"),
        ("t o l o n g", "tolong"),
        ("bunuh😭diri", "bunuh diri"),
        ("  \n ", ""),
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_terms_and_text_fold_alike():
    lexicon = lexicon_of(entry(["pengen mati aja"], flag="suicide_risk_acute"))
    assert flags_of(lexicon, "aku ingin mati saja") == ["suicide_risk_acute"]
    assert flags_of(lexicon, "gw pingin mati ajaaa") == ["suicide_risk_acute"]


# --- Affixes, repeated letters, spacing ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["disekap", "tersekap", "penyekapan", "sekapnya", "nyekap", "menyekap", "disekapnya", "SEKAP"],
)
def test_a_root_matches_its_affixed_forms(text):
    assert flags_of(lexicon_of(entry(["sekap"])), text) == ["immediate_danger"]


@pytest.mark.parametrize("text", ["ditahan", "nahan", "menahan", "penahanan", "tahannya", "ditahannya"])
def test_nasal_sound_change_is_undone(text):
    assert flags_of(lexicon_of(entry(["tahan"])), text) == ["immediate_danger"]


def test_informal_in_suffix_stands_for_i_and_kan():
    lexicon = lexicon_of(entry(["sakiti ibu"], flag="family_threatened", level="P1"))
    assert flags_of(lexicon, "mau nyakitin ibu") == ["family_threatened"]
    assert flags_of(lexicon, "mau menyakiti ibu") == ["family_threatened"]


def test_a_derived_term_does_not_match_its_root():
    lexicon = lexicon_of(entry(["dipukul"]))
    assert flags_of(lexicon, "dipukulin") == ["immediate_danger"]
    assert lexicon.screen("pukul 8 malam") == []


def test_short_term_words_take_clitics_only():
    lexicon = lexicon_of(entry(["mau"], flag="severe_distress", level="P2"))
    assert flags_of(lexicon, "maunya") == ["severe_distress"]
    assert lexicon.screen("kemauan") == []


@pytest.mark.parametrize("text", ["tolong", "tolonggg", "tolongg", "TOLOOONG", "t o l o n g"])
def test_repeated_letters_match_either_way(text):
    assert flags_of(lexicon_of(entry(["tolong"])), text) == ["immediate_danger"]


@pytest.mark.parametrize("text", ["maaf", "maaaaf", "maf"])
def test_real_double_letters_still_match(text):
    assert flags_of(lexicon_of(entry(["maaf"], flag="severe_distress", level="P2")), text) == ["severe_distress"]


def test_term_with_repeated_letters_matches_plain_text():
    assert flags_of(lexicon_of(entry(["matiii"])), "mati") == ["immediate_danger"]


@pytest.mark.parametrize("text", ["bunuh diri", "bunuhdiri", "bunuh   diri", "bunuh.diri", "bunuh 🔪 diri", "BUNUH-DIRI", "bunuhdirinya"])
def test_spaces_punctuation_and_emoji_between_words_do_not_matter(text):
    assert flags_of(lexicon_of(entry(["bunuh diri"], flag="suicide_risk_acute")), text) == ["suicide_risk_acute"]


def test_fillers_may_stand_between_term_words_but_not_other_words():
    lexicon = lexicon_of(entry(["ingin mati"], flag="suicide_risk_acute"))
    assert flags_of(lexicon, "aku pengen banget mati") == ["suicide_risk_acute"]
    assert flags_of(lexicon, "pengen sih sebenernya mati") == []
    assert flags_of(lexicon, "pengen tidak mati") == []


def test_words_typed_together_are_split_into_known_words():
    lexicon = lexicon_of(entry(["aku ingin mati"], flag="suicide_risk_acute"))
    assert flags_of(lexicon, "gwpengenmati") == ["suicide_risk_acute"]


# --- Offsets, one match per flag, order ---------------------------------------------------------


def test_offsets_point_into_the_original_text():
    lexicon = lexicon_of(entry(["ingin mati"], flag="suicide_risk_acute"), entry(["sekap"]))
    text = "Halo kak 😭 Gw PENGEEN matiii, dia DISEKAP!"
    matches = {match.flag: text[match.start : match.end] for match in lexicon.screen(text)}
    assert matches == {"suicide_risk_acute": "PENGEEN matiii", "immediate_danger": "DISEKAP"}


def test_offsets_survive_accents_and_apostrophes():
    lexicon = lexicon_of(entry(["cant breathe"], flag="medical_emergency"))
    text = "Él dice: I can’t breathe"
    [match] = lexicon.screen(text)
    assert text[match.start : match.end] == "can’t breathe"


def test_offsets_of_folded_and_fused_words_cover_the_whole_word():
    lexicon = lexicon_of(entry(["bunuh diri"], flag="suicide_risk_acute"))
    for text, expected in [("mau bundir aja", "bundir"), ("mau bunuhdiri", "bunuhdiri")]:
        [match] = lexicon.screen(text)
        assert text[match.start : match.end] == expected


def test_one_match_per_flag_the_first():
    lexicon = lexicon_of(entry(["sekap", "kurung"]))
    text = "dikurung lalu disekap lalu dikurung lagi"
    assert lexicon.screen(text) == [Match("immediate_danger", Level.P0, "kurung", 0, 8)]


def test_matches_are_ordered_most_urgent_first():
    lexicon = lexicon_of(
        entry(["panik"], flag="severe_distress", level="P2"),
        entry(["paspor ditahan"], flag="exploitation_ongoing", level="P1"),
        entry(["sekap"]),
    )
    text = "aku panik, paspor ditahan, dan aku disekap"
    assert [(match.flag, match.level) for match in lexicon.screen(text)] == [
        ("immediate_danger", Level.P0),
        ("exploitation_ongoing", Level.P1),
        ("severe_distress", Level.P2),
    ]


def test_empty_text_has_no_matches(lexicon):
    assert lexicon.screen("") == [] and lexicon.screen("   😭 !!") == []


# --- except -------------------------------------------------------------------------------------


def test_except_cancels_an_overlapping_match_only():
    lexicon = lexicon_of(entry(["mau bunuh"], **{"except": ["bunuh nyamuk"]}))
    assert lexicon.screen("aku mau bunuh nyamuk") == []
    text = "mau bunuh nyamuk, terus dia mau bunuh aku"
    [match] = lexicon.screen(text)
    assert match.start == text.index("mau bunuh aku") and text[match.start : match.end] == "mau bunuh"


def test_except_belongs_to_its_entry():
    lexicon = lexicon_of(
        entry(["mati"], flag="suicide_risk_acute", **{"except": ["mati lampu"]}),
        entry(["lampu"], flag="severe_distress", level="P2"),
    )
    assert flags_of(lexicon, "mati lampu") == ["severe_distress"]
    assert flags_of(lexicon, "aku mati") == ["suicide_risk_acute"]


def test_except_uses_the_same_matching_rules():
    lexicon = lexicon_of(entry(["mati"], flag="suicide_risk_acute", **{"except": ["hp mati"]}))
    assert lexicon.screen("HP-nya udah matiii") == []


# --- Lexicon errors -----------------------------------------------------------------------------


def good_entry(**changes: Any) -> dict[str, Any]:
    return {**entry(["sekap"]), **changes}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], r"^test\.yaml: the lexicon must be a mapping"),
        ({"version": 1, "entries": [good_entry()], "extra": 1}, r"^test\.yaml: unknown top-level key\(s\) 'extra'"),
        ({"version": 2, "entries": [good_entry()]}, r"^test\.yaml: unsupported version 2"),
        ({"version": "1", "entries": [good_entry()]}, r"unsupported version '1'"),
        ({"version": True, "entries": [good_entry()]}, r"unsupported version True"),
        ({"entries": [good_entry()]}, r"unsupported version None"),
        ({"version": 1, "entries": []}, r"'entries' must be a non-empty list"),
        ({"version": 1, "entries": {"a": 1}}, r"'entries' must be a non-empty list"),
        ({"version": 1, "entries": [good_entry(), "sekap"]}, r"^test\.yaml: entries\[1\]: an entry must be a mapping"),
        ({"version": 1, "entries": [good_entry(terms_=["x"])]}, r"entries\[0\]: unknown key\(s\) 'terms_'"),
        ({"version": 1, "entries": [{"flag": "x", "level": "P0", "terms": ["a"]}]}, r"entries\[0\]: missing key\(s\) 'language'"),
        ({"version": 1, "entries": [good_entry(flag="Immediate Danger")]}, r"entries\[0\]: flag must be an id"),
        ({"version": 1, "entries": [good_entry(level="P9")]}, r"entries\[0\]: unknown level 'P9'"),
        ({"version": 1, "entries": [good_entry(level=None)]}, r"entries\[0\]: unknown level None"),
        ({"version": 1, "entries": [good_entry(language="jv")]}, r"entries\[0\]: unknown language 'jv'"),
        ({"version": 1, "entries": [good_entry(language=["id"])]}, r"entries\[0\]: unknown language \['id'\]"),
        ({"version": 1, "entries": [good_entry(terms=[])]}, r"entries\[0\]: terms is empty"),
        ({"version": 1, "entries": [good_entry(terms="sekap")]}, r"entries\[0\]: terms must be a list"),
        ({"version": 1, "entries": [good_entry(terms=["sekap", False])]}, r"entries\[0\]: terms\[1\]: False is not a string \(quote it\)"),
        ({"version": 1, "entries": [good_entry(terms=["sekap", 15])]}, r"entries\[0\]: terms\[1\]: 15 is not a string"),
        (
            {"version": 1, "entries": [good_entry(), good_entry(terms=["ok", "!!!"])]},
            r"entries\[1\] \(flag 'immediate_danger'\): terms\[1\]: '!!!' has no letters or digits",
        ),
        ({"version": 1, "entries": [good_entry(**{"except": "x"})]}, r"entries\[0\]: except must be a list"),
        ({"version": 1, "entries": [good_entry(**{"except": [None]})]}, r"entries\[0\]: except\[0\]: None is not a string"),
        (
            {"version": 1, "entries": [good_entry(), good_entry(level="P1", terms=["kurung"])]},
            r"entries\[1\] \(flag 'immediate_danger'\): level P1 differs from P0 in entries\[0\]",
        ),
        (
            {"version": 1, "entries": [good_entry(), good_entry(flag="medical_emergency", terms=["Sekap!"])]},
            r"entries\[1\] \(flag 'medical_emergency'\): term 'Sekap!' is also a term of flag 'immediate_danger' in entries\[0\]",
        ),
    ],
)
def test_from_document_refuses_bad_data(document, message):
    with pytest.raises(LexiconError, match=message):
        Lexicon.from_document(document, "test.yaml")


def test_origin_defaults_to_a_placeholder():
    with pytest.raises(LexiconError, match=r"^<lexicon>: "):
        Lexicon.from_document({"version": 1, "entries": []})


def test_the_same_phrase_twice_in_one_flag_is_fine():
    lexicon = lexicon_of(entry(["pengen mati", "ingin mati"], flag="suicide_risk_acute"))
    assert lexicon.flags() == {"suicide_risk_acute"}


# --- Loading from disk --------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terms.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_lexicon_reads_a_file(tmp_path):
    path = write(tmp_path, "version: 1\nentries:\n  - {flag: immediate_danger, level: P0, language: id, terms: [sekap]}\n")
    assert flags_of(load_lexicon(path), "disekap") == ["immediate_danger"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nentries: [\n", r"terms\.yaml:\d+: invalid YAML"),
        ("", r"terms\.yaml: the lexicon file is empty"),
        ("version: 1\nentries:\n  - {flag: x, level: P0, language: id, terms: [no]}\n", r"terms\.yaml: entries\[0\].*False is not a string"),
    ],
)
def test_load_lexicon_names_the_file_on_errors(tmp_path, text, message):
    with pytest.raises(LexiconError, match=message):
        load_lexicon(write(tmp_path, text))


def test_load_lexicon_names_a_missing_file(tmp_path):
    with pytest.raises(LexiconError, match=r"missing\.yaml: cannot read the lexicon"):
        load_lexicon(tmp_path / "missing.yaml")


def test_load_lexicon_names_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "terms.yaml"
    path.write_bytes(b"version: 1\nentries: [\xff]\n")
    with pytest.raises(LexiconError, match=r"terms\.yaml: the lexicon is not UTF-8"):
        load_lexicon(path)


# --- Purity -------------------------------------------------------------------------------------


def test_the_screening_module_does_no_io():
    source = Path(__file__).resolve().parents[2] / "bot" / "engine" / "screening.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported & {"yaml", "telegram", "sqlalchemy", "storage", "pathlib", "os", "io", "time", "datetime"} == set()
