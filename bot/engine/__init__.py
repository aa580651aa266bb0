"""The pure flow engine: flows in, events out. No Telegram, no database, no clock.

Hosts (the console, the Telegram adapter, the tests) load flows, keep one `FlowMachine` per flow
revision, and call `step` with the stored state, the volunteer's input and the current time.
"""

from bot.engine.events import (
    AnswerRecorded,
    CaseSummarized,
    EscalationRequested,
    Event,
    FlagOverridden,
    FlagProposed,
    FlagRaised,
    FlagSummary,
    FollowUpScheduled,
    InputRejected,
    MsgCreated,
    NoteAdded,
    Prompt,
    ReferralsOffered,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    WentBack,
)
from bot.engine.flow import Flag, Flow, InputType, Level, Node, NodeKind, Option
from bot.engine.inputs import (
    Answer,
    Back,
    CallSupervisor,
    Cancel,
    Input,
    Note,
    OverrideFlag,
    Pause,
    RaiseFlag,
    Resume,
    Start,
)
from bot.engine.errors import FlowError, FlowLoadError
from bot.engine.loader import load_flow_dir, load_flow_file, load_flow_source, load_flow_text, load_flows
from bot.engine.spec import SPEC_VERSION
from bot.engine.machine import FlowMachine
from bot.engine.state import OpenFlag, SessionState, SessionStatus
from bot.engine.step import StepResult, step

__all__ = [
    "SPEC_VERSION",
    "Answer",
    "AnswerRecorded",
    "Back",
    "CallSupervisor",
    "Cancel",
    "CaseSummarized",
    "EscalationRequested",
    "Event",
    "Flag",
    "FlagOverridden",
    "FlagProposed",
    "FlagRaised",
    "FlagSummary",
    "Flow",
    "FlowError",
    "FlowLoadError",
    "FlowMachine",
    "FollowUpScheduled",
    "Input",
    "InputRejected",
    "InputType",
    "Level",
    "MsgCreated",
    "Node",
    "NodeKind",
    "Note",
    "NoteAdded",
    "OpenFlag",
    "Option",
    "OverrideFlag",
    "Pause",
    "Prompt",
    "RaiseFlag",
    "ReferralsOffered",
    "Resume",
    "SessionEnded",
    "SessionPaused",
    "SessionResumed",
    "SessionStarted",
    "SessionState",
    "SessionStatus",
    "Start",
    "StepResult",
    "WentBack",
    "load_flow_dir",
    "load_flow_file",
    "load_flow_source",
    "load_flow_text",
    "load_flows",
    "step",
]
