"""Turns Telegram updates into engine inputs for members, and polite refusals for everything else.

Every update of a chat runs under that chat's lock, in order; chats run in parallel. Storage and
engine calls run in worker threads so a slow database never blocks the event loop. A member's
update is recorded by its update_id in the same transaction as what it changed, so an update
Telegram delivers twice is applied once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable

from telegram import CallbackQuery, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.cases import OPEN_STATUSES, CaseService, CaseSummary, DuplicateUpdate, StaleStep
from bot.escalation import EscalationDesk
from bot.engine import Answer, Back, CallSupervisor, Cancel, Input, InputType, Note, OverrideFlag, Pause, RaiseFlag, Resume
from bot.i18n import N_, SUPPORTED_LANGUAGES, pick_language, translator
from bot.reloading import ReloadStatus
from bot.telegram.delivery import TelegramDelivery, enqueue_notice, recipient_for
from bot.telegram.keyboards import DONE, ButtonSigner, TogglePress, keyboard_for
from bot.telegram.locks import ChatLocks
from bot.telegram.steps import Steps
from bot.telegram.membership import MemberView, Membership, StrangerLimiter
from bot.telegram.texts import COMMANDS, STRANGER, SUPERVISOR_COMMANDS
from storage import InviteProblem, record_update

__all__ = ["TelegramFront"]

LOGGER = logging.getLogger(__name__)

CASE_ACTIONS: dict[str, Callable[[str], Input]] = {
    "resume": lambda args: Resume(),
    "back": lambda args: Back(),
    "pause": lambda args: Pause(),
    "cancel": lambda args: Cancel("cancelled"),
    "dropped": lambda args: Cancel("call_dropped"),
    "note": lambda args: Note(args),
    "supervisor": lambda args: CallSupervisor(args),
    "override": lambda args: OverrideFlag(*(args.split(" ", 1) + [""])[:2]),
}


class TelegramFront:
    def __init__(
        self,
        service: CaseService,
        membership: Membership,
        delivery: TelegramDelivery,
        signer: ButtonSigner,
        default_language: str,
        clock: Callable[[], datetime],
        desk: EscalationDesk,
        steps: Steps,
    ) -> None:
        self.service = service
        self.steps = steps  # where a case's steps run; the service here serves reads and notices
        self.desk = desk
        self.membership = membership
        self.delivery = delivery
        self.signer = signer
        self.default_language = default_language
        self.clock = clock
        self.locks = ChatLocks()
        self.strangers = StrangerLimiter()
        self.bot_username = ""

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update: who sent it, then what it is."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or user.is_bot:
            return  # channel posts, polls, service messages: nothing to answer
        language = pick_language(user.language_code, default=self.default_language)
        if chat.type != ChatType.PRIVATE and update.callback_query is not None and (update.callback_query.data or "").startswith("a:"):
            # A supervisor pressing Take on the supervisors' group copy of an alert.
            member = self.membership.cached(user.id) or await asyncio.to_thread(self.membership.member, user.id)
            if member is not None and member.is_supervisor:
                language = pick_language(member.language, user.language_code, default=self.default_language)
                await self._alert_button(update, member, language)
                return
        if chat.type != ChatType.PRIVATE:
            if update.effective_message is not None and self.strangers.allow(chat.id):
                await self._reply_now(chat.id, translator(language).text(N_("I only work in private chats. Please write to me directly.")))
            return
        async with self.locks.hold(chat.id):
            member = self.membership.cached(user.id) or await asyncio.to_thread(self.membership.member, user.id)
            if member is None:
                await self._stranger(update, user.id, user.full_name, language)
                return
            language = pick_language(member.language, user.language_code, default=self.default_language)
            try:
                await self._member_update(update, member, language)
            except DuplicateUpdate:
                LOGGER.info("update %s was handled before; ignored", update.update_id)

    async def _member_update(self, update: Update, member: MemberView, language: str) -> None:
        _ = translator(language).text
        if update.callback_query is not None and (update.callback_query.data or "").startswith("a:"):
            await self._alert_button(update, member, language)
        elif update.callback_query is not None:
            await self._button(update, member, language)
        elif update.edited_message is not None:
            await self._notice(update, member, _(N_("Edited messages are not read. Send the answer again as a new message.")))
        elif update.message is not None and update.message.forward_origin is not None:
            await self._notice(update, member, _(N_("Forwarded messages are not read. Type the answer yourself.")))
        elif update.message is not None and update.message.text:
            text = update.message.text.strip()
            if text.startswith("/"):
                command, _space, args = text[1:].partition(" ")
                await self._command(update, member, language, command.split("@")[0].lower(), args.strip())
            else:
                await self._act(update, member, Answer(text), typed=True)
        elif update.effective_message is not None:
            await self._notice(update, member, _(N_("I can only read text and buttons. Nothing was recorded; please type the answer.")))

    async def _command(self, update: Update, member: MemberView, language: str, command: str, args: str) -> None:
        _ = translator(language).text
        if command in ("start", "help"):
            await self._notice(update, member, self._help(member, language))
        elif command == "new":
            await self._open_case(update, member, language)
        elif command in CASE_ACTIONS:
            await self._act(update, member, CASE_ACTIONS[command](args))
        elif command == "flag":
            await (self._act(update, member, RaiseFlag(args)) if args else self._list_flags(update, member, language))
        elif command == "lang":
            await self._language(update, member, args)
        elif command in ("invite", "volunteers", "remove") and member.is_supervisor:
            await self._supervisor_command(update, member, language, command, args)
        elif command in ("oncall", "backup", "queue", "resolve") and member.is_supervisor:
            await self._escalation_command(update, member, language, command, args)
        elif command == "reload" and member.is_supervisor:
            await self._reload_flows(update, member, language)
        elif command == "msg":
            await self._relay(update, member, language, args)
        else:
            await self._notice(update, member, _(N_("Unknown command. /help lists what I can do.")))

    async def _open_case(self, update: Update, member: MemberView, language: str) -> None:
        case = await asyncio.to_thread(self.service.unfinished_case, member.volunteer_key)
        if case is not None:
            text = translator(language).text(N_("Case {case_code} is still open: /resume to continue it, /cancel to close it."), case_code=case.case_code)
            await self._notice(update, member, text)
            return
        await self.steps.open_case(member.volunteer_key, language, member.display_name, update_id=update.update_id)

    async def _act(self, update: Update, member: MemberView, action: Input, *, typed: bool = False) -> bool:
        outcome = await self.steps.act_open(member.volunteer_key, action, member.display_name, update_id=update.update_id, typed=typed)
        if outcome is None:
            language = pick_language(member.language, default=self.default_language)
            await self._notice(update, member, translator(language).text(N_("There is no open case. Type /new to open one.")))
            return False
        return True

    async def _button(self, update: Update, member: MemberView, language: str) -> None:
        query = update.callback_query
        assert query is not None
        _ = translator(language).text
        case = await asyncio.to_thread(self.service.unfinished_case, member.volunteer_key)
        if case is not None and case.status not in OPEN_STATUSES:
            case = None
        toggle = self.signer.decode_toggle(query.data, case.id) if case is not None else None
        if case is not None and toggle is not None and (toggle.pressed is not None or not toggle.selection):
            await self._toggle(query, case, toggle, language)
            return
        # An option button answers with its number; Done with the ticked options ("1,3"), as if typed.
        press = self.signer.decode(query.data, case.id) if case is not None else None
        if press is not None:
            answer: tuple[str, int] | None = (str(press.option + 1), press.step)
        else:
            answer = (toggle.typed, toggle.step) if toggle is not None else None
        if case is None or answer is None:
            await self._answer_query(query, _(N_("This button is not valid any more.")))
            return
        typed, step = answer
        try:
            await self.steps.act(case.id, Answer(typed), member.display_name, update_id=update.update_id, expected_step=step, typed=True)
        except StaleStep:
            await self._answer_query(query, _(N_("This button belongs to an earlier question.")))
            return
        await self._answer_query(query, None)
        if query.message is not None:
            try:  # the keyboard goes, so the same question cannot be answered twice
                await query.edit_message_reply_markup(reply_markup=None)
            except TelegramError:
                LOGGER.info("could not remove a pressed keyboard; the step binding still guards it")

    async def _toggle(self, query: CallbackQuery, case: CaseSummary, toggle: TogglePress, language: str) -> None:
        """A tap on a multi-choice keyboard: the keyboard shows the new selection, nothing is stored.
        Done with nothing ticked only gets a note."""
        _ = translator(language).text
        if toggle.step != case.step:
            await self._answer_query(query, _(N_("This button belongs to an earlier question.")))
            return
        if toggle.pressed is None:
            await self._answer_query(query, _(N_("Tick at least one option first, then press Done.")))
            return
        flow = await asyncio.to_thread(self.service.flow_of, case)
        node = flow.nodes.get(case.node)
        question = node.input if node is not None else None
        if question is None or question.type is not InputType.MULTI_CHOICE or toggle.pressed >= len(question.options):
            await self._answer_query(query, _(N_("This button is not valid any more.")))
            return
        # Rebuilt as the delivery built it: the case's language, the question's options in order.
        labels = translator(case.language).text
        prompt = {"type": "multi_choice", "step": toggle.step, "options": [{"key": o.key, "label": labels(o.label)} for o in question.options]}
        markup = keyboard_for(prompt, case.id, self.signer, done_label=labels(DONE), selection=toggle.after)
        if query.message is not None:
            try:
                await query.edit_message_reply_markup(reply_markup=markup)
            except TelegramError:
                LOGGER.info("could not show a toggled keyboard")
        await self._answer_query(query, None)

    async def _alert_button(self, update: Update, member: MemberView, language: str) -> None:
        query = update.callback_query
        assert query is not None
        _ = translator(language).text
        pressed = self.signer.decode_alert(query.data) if member.is_supervisor else None
        if pressed is None:
            await self._answer_query(query, _(N_("This button is not valid any more.")))
            return
        action, code = pressed
        if action == "view":
            summary = await asyncio.to_thread(self.desk.summary, code)
            await self._answer_query(query, None)
            await self._notice(update, member, summary or _(N_("No alert {alert_code}."), alert_code=code))
            return
        outcome = await asyncio.to_thread(self.desk.take, code, member.display_name, recipient_for("supervisor", member.telegram_user_id))
        if outcome.case_code is None:
            await self._answer_query(query, _(N_("No alert {alert_code}."), alert_code=code))
        elif outcome.won:
            await self._answer_query(query, _(N_("You have case {case_code}. /msg {alert_code} TEXT writes to the volunteer."), case_code=outcome.case_code, alert_code=code))
        else:
            await self._answer_query(query, _(N_("Already taken by {name}."), name=outcome.taken_by or "?"))
        await self._notice(update, member, "", record=True, silent=True)

    async def _escalation_command(self, update: Update, member: MemberView, language: str, command: str, args: str) -> None:
        _ = translator(language).text
        if command in ("oncall", "backup"):
            switch = args.lower() in ("on", "ya", "yes", "1")
            if args.lower() not in ("on", "off", "ya", "tidak", "yes", "no", "1", "0"):
                await self._notice(update, member, f"/{command} on · /{command} off")
                return
            setting = {"on_call": switch} if command == "oncall" else {"backup": switch}
            await asyncio.to_thread(self.membership.set_availability, member.telegram_user_id, **setting)
            state = _(N_("on")) if switch else _(N_("off"))
            text = _(N_("On call: {state}."), state=state) if command == "oncall" else _(N_("Backup: {state}."), state=state)
            await self._notice(update, member, text)
        elif command == "queue":
            entries = await asyncio.to_thread(self.desk.entries)
            lines = [_(N_("Open escalations:"))] if entries else [_(N_("No open escalations."))]
            for entry in entries:
                taken = (_(N_("taken by {name} after {seconds} s"), name=entry.taken_by, seconds=entry.time_to_take_seconds)
                         if entry.taken_by else _(N_("waiting {minutes} min"), minutes=entry.waiting_seconds // 60))
                lines.append(f"{entry.level} {entry.alert_code} · {entry.case_code} · {entry.status} · {taken}")
            await self._notice(update, member, "\n".join(lines))
        else:
            code, _space, outcome = args.partition(" ")
            closed = await asyncio.to_thread(self.desk.resolve, code.upper(), member.display_name, outcome.strip())
            await self._notice(update, member, _(N_("Closed {alert_code}."), alert_code=code.upper()) if closed else _(N_("No open alert {alert_code}."), alert_code=code.upper() or "?"))

    async def _reload_flows(self, update: Update, member: MemberView, language: str) -> None:
        """/reload: the flows directory goes live if it passes the strict check; open cases keep theirs."""
        outcome = await self.steps.reload()
        LOGGER.log(logging.WARNING if outcome.status is ReloadStatus.REFUSED else logging.INFO, "/reload: %s", outcome.summary)
        await self._notice(update, member, outcome.message(translator(language)))

    async def _relay(self, update: Update, member: MemberView, language: str, args: str) -> None:
        _ = translator(language).text
        code, _space, text = args.partition(" ")
        if member.is_supervisor and code.upper().startswith("A-"):
            delivered = await asyncio.to_thread(self.desk.relay_to_volunteer, code.upper(), member.display_name, text.strip())
        else:
            delivered = bool(args.strip()) and await asyncio.to_thread(self.desk.relay_to_supervisor, member.volunteer_key, member.display_name, args.strip()) is not None
        await self._notice(update, member, _(N_("Sent.")) if delivered else _(N_("Nobody to send it to: no supervisor has taken a case of yours, or the alert is not yours.")))

    async def _list_flags(self, update: Update, member: MemberView, language: str) -> None:
        case = await asyncio.to_thread(self.service.unfinished_case, member.volunteer_key)
        _ = translator(language).text
        if case is None:
            await self._notice(update, member, _(N_("There is no open case. Type /new to open one.")))
            return
        flow = await asyncio.to_thread(self.service.flow_of, case)
        lines = [_(N_("Flags of this protocol (raise one with /flag ID):"))]
        lines += [f"{flag.id}: {flag.level.value} {_(flag.label)}" for flag in sorted(flow.flags.values(), key=lambda f: (f.level.rank, f.id))]
        await self._notice(update, member, "\n".join(lines))

    async def _language(self, update: Update, member: MemberView, args: str) -> None:
        choice = args.lower()
        if choice not in SUPPORTED_LANGUAGES:
            await self._notice(update, member, "/lang id · /lang en")
            return
        await asyncio.to_thread(self.membership.set_language, member.telegram_user_id, choice)
        await self._notice(update, member, translator(choice).text(N_("Language set. New cases use it.")))

    async def _supervisor_command(self, update: Update, member: MemberView, language: str, command: str, args: str) -> None:
        _ = translator(language).text
        now = self.clock()
        if command == "invite":
            role = "supervisor" if args.lower() == "supervisor" else "volunteer"
            token = await asyncio.to_thread(self.membership.invite, member, role, now)
            link = f"https://t.me/{self.bot_username}?start={token}"
            text = _(N_("Invitation for one {role}, valid for {hours} hours and usable once:\n{link}"), role=role, hours=int(self.membership.invite_valid_for.total_seconds() // 3600), link=link)
        elif command == "volunteers":
            members = await asyncio.to_thread(self.membership.listing)
            text = "\n".join(f"{m.display_name} · {m.role} · {m.telegram_user_id}" for m in members)
        else:
            removed = await asyncio.to_thread(self.membership.remove, int(args), now) if args.isdigit() else None
            text = _(N_("Removed: {name}."), name=removed.display_name) if removed else _(N_("No member with that Telegram id."))
        await self._notice(update, member, text)

    def _help(self, member: MemberView, language: str) -> str:
        _ = translator(language).text
        commands = list(COMMANDS) + (list(SUPERVISOR_COMMANDS) if member.is_supervisor else [])
        lines = [_(N_("Answer with the buttons, or type the option's number or the answer."))]
        return "\n".join(lines + [f"/{name} · {_(description)}" for name, description in commands])

    async def _stranger(self, update: Update, user_id: int, name: str, language: str) -> None:
        message = update.effective_message
        text = message.text.strip() if message is not None and message.text else ""
        if text.startswith("/start ") and len(text) > len("/start "):
            result = await asyncio.to_thread(self.membership.redeem, text[len("/start "):].strip(), user_id, name, self.clock())
            if isinstance(result, MemberView):
                await self._notice(update, result, self._help(result, language), record=False)
                return
            if result is not InviteProblem.UNKNOWN:
                await self._reply_now(user_id, translator(language).text(N_("This invitation was used or has expired. Ask your supervisor for a new one.")))
                return
        if self.strangers.allow(user_id):
            await self._reply_now(user_id, translator(language).text(STRANGER))

    async def _notice(self, update: Update, member: MemberView, text: str, *, record: bool = True, silent: bool = False) -> None:
        """A reply that is not a case step, through the outbox like every message to a member.
        `silent` only records the update as handled."""
        def store() -> None:
            now = self.clock()
            with self.service.database.transaction() as session:
                if record and not record_update(session, update.update_id, now):
                    raise DuplicateUpdate(str(update.update_id))
                if not silent:
                    enqueue_notice(session, recipient_for("volunteer", member.telegram_user_id), text, now)

        await asyncio.to_thread(store)

    async def _reply_now(self, chat_id: int, text: str) -> None:
        """Straight to Telegram, for people who are not members: nothing about them is stored."""
        try:
            await self.delivery.bot.send_message(chat_id=chat_id, text=text)
        except TelegramError:
            LOGGER.info("could not answer a non-member")

    @staticmethod
    async def _answer_query(query: CallbackQuery, text: str | None) -> None:
        try:
            await query.answer(text=text)
        except TelegramError:
            LOGGER.info("could not answer a callback query")
