"""Scripted volunteer conversations over the shipped protocol, one input per line.

Answers are option keys (or numbers), so one script serves both languages. Each scenario is one
of the conversations the protocol must carry; the comments say what must happen.
"""

from __future__ import annotations

ASQ_ALL_NO = ["no", "no", "no", "no"]

SCENARIOS: dict[str, list[str]] = {
    # A child victim in immediate danger: P0 at the safety step, then the child and exploitation
    # flags, support for an adolescent, referrals in Jawa Barat. The volunteer goes back once.
    "child_in_danger": [
        "yes", "yes", "no", "no", "yes", *ASQ_ALL_NO, "none", "no", "yes", "14", "/back", "14", "no", "full",
        "child_victim", "sexual_exploitation", "movement_restricted", "still_in", "jawa_barat", "no",
        "adolescent", "yes", "1,2,3", "hotline_contacts", "yes", "no", "no", "referred",
    ],
    # An adult survivor, now safe, who wants legal aid: no escalation; legal aid and LPSK offered;
    # monitoring three months after the return home.
    "adult_survivor_legal_aid": [
        "yes", "no", "no", "no", "yes", *ASQ_ALL_NO, "none", "no", "yes", "29", "no", "full",
        "adult_victim", "deceptive_recruitment labour_exploitation", "documents_held debt", "out_safe",
        "jawa_timur", "no", "adult", "no", "legal", "contact_service", "yes", "no", "yes", "referred",
    ],
    # A parent reporting a child being taken to a port tonight: P0 transfer, a callback in 2 hours.
    "parent_port_tonight": [
        "yes", "no", "no", "no", "no", "none", "within_hours", "yes", "15", "no", "full", "family_member",
        "danger", "deceptive_recruitment", "not_known", "still_in", "kepulauan_riau", "yes", "Batam",
        "family", "no", "safety reporting cross_border", "hotline_contacts", "yes", "yes", "phone_call", "2",
        "no", "referred",
    ],
    # A community report with no immediate danger: a P2 flag, nobody paged.
    "community_report": [
        "yes", "no", "no", "no", "no", "none", "no", "no", "no", "no", "full", "community_reporter", "adults",
        "labour_exploitation", "not_known", "not_known", "kalimantan_barat", "no", "reporter", "no",
        "reporting", "contact_service", "yes", "no", "no", "goal_met",
    ],
    # A caller who cannot talk safely: the safe-contact protocol, a P1 page, a callback agreed.
    "cannot_talk_safely": ["no", "no", "yes", "text_message", "20", "no", "caller_ended"],
    # The call drops with a P0 flag open: the supervisor is paged again.
    "dropped_with_p0": ["yes", "yes", "yes", "no", "call_dropped"],
    # The person at the console also plays the supervisor: takes the alert, relays, resolves.
    "supervisor_takes_over": [
        "yes", "yes", "/queue", "/take", "/take", "/reply Telepon 112 sekarang; saya menghubungi unit PPA.",
        "/msg Polisi sudah dalam perjalanan.", "/resolve ditangani polisi", "/queue", "/dropped",
    ],
    # Typing mistakes are answered and the question repeated; commands along the way.
    "mistakes": ["maybe", "1", "/help", "/frobnicate", "/note caller sounds calm", "/pause", "2", "/resume", "2", "/flag", "/quit"],
}
