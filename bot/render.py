"""Turns engine events into what people read: one message per step for the volunteer, alerts for supervisors.

Payloads are plain JSON so the outbox can hold them and any adapter (console, Telegram) can show
them: `text`, and for a question a `prompt` with its options already translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from bot.directory import NEED_LABELS, PROVINCES, Directory, Service
from bot.engine import (
    CaseSummarized,
    EscalationRequested,
    Event,
    FlagOverridden,
    FlagProposed,
    FlagRaised,
    Flow,
    FollowUpScheduled,
    InputRejected,
    MsgCreated,
    NoteAdded,
    ReferralsOffered,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    WentBack,
)
from bot.i18n import N_, Translator
from bot.local_time import DEFAULT_ZONE, date_and_time

__all__ = [
    "DONE",
    "MESSAGE_LIMIT",
    "AlertFacts",
    "alert_payload",
    "follow_up_label",
    "referral_lines",
    "split_message",
    "summary_lines",
    "volunteer_payloads",
]

DONE = N_("Done")  # the button that sends a multi-choice answer ticked on Telegram

# What people read for the follow-up kinds the protocol schedules; another flow's kind is shown as named.
FOLLOW_UP_LABELS = {"callback": N_("callback"), "monitoring_3_months": N_("three-month monitoring")}


def follow_up_label(kind: str, translator: Translator) -> str:
    return translator.text(FOLLOW_UP_LABELS.get(kind, kind))

# Telegram refuses a text over 4096 characters; a step's message is split below it.
MESSAGE_LIMIT = 4096

CONTACT_LABELS = {
    "phone": N_("phone"),
    "whatsapp": N_("WhatsApp"),
    "website": N_("website"),
    "email": N_("email"),
    "app": N_("app"),
}
STATUS_NOTES = {
    "old": N_("last confirmed {date}; check before giving it out"),
    "unverified": N_("not verified; check before giving it out"),
}


@dataclass(frozen=True)
class AlertFacts:
    """What a supervisor's alert may say. Never the caller's identity, never free-text answers."""

    alert_code: str
    case_code: str
    level: str
    flag_labels: tuple[str, ...]
    reason: str
    flow_title: str
    node: str
    volunteer_name: str


def volunteer_payloads(
    events: Iterable[Event],
    translator: Translator,
    flow: Flow,
    case_code: str,
    step: int,
    alert_codes: dict[int, str] | None = None,
    directory: Directory | None = None,
    alert_notes: dict[int, str] | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> list[dict[str, Any]]:
    """What a step sends the volunteer: usually one message, more when it is over Telegram's limit.

    The question's options go with the last message, so its keyboard sits under the question.
    """
    _ = translator.text
    parts: list[str] = []
    prompt: dict[str, Any] | None = None
    alert_codes = alert_codes or {}

    def flag_label(flag_id: str) -> str:
        return _(flow.flags[flag_id].label) if flag_id in flow.flags else flag_id

    for index, event in enumerate(events):
        if isinstance(event, SessionStarted):
            parts.append(_(N_("New case {case_code} opened."), case_code=case_code))
        elif isinstance(event, SessionResumed):
            parts.append(_(N_("Resuming case {case_code}."), case_code=case_code))
        elif isinstance(event, WentBack):
            parts.append(_(N_("Back to the previous question.")))
        elif isinstance(event, InputRejected):
            parts.append(_(event.reason, **event.params))
        elif isinstance(event, FlagRaised):
            parts.append(
                _(N_("⚠️ Risk flag {level}: {label}"), level=event.level, label=_(event.label)) + "\n" + _(event.guidance)
            )
        elif isinstance(event, EscalationRequested) and (alert_notes or {}).get(index) == "review":
            parts.append(_(N_("Added to the supervisors' review queue ({level}, alert {alert_code}); nobody is paged for this level."),
                           level=event.level, alert_code=alert_codes.get(index, "?")))
        elif isinstance(event, EscalationRequested):
            parts.append(
                _(
                    N_("🚨 A supervisor has been alerted ({level}, alert {alert_code}). Act on the guidance now; do not wait."),
                    level=event.level,
                    alert_code=alert_codes.get(index, "?"),
                )
            )
            if (alert_notes or {}).get(index) == "unroutable":
                parts.append(_(N_("⛔ No supervisor is registered to receive this alert. Phone your supervisor now, and use the emergency numbers if anyone is in danger.")))
        elif isinstance(event, MsgCreated):
            text = _(event.text)
            if event.prompt is not None:
                prompt = _prompt(event, translator, step)
                previous = prompt.get("previous_label")
                if previous is not None:
                    text += "\n" + _(N_("(Recorded earlier: {answer})"), answer=previous)
            parts.append(text)
        elif isinstance(event, SessionEnded):
            parts.append(_(N_("Case {case_code} is closed."), case_code=case_code))
        elif isinstance(event, SessionPaused):
            parts.append(_(N_("Case {case_code} is paused. Resume it when you are ready."), case_code=case_code))
        elif isinstance(event, NoteAdded):
            parts.append(_(N_("Note saved.")))
        elif isinstance(event, FlagProposed):
            parts.append(
                _(N_("Possible risk in what was typed: {label} ({level}). If it fits, raise the flag: /flag {flag}"),
                  label=flag_label(event.flag), level=event.level, flag=event.flag)
            )
        elif isinstance(event, FlagOverridden):
            parts.append(_(N_("Flag withdrawn: {label}. The reason is recorded."), label=flag_label(event.flag)))
        elif isinstance(event, ReferralsOffered):
            if event.text:
                parts.append(_(event.text))
            parts.append("\n".join(referral_lines(event, translator, directory)))
        elif isinstance(event, FollowUpScheduled):
            due = date_and_time(event.due_at, zone)
            kind = follow_up_label(event.kind, translator)
            parts.append(_(event.text) if event.text else _(N_("Follow-up recorded: {kind}, due {due}."), kind=kind, due=due))
        elif isinstance(event, CaseSummarized):
            parts.append("\n".join(summary_lines(event, translator, case_code, zone)))
    chunks = split_message(parts)
    return [
        {"text": chunk, "prompt": prompt if index == len(chunks) - 1 else None, "case_code": case_code, "flow": flow.id}
        for index, chunk in enumerate(chunks)
    ]


def split_message(parts: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join parts with blank lines into as few messages as fit the limit; split long parts by line."""
    pieces: list[str] = []
    for part in parts:
        pieces.extend(_fit(part, limit))
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 2 + len(piece) <= limit:
            chunks[-1] += "\n\n" + piece
        else:
            chunks.append(piece)
    return chunks


def _fit(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    fitted: list[str] = []
    for line in text.split("\n"):
        while len(line) > limit:  # a single line longer than a message: cut it
            fitted.append(line[:limit])
            line = line[limit:]
        if fitted and len(fitted[-1]) + 1 + len(line) <= limit:
            fitted[-1] += "\n" + line
        else:
            fitted.append(line)
    return fitted


def _prompt(event: MsgCreated, translator: Translator, step: int) -> dict[str, Any]:
    assert event.prompt is not None
    spec = event.prompt
    options = [{"key": key, "label": translator.text(label)} for key, label in spec.options]
    previous = spec.previous_answer
    if previous is not None and options:
        previous = next((option["label"] for option in options if option["key"] == previous), previous)
    several = spec.type == "multi_choice"
    hint = translator.text(N_("(Type one or more numbers, such as 1,3.)")) if several else None
    return {
        "node": event.node,
        "type": spec.type,
        "options": options,
        "hint": hint,
        # The label of the button that sends the options ticked on a keyboard that has one.
        "done": translator.text(DONE) if several else None,
        "min": spec.minimum,
        "max": spec.maximum,
        "step": step,
        "previous_label": None if previous is None else str(previous),
    }


def alert_payload(facts: AlertFacts, translator: Translator) -> dict[str, Any]:
    _ = translator.text
    flags = ", ".join(_(label) for label in facts.flag_labels) or _(N_("none (asked by the volunteer)"))
    lines = [
        _(N_("🚨 {level} alert {alert_code} · case {case_code}"), level=facts.level, alert_code=facts.alert_code, case_code=facts.case_code),
        _(N_("Flags: {flags}"), flags=flags),
        _(N_("Reason: {reason}"), reason=_(facts.reason)),
        _(N_("Stage: {flow} › {node}"), flow=_(facts.flow_title), node=facts.node),
        _(N_("Volunteer: {name}"), name=facts.volunteer_name),
    ]
    return {"text": "\n".join(lines), "alert_code": facts.alert_code, "case_code": facts.case_code, "level": facts.level}


def referral_lines(event: ReferralsOffered, translator: Translator, directory: Directory | None) -> list[str]:
    """Services for the needs asked, regional ones first; unconfirmed contacts say so."""
    _ = translator.text
    if not event.needs:
        return [_(N_("No needs were chosen, so there is nothing to refer to yet."))]
    # A province the directory does not know ("abroad", "not known") means national services only;
    # a need it does not know is left out. Rendering must never fail in the middle of a call.
    region = event.region if event.region in PROVINCES else None
    needs = ", ".join(_(NEED_LABELS.get(need, need)) for need in event.needs)
    heading = _(N_("Services for: {needs}"), needs=needs)
    if region:
        heading += " · " + PROVINCES[region]
    known = [need for need in event.needs if need in NEED_LABELS]
    services = directory.search(known, region) if directory is not None and known else []
    if not services:
        return [heading, _(N_("No service in the directory fits; ask your supervisor."))]
    return [heading, *(_service_line(service, translator, directory) for service in services)]


def _service_line(service: Service, translator: Translator, directory: Directory | None) -> str:
    def contact_text(kind: str, value: str) -> str:
        # "via" names another entry (a regional unit reached through SAPA 129, say): show that one.
        if kind == "via" and directory is not None and value in directory:
            return translator.text(N_("through {service}"), service=directory.get(value).name)
        label = CONTACT_LABELS.get(kind)
        return f"{translator.text(label) if label else kind} {value}"

    contacts = ", ".join(contact_text(contact.type, contact.value) for contact in service.contacts)
    line = f"• {service.name}: {contacts}"
    note = STATUS_NOTES.get(service.status)
    if note:
        line += " (" + translator.text(note, date=service.last_verified.isoformat()) + ")"
    return line + "\n  " + translator.text(service.description)


def summary_lines(event: CaseSummarized, translator: Translator, case_code: str, zone: ZoneInfo = DEFAULT_ZONE) -> list[str]:
    _ = translator.text
    lines = [_(event.title) + f" · {case_code}"]
    if not event.flags:
        lines.append(_(N_("Flags: none")))
    for flag in event.flags:
        if flag.overridden:
            state = _(N_("withdrawn: {reason}"), reason=flag.overridden)
        elif flag.escalated:
            state = _(N_("supervisor alerted"))
        else:
            state = _(N_("not escalated"))
        lines.append(f"• {flag.level} {_(flag.label)} ({state})")
    if event.needs:
        lines.append(_(N_("Needs: {needs}"), needs=", ".join(_(NEED_LABELS.get(need, need)) for need in event.needs)))
    for kind, due in event.follow_ups:
        lines.append(_(N_("Follow-up: {kind}, due {due}"), kind=follow_up_label(kind, translator), due=date_and_time(due, zone)))
    return lines
