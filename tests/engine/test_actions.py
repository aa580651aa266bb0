"""Actions a volunteer can take at any step, and the plan-stage node kinds."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.engine import (
    Answer,
    Back,
    CallSupervisor,
    Cancel,
    CaseSummarized,
    EscalationRequested,
    FlagOverridden,
    FlagProposed,
    FlagRaised,
    FlowLoadError,
    FlowMachine,
    FollowUpScheduled,
    Level,
    Note,
    NoteAdded,
    OverrideFlag,
    Pause,
    RaiseFlag,
    ReferralsOffered,
    Resume,
    SessionStatus,
    Start,
    load_flow_text,
    step,
)

PLAN_FLOW = """\
spec_version: 1
id: plan
revision: 1
title: Plan
start: situation
flags:
  danger:
    level: P0
    label: Immediate danger
    guidance: Call 112.
  child:
    level: P1
    label: Child involved
    guidance: Refer today.
  distress:
    level: P2
    label: Distress
    guidance: Ground the caller.
nodes:
  situation:
    ask: text
    text: What happened, in a few words?
    next: needs
  needs:
    ask: multi_choice
    text: What does the caller need?
    options:
      legal: Legal aid
      shelter: Shelter
      medical: Medical care
    next: province
  province:
    ask: choice
    text: Which province?
    options:
      dki_jakarta: DKI Jakarta
      jawa_timur: Jawa Timur
    next: offer
  offer:
    refer:
      needs: needs
      region: province
    text: Offer these services.
    next: callback_hours
  callback_hours:
    ask: number
    text: In how many hours is the callback?
    min: 1
    max: 168
    next: callback
  callback:
    follow_up: callback
    after_answer: callback_hours
    next: monitoring
  monitoring:
    follow_up: monitoring
    after: 90d
    text: Monitoring in three months.
    next: summary
  summary:
    summary: Case summary
    next: reason
  reason:
    ask: choice
    text: Why does the call end?
    options:
      referred: Referred
      call_dropped: The call dropped
    next:
      referred: end_referred
      call_dropped: end_dropped
  end_referred:
    end: referred
  end_dropped:
    end: call_dropped
"""


@dataclass(frozen=True)
class FakeMatch:
    flag: str
    level: Level
    term: str


class FakeScreener:
    """Finds a flag when its id is written in the text (the real lexicon is tested on its own)."""

    def screen(self, text: str) -> list[FakeMatch]:
        levels = {"danger": Level.P0, "child": Level.P1, "unknown_emergency": Level.P0}
        return [FakeMatch(flag, level, flag) for flag, level in levels.items() if flag in text]


@pytest.fixture
def machine() -> FlowMachine:
    return FlowMachine(load_flow_text(PLAN_FLOW, "plan.yaml"), screener=FakeScreener())


def started(machine, now):
    return step(machine, None, Start(), now)


def of(result, kind):
    return [event for event in result.events if isinstance(event, kind)]


def test_pause_holds_answers_until_resume(machine, now):
    paused = step(machine, started(machine, now).state, Pause(), now)
    assert paused.state.status is SessionStatus.PAUSED
    held = step(machine, paused.state, Answer("help"), now)
    assert not held.accepted and held.state == paused.state
    assert not step(machine, paused.state, Back(), now).accepted
    assert not step(machine, paused.state, Pause(), now).accepted
    resumed = step(machine, paused.state, Resume(), now)
    assert resumed.state.status is SessionStatus.ACTIVE
    assert [event.type for event in resumed.events] == ["session_resumed", "msg_created"]


def test_a_note_is_recorded_and_screened(machine, now):
    result = step(machine, started(machine, now).state, Note("the child is scared"), now)
    assert [event.text for event in of(result, NoteAdded)] == ["the child is scared"]
    [proposed] = of(result, FlagProposed)
    assert (proposed.flag, proposed.level) == ("child", "P1")
    assert result.state.flags == []  # proposed, not raised: the volunteer decides


def test_a_p0_term_in_free_text_escalates_at_once(machine, now):
    result = step(machine, started(machine, now).state, Answer("they said danger tonight"), now)
    assert [event.flag for event in of(result, FlagRaised)] == ["danger"]
    assert [event.level for event in of(result, EscalationRequested)] == ["P0"]


def test_the_flows_level_decides_when_the_lexicon_lists_a_p0_flag_lower(now):
    class LowScreener:
        def screen(self, text: str) -> list[FakeMatch]:
            return [FakeMatch("danger", Level.P1, "danger")] if "danger" in text else []

    machine = FlowMachine(load_flow_text(PLAN_FLOW, "plan.yaml"), screener=LowScreener())
    result = step(machine, started(machine, now).state, Answer("they said danger tonight"), now)
    assert [event.flag for event in of(result, FlagRaised)] == ["danger"]  # raised, not only proposed
    assert [event.level for event in of(result, EscalationRequested)] == ["P0"]


def test_a_p0_term_for_a_flag_the_flow_lacks_still_pages_without_quoting(machine, now):
    result = step(machine, started(machine, now).state, Note("unknown_emergency: Siti at Jalan Mawar"), now)
    [escalation] = of(result, EscalationRequested)
    assert escalation.level == "P0" and "Siti" not in escalation.reason and "unknown" not in escalation.reason


def test_empty_and_over_long_notes_are_refused(machine, now):
    state = started(machine, now).state
    assert not step(machine, state, Note("   "), now).accepted
    assert not step(machine, state, Note("x" * 2001), now).accepted


def test_a_flag_raised_by_hand_reaches_a_supervisor_at_once(machine, now):
    result = step(machine, started(machine, now).state, RaiseFlag("child"), now)
    assert [event.flag for event in of(result, FlagRaised)] == ["child"]
    assert [(event.level, event.flags) for event in of(result, EscalationRequested)] == [("P1", ("child",))]
    again = step(machine, result.state, RaiseFlag("child"), now)
    assert not again.accepted
    assert not step(machine, result.state, RaiseFlag("no_such_flag"), now).accepted


def test_a_p2_flag_by_hand_pages_nobody(machine, now):
    result = step(machine, started(machine, now).state, RaiseFlag("distress"), now)
    assert of(result, EscalationRequested) == []


def test_calling_a_supervisor_pages_even_with_nothing_flagged(machine, now):
    result = step(machine, started(machine, now).state, CallSupervisor(), now)
    [escalation] = of(result, EscalationRequested)
    assert escalation.level == "P0" and escalation.reason == "The volunteer asked for a supervisor now."
    twice = step(machine, result.state, CallSupervisor("Caller is crying and will not say why"), now)
    assert len(of(twice, EscalationRequested)) == 1


def test_an_override_needs_a_reason_and_is_kept(machine, now):
    flagged = step(machine, started(machine, now).state, Note("child"), now)
    flagged = step(machine, flagged.state, RaiseFlag("child"), now)
    assert not step(machine, flagged.state, OverrideFlag("child", "oops"), now).accepted
    assert not step(machine, flagged.state, OverrideFlag("danger", "Not raised at all here"), now).accepted
    result = step(machine, flagged.state, OverrideFlag("child", "The caller is 19; misheard the age"), now)
    [event] = of(result, FlagOverridden)
    assert event.reason == "The caller is 19; misheard the age"
    assert result.state.flag("child").overridden == event.reason


def test_an_overridden_flag_does_not_hold_the_close(machine, now):
    state = started(machine, now).state
    state.flags.append(__import__("bot.engine", fromlist=["OpenFlag"]).OpenFlag("child", "P1", "x", now.isoformat()))
    overridden = step(machine, state, OverrideFlag("child", "Raised by mistake during training"), now)
    closed = step(machine, overridden.state, Cancel("caller_ended"), now)
    assert of(closed, EscalationRequested) == []


def walk_to_summary(machine, now, events=None):
    result = started(machine, now)
    for answer in ("My passport was taken", "legal, shelter", "dki_jakarta", "24"):
        result = step(machine, result.state, Answer(answer), now)
        if events is not None:
            events.extend(result.events)
    return result


def test_the_plan_stage_offers_referrals_schedules_follow_ups_and_summarises(machine, now):
    seen: list = []
    result = walk_to_summary(machine, now, seen)
    [offer] = [event for event in seen if isinstance(event, ReferralsOffered)]
    assert result.state.node == "reason"
    assert (offer.needs, offer.region, offer.text) == (("legal", "shelter"), "dki_jakarta", "Offer these services.")
    callback, monitoring = of(result, FollowUpScheduled)
    assert (callback.kind, callback.due_at) == ("callback", "2026-11-25T02:30:00+00:00")
    assert (monitoring.kind, monitoring.due_at) == ("monitoring", "2027-02-22T02:30:00+00:00")
    assert result.state.follow_ups == [
        {"kind": "callback", "due_at": callback.due_at},
        {"kind": "monitoring", "due_at": monitoring.due_at},
    ]
    [summary] = of(result, CaseSummarized)
    assert summary.title == "Case summary" and summary.needs == ("legal", "shelter")
    assert [kind for kind, _ in summary.follow_ups] == ["callback", "monitoring"]


def test_multi_choice_answers_are_validated(machine, now):
    at_needs = step(machine, started(machine, now).state, Answer("text"), now)
    assert not step(machine, at_needs.state, Answer("legal, flying"), now).accepted
    assert not step(machine, at_needs.state, Answer(" , "), now).accepted
    assert step(machine, at_needs.state, Answer("LEGAL legal"), now).state.answers["needs"] == ["legal"]


def test_a_dropped_call_with_an_open_p0_flag_escalates_again(machine, now):
    result = walk_to_summary(machine, now)
    flagged = step(machine, result.state, RaiseFlag("danger"), now)
    assert len(of(flagged, EscalationRequested)) == 1
    dropped = step(machine, flagged.state, Answer("call_dropped"), now)
    [escalation] = of(dropped, EscalationRequested)
    assert escalation.level == "P0" and escalation.reason == "The call dropped while a P0 flag was open."
    assert dropped.state.outcome == "call_dropped"


def test_a_dropped_call_without_p0_pages_nobody(machine, now):
    dropped = step(machine, walk_to_summary(machine, now).state, Answer("call_dropped"), now)
    assert of(dropped, EscalationRequested) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("      needs: needs\n", "      needs: situation\n", "is not a choice or multi_choice question"),
        ("      region: province\n", "      region: needs\n", "is not a choice question"),
        ("    after_answer: callback_hours\n", "    after_answer: province\n", "is not a number question"),
        ("    after: 90d\n", "    after: three months\n", "after must be hours or days"),
        ("    after: 90d\n", "    after: 90d\n    after_answer: callback_hours\n", "exactly one of after"),
        ("    next: province\n", "    next:\n      legal: province\n      else: province\n", "routes every answer the same way"),
    ],
)
def test_plan_node_errors(old, new, message):
    assert old in PLAN_FLOW
    with pytest.raises(FlowLoadError, match=message):
        load_flow_text(PLAN_FLOW.replace(old, new, 1), "plan.yaml")


@pytest.mark.parametrize("outcome", ["caller_ended", "cancelled", "abandoned"])
def test_other_endings_that_lose_the_caller_with_p0_open_page_again(machine, now, outcome):
    flagged = step(machine, started(machine, now).state, RaiseFlag("danger"), now)
    closed = step(machine, flagged.state, Cancel(outcome), now)
    [escalation] = of(closed, EscalationRequested)
    assert escalation.level == "P0" and "before the end" in escalation.reason


def test_reaching_the_plan_end_with_p0_open_does_not_page_again(machine, now):
    flagged = step(machine, walk_to_summary(machine, now).state, RaiseFlag("danger"), now)
    assert of(step(machine, flagged.state, Answer("referred"), now), EscalationRequested) == []
