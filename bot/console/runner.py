"""The console runner: the same case service and outbox as Telegram, in a terminal.

One input per line, so a scripted conversation can be piped in. Choices are numbered; a choice is
taken by its number or its label. End of input ends the program cleanly, and the case stays stored
to be resumed next time.
"""

from __future__ import annotations

from typing import Any, TextIO

from bot.answers import to_answer
from bot.cases import OPEN_STATUSES, CaseService, CaseSummary, StepOutcome
from bot.console.sender import ConsoleSender
from bot.dispatch import Dispatcher
from bot.escalation import EscalationDesk, QueueEntry
from bot.engine import Answer, Back, CallSupervisor, Cancel, Input, Note, OverrideFlag, Pause, RaiseFlag, Resume
from bot.i18n import N_, Translator
from bot.reminders import FollowUpReminders

__all__ = ["ConsoleRunner"]

SUPERVISOR_COMMANDS = ("/queue", "/take", "/reply", "/resolve")
CONSOLE_SUPERVISOR = "Supervisor"

HELP = N_(
    "Answer a choice with its number or its label; several choices as 1,3. Commands: /back (previous "
    "question), /note TEXT (add a note), /flag (list flags) or /flag ID (raise one), /supervisor (call a "
    "supervisor now), /override ID REASON (withdraw a flag), /pause, /resume, /dropped (the call dropped), "
    "/cancel (close this case), /msg TEXT (to the supervisor who took the case). As the supervisor: /queue, "
    "/take A-CODE, /reply A-CODE TEXT, /resolve A-CODE OUTCOME. "
    "/new (new case after one is closed), /help, /quit."
)


class ConsoleRunner:
    def __init__(
        self,
        service: CaseService,
        stdin: TextIO,
        stdout: TextIO,
        translator: Translator,
        volunteer: str = "console",
    ) -> None:
        self.service = service
        self.stdin = stdin
        self.out = stdout
        self.translator = translator
        self.volunteer = volunteer
        self.sender = ConsoleSender(stdout, translator)
        self.dispatcher = Dispatcher(service.database, self.sender, service.clock)
        self.desk = EscalationDesk(service)
        self.reminders = FollowUpReminders(service)
        self.case: CaseSummary | None = None
        self.interactive = stdin.isatty()

    def say(self, msgid: str, **params: Any) -> None:
        self.out.write(self.translator.text(msgid, **params) + "\n")
        self.out.flush()

    def run(self) -> int:
        # Messages a crash left in the outbox go out before anything new happens.
        self.deliver()
        unfinished = self.service.unfinished_case(self.volunteer)
        if unfinished is not None:
            if not self.offer_resume(unfinished):
                return 0
        else:
            self.record(self.service.open_case(self.volunteer, self.translator.language))
        while True:
            line = self.read_line()
            if line is None:
                break
            if not line:
                continue
            if line == "/quit":
                break
            self.handle(line)
        if self.is_open():
            assert self.case is not None
            self.say(N_("End of input. Case {case_code} is saved; start the console again to resume it."), case_code=self.case.case_code)
        return 0

    def offer_resume(self, unfinished: CaseSummary) -> bool:
        self.say(N_("Case {case_code} was not finished. Resume it?"), case_code=unfinished.case_code)
        self.say(N_("  1. Resume it"))
        self.say(N_("  2. Close it and start a new case"))
        while True:
            line = self.read_line()
            if line is None:
                return False
            choice = to_answer(line, {"type": "yes_no", "options": [{"key": "yes", "label": "1"}, {"key": "no", "label": "2"}]})
            if choice in ("1", "yes"):
                self.case = unfinished
                self.act(Resume())
                return True
            if choice in ("2", "no"):
                self.case = unfinished
                self.act(Cancel("abandoned"))
                self.record(self.service.open_case(self.volunteer, self.translator.language))
                return True
            self.say(N_("Please answer 1 or 2."))

    def handle(self, line: str) -> None:
        # Deadlines and due follow-ups are fired from the database between inputs: the console has
        # no timer thread.
        if self.desk.sweep() + self.reminders.sweep():
            self.deliver()
        command, _space, args = line.partition(" ")
        if command in SUPERVISOR_COMMANDS:
            self.supervise(command, args.strip())
        elif line == "/help":
            self.say(HELP)
        elif line == "/new":
            if self.is_open():
                assert self.case is not None
                self.say(N_("Case {case_code} is still open. Close it with /cancel first."), case_code=self.case.case_code)
            else:
                self.record(self.service.open_case(self.volunteer, self.translator.language))
        elif not self.is_open():
            self.say(N_("There is no open case. Type /new to open one."))
        elif line == "/back":
            self.act(Back())
        elif line == "/cancel":
            self.act(Cancel())
        elif line == "/dropped":
            self.act(Cancel("call_dropped"))
        elif line == "/pause":
            self.act(Pause())
        elif line == "/resume":
            self.act(Resume())
        elif line == "/supervisor" or line.startswith("/supervisor "):
            self.act(CallSupervisor(line[len("/supervisor"):].strip()))
        elif line.startswith("/note"):
            self.act(Note(line[len("/note"):].strip()))
        elif line == "/flag":
            self.list_flags()
        elif line.startswith("/flag "):
            self.act(RaiseFlag(line[len("/flag "):].strip()))
        elif command == "/msg":
            if self.desk.relay_to_supervisor(self.volunteer, self.volunteer, args.strip()) is None:
                self.say(N_("Nobody to send it to: no supervisor has taken a case of yours, or the alert is not yours."))
            self.deliver()
        elif line.startswith("/override"):
            flag, _, reason = line[len("/override"):].strip().partition(" ")
            self.act(OverrideFlag(flag, reason))
        elif line.startswith("/"):
            self.say(N_("Unknown command {command}."), command=line.split()[0])
            self.say(HELP)
        else:
            self.act(Answer(to_answer(line, self.sender.prompt)))

    def supervise(self, command: str, args: str) -> None:
        """The person at the console plays the supervisor who receives the [supervisor] lines."""
        code, _space, rest = args.partition(" ")
        code = code.upper()
        if not code.startswith("A-") and command != "/queue":
            # Without a code: the newest alert waiting (to take) or taken here (to reply, resolve).
            code, rest = self.newest_alert(waiting=command == "/take"), args
            if code == "-":
                self.say(N_("No open escalations."))
                return
        if command == "/queue":
            entries = self.desk.entries()
            if not entries:
                self.say(N_("No open escalations."))
            for entry in entries:
                self.out.write(f"[supervisor] {entry.level} {entry.alert_code} · {entry.case_code} · {entry.status} · "
                               f"{entry.taken_by or '-'} · {entry.time_to_take_seconds if entry.time_to_take_seconds is not None else '-'} s\n")
        elif command == "/take":
            outcome = self.desk.take(code, CONSOLE_SUPERVISOR, "supervisors")
            if outcome.case_code is None:
                self.say(N_("No alert {alert_code}."), alert_code=code)
            elif not outcome.won:
                self.say(N_("Already taken by {name}."), name=outcome.taken_by or "?")
        elif command == "/reply":
            if not self.desk.relay_to_volunteer(code, CONSOLE_SUPERVISOR, rest.strip()):
                self.say(N_("Nobody to send it to: no supervisor has taken a case of yours, or the alert is not yours."))
        elif self.desk.resolve(code, CONSOLE_SUPERVISOR, rest.strip()) is None:
            self.say(N_("No open alert {alert_code}."), alert_code=code)
        self.deliver()

    def newest_alert(self, *, waiting: bool) -> str:
        def fits(entry: QueueEntry) -> bool:
            return entry.status in ("open", "review") if waiting else entry.taken_by == CONSOLE_SUPERVISOR

        entries = [entry for entry in self.desk.entries() if fits(entry)]
        return min(entries, key=lambda entry: entry.waiting_seconds).alert_code if entries else "-"

    def is_open(self) -> bool:
        return self.case is not None and self.case.status in OPEN_STATUSES

    def list_flags(self) -> None:
        assert self.case is not None
        flow = self.service.flow_of(self.case)
        self.say(N_("Flags of this protocol (raise one with /flag ID):"))
        for flag in sorted(flow.flags.values(), key=lambda flag: (flag.level.rank, flag.id)):
            self.out.write(f"  {flag.id}: {flag.level.value} {self.translator.text(flag.label)}\n")
        self.out.flush()

    def act(self, action: Input) -> None:
        assert self.case is not None
        self.record(self.service.act(self.case.id, action))

    def record(self, outcome: StepOutcome) -> None:
        self.case = outcome.case
        self.deliver()
        if outcome.ended:
            self.say(N_("Type /new to open a new case, or end the input to quit."))

    def deliver(self) -> None:
        while self.dispatcher.deliver_pending().sent:
            pass

    def read_line(self) -> str | None:
        if self.interactive:
            self.out.write("> ")
            self.out.flush()
        line = self.stdin.readline()
        if not line:
            return None
        return line.strip()
