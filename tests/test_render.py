"""What volunteers and supervisors read: referral lists, summaries, and alerts without free text."""

from __future__ import annotations

from bot.directory import Directory
from bot.engine import CaseSummarized, FlagSummary, NoteAdded, ReferralsOffered, load_flow_text
from bot.i18n import translator
from bot.local_time import load_zone
from bot.render import MESSAGE_LIMIT, AlertFacts, alert_payload, referral_lines, split_message, summary_lines, volunteer_payloads
from tests.conftest import DEMO_FLOW

DIRECTORY = {
    "version": 1,
    "services": [
        {
            "id": "hotline", "name": "National Hotline", "description": "Takes reports nationwide.",
            "needs": ["legal", "reporting"], "regions": ["national"], "contacts": [{"type": "phone", "value": "129"}],
            "source": "https://example.org/a", "last_verified": "2025-01-01", "status": "verified",
        },
        {
            "id": "old_aid", "name": "Old Legal Aid", "description": "Legal help.",
            "needs": ["legal"], "regions": ["national"], "contacts": [{"type": "phone", "value": "148"}],
            "source": "https://example.org/b", "last_verified": "2020-06-01", "status": "old",
        },
        {
            "id": "jakarta_unit", "name": "Jakarta Unit", "description": "Regional unit.",
            "needs": ["legal"], "regions": ["dki_jakarta"], "contacts": [{"type": "via", "value": "hotline"}],
            "source": "https://example.org/c", "last_verified": "2024-01-01", "status": "unverified",
        },
    ],
}


def directory() -> Directory:
    return Directory.from_document(DIRECTORY, "test")


def test_referrals_list_regional_services_first_and_flag_unconfirmed_contacts():
    event = ReferralsOffered("offer", ("legal",), "dki_jakarta")
    lines = referral_lines(event, translator("en"), directory())
    assert lines[0] == "Services for: Legal aid · DKI Jakarta"
    assert lines[1].startswith("• Jakarta Unit: through National Hotline (not verified; check before giving it out)")
    assert "• Old Legal Aid: phone 148 (last confirmed 2020-06-01; check before giving it out)" in "\n".join(lines)


def test_referrals_in_indonesian():
    lines = referral_lines(ReferralsOffered("offer", ("legal",), None), translator("id"), directory())
    assert lines[0].startswith("Layanan untuk: ")


def test_no_needs_and_no_match_are_said_plainly():
    assert "nothing to refer" in referral_lines(ReferralsOffered("o", (), None), translator("en"), directory())[0]
    lines = referral_lines(ReferralsOffered("o", ("shelter",), None), translator("en"), directory())
    assert "No service in the directory fits" in lines[1]


def test_the_summary_shows_flag_states_needs_and_follow_ups():
    event = CaseSummarized(
        "summary", "Case summary",
        (FlagSummary("danger", "P0", "Immediate danger", True, None), FlagSummary("child", "P1", "A child", True, "Misheard the age")),
        (("callback", "2026-11-25T02:30:00+00:00"),),
        ("legal",),
    )
    lines = summary_lines(event, translator("en"), "K-ABC123")
    assert lines == [
        "Case summary · K-ABC123",
        "• P0 Immediate danger (supervisor alerted)",
        "• P1 A child (withdrawn: Misheard the age)",
        "Needs: Legal aid",
        "Follow-up: callback, due 2026-11-25 09:30 WIB",  # stored in UTC, shown in the hotline's zone
    ]
    eastern = summary_lines(event, translator("en"), "K-ABC123", load_zone("Asia/Jayapura"))
    assert eastern[-1] == "Follow-up: callback, due 2026-11-25 11:30 WIT"


def test_a_note_is_acknowledged_but_never_repeated_back():
    flow = load_flow_text(DEMO_FLOW, "demo.yaml")
    [payload] = volunteer_payloads([NoteAdded("safe", "Siti, Jalan Mawar 12")], translator("en"), flow, "K-1", 3)
    assert payload["text"] == "Note saved."


def test_alerts_carry_codes_level_flags_and_stage_only():
    facts = AlertFacts("A-1", "K-1", "P0", ("Immediate danger",), "The caller is in danger.", "Demo", "safe", "Ayu")
    text = alert_payload(facts, translator("en"))["text"]
    assert text.splitlines() == [
        "🚨 P0 alert A-1 · case K-1",
        "Flags: Immediate danger",
        "Reason: The caller is in danger.",
        "Stage: Demo › safe",
        "Volunteer: Ayu",
    ]


def test_messages_are_split_under_telegrams_limit_at_part_boundaries():
    parts = ["a" * 3000, "b" * 2000, "c" * 10]
    chunks = split_message(parts)
    assert chunks == ["a" * 3000, "b" * 2000 + "\n\n" + "c" * 10]


def test_a_part_over_the_limit_is_split_by_lines_then_cut():
    lines = "\n".join(["x" * 1000] * 9)
    chunks = split_message([lines, "y" * 5000])
    assert all(len(chunk) <= MESSAGE_LIMIT for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == "x" * 9000 + "y" * 5000


def test_the_question_rides_on_the_last_message():
    from bot.engine import MsgCreated, Prompt

    flow = load_flow_text(DEMO_FLOW, "demo.yaml")
    events = [MsgCreated("welcome", "w" * 4090), MsgCreated("safe", "Can the caller talk safely?", Prompt("yes_no", (("yes", "Yes"), ("no", "No"))))]
    first, last = volunteer_payloads(events, translator("en"), flow, "K-1", 1)
    assert first["prompt"] is None and last["prompt"]["options"][0] == {"key": "yes", "label": "Yes"}
