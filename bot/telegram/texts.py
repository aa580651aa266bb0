"""What the Telegram adapter itself says (the protocol's words live in the flows)."""

from __future__ import annotations

from bot.i18n import N_

__all__ = [
    "COMMANDS",
    "SUPERVISOR_COMMANDS",
    "STRANGER",
]

# A stranger may be a victim who found the bot: short, neutral, public numbers, nothing asked.
STRANGER = N_(
    "This bot is for trained hotline volunteers. If you or someone else is in danger, call 112 or the "
    "police on 110. For violence against women and children, call SAPA 129 or WhatsApp 0811-1129-129."
)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("new", N_("Open a new case")),
    ("resume", N_("Show the open question again")),
    ("back", N_("Back to the previous question")),
    ("note", N_("Add a note: /note text")),
    ("msg", N_("Message the supervisor who took your case: /msg text")),
    ("flag", N_("List flags, or raise one: /flag id")),
    ("supervisor", N_("Call a supervisor now")),
    ("pause", N_("Pause the case")),
    ("dropped", N_("The call dropped")),
    ("cancel", N_("Close the case")),
    ("lang", N_("Language: /lang id or /lang en")),
    ("help", N_("What I can do")),
)

SUPERVISOR_COMMANDS: tuple[tuple[str, str], ...] = (
    ("oncall", N_("On call or not: /oncall on, /oncall off")),
    ("backup", N_("Backup or not: /backup on, /backup off")),
    ("queue", N_("Open escalations and time to take")),
    ("resolve", N_("Close an escalation: /resolve A-CODE outcome")),
    ("invite", N_("Invite a volunteer: /invite or /invite supervisor")),
    ("volunteers", N_("List volunteers and supervisors")),
    ("remove", N_("Remove a member: /remove telegram-id")),
    ("reload", N_("Check changed flows and use them for new cases")),
)
