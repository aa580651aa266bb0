"""The shipped protocol keeps its safety promises, statically and on thousands of random calls."""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone

import pytest
from babel.messages.pofile import read_po

from bot.engine import (
    Answer,
    EscalationRequested,
    FlowMachine,
    InputType,
    Level,
    NodeKind,
    SessionStatus,
    Start,
    load_flows,
    step,
)
from bot.engine.analysis import paths_to_end_without_escalation
from bot.i18n import LOCALES_DIR
from bot.lexicon import load_lexicon
from bot.library import DEFAULT_FLOWS_DIR

FLOWS = load_flows(DEFAULT_FLOWS_DIR)
PROTOCOL = FLOWS["protocol"]
NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


@pytest.mark.parametrize("flow_id", sorted(FLOWS))
def test_every_p0_and_p1_flag_passes_an_escalation_before_any_end(flow_id):
    flow = FLOWS[flow_id]
    unescalated = {
        node.id: paths_to_end_without_escalation(flow, node.id)
        for node in flow.nodes.values()
        if node.kind is NodeKind.FLAG and node.flag is not None and flow.flags[node.flag].level.needs_escalation
    }
    assert {node: path for node, path in unescalated.items() if path} == {}


def random_answer(node, rng: random.Random) -> str:
    spec = node.input
    if spec.type is InputType.MULTI_CHOICE:
        return " ".join(rng.sample([option.key for option in spec.options], rng.randint(1, 3)))
    if spec.options:
        return rng.choice(spec.options).key
    if spec.type is InputType.NUMBER:
        return str(rng.randint(spec.minimum or 0, spec.maximum if spec.maximum is not None else 99))
    return rng.choice(["Kami baik-baik saja", "Neighbour saw children at night", "Tidak tahu"])


@pytest.mark.parametrize("seed", range(4))
def test_random_calls_never_end_with_an_unescalated_p0_or_p1_flag(seed):
    machine = FlowMachine(PROTOCOL, screener=load_lexicon())
    rng = random.Random(seed)
    for _ in range(250):
        result = step(machine, None, Start(), NOW)
        paged_levels: list[str] = []
        for _ in range(400):
            if result.state.status is SessionStatus.ENDED:
                break
            result = step(machine, result.state, Answer(random_answer(PROTOCOL.nodes[result.state.node], rng)), NOW)
            assert result.accepted
            paged_levels += [event.level for event in result.events if isinstance(event, EscalationRequested)]
        assert result.state.status is SessionStatus.ENDED, "a call that never ends"
        flags = result.state.flags
        assert all(flag.escalated for flag in flags if Level(flag.level).needs_escalation)
        if flags and all(not Level(flag.level).needs_escalation for flag in flags):
            assert paged_levels == [], "a call with only P2/P3 flags paged a supervisor"


def test_every_question_is_reachable_and_every_flag_is_used():
    from bot.engine.analysis import analyse

    assert analyse(PROTOCOL) == []


def test_the_lexicon_raises_only_flags_the_protocol_declares_at_the_same_level():
    lexicon = load_lexicon()
    for flag, level in lexicon.levels().items():
        assert flag in PROTOCOL.flags, flag
        assert PROTOCOL.flags[flag].level is level, (flag, level, PROTOCOL.flags[flag].level)


ASQ = re.compile(r"\bASQ item (\d)\b")


def test_asq_items_are_named_by_number_and_topic_never_worded():
    asked = [node for node in PROTOCOL.nodes.values() if node.kind is NodeKind.ASK and ASQ.search(node.text or "")]
    assert {ASQ.search(node.text).group(1) for node in asked} == {"1", "2", "3", "4", "5"}
    for node in asked:
        assert "training card" in node.text, node.id
        # The official items are questions to the caller; a quoted question here would be a rewording.
        assert '"' not in node.text and "?\"" not in node.text, node.id


# Phrases the do-no-harm guidance rules out: blame, false promises, pressure for details.
HARMFUL = {
    "en": ["why didn't you", "why did you go", "it is your fault", "it's your fault", "your own fault",
           "everything will be fine", "everything will be ok", "you should have", "tell me everything",
           "calm down", "i promise"],
    "id": ["kenapa tidak lari", "kenapa kamu mau", "itu salahmu", "salahmu sendiri", "salah anda sendiri",
           "semua akan baik-baik saja", "semuanya akan baik", "seharusnya anda", "seharusnya kamu",
           "ceritakan semuanya", "saya janji"],
}


# Guidance may quote what must not be said ("Do not say ..."); that part is not the bot speaking.
WARNING_AGAINST = re.compile(
    r"(do not say|don't say|never say|avoid saying|jangan (?:berkata|katakan|bilang|mengatakan|ucapkan))[^.]*\.?",
    re.IGNORECASE,
)


def protocol_texts(language: str) -> list[str]:
    texts = [text.msgid for text in PROTOCOL.texts()]
    if language == "en":
        return texts
    with (LOCALES_DIR / "id" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="id")
    return [str(catalog.get(text).string) for text in texts]


@pytest.mark.parametrize("language", ["en", "id"])
def test_no_text_blames_promises_or_presses_for_details(language):
    spoken = [WARNING_AGAINST.sub("", text).lower() for text in protocol_texts(language)]
    offending = [text for text in spoken if any(phrase in text for phrase in HARMFUL[language])]
    assert offending == []


def test_the_harm_check_can_fail_and_spares_validation():
    assert any(phrase in "Why didn't you leave?".lower() for phrase in HARMFUL["en"])
    assert not any(phrase in "it is not your fault. bukan salahmu.".lower() for phrase in HARMFUL["en"] + HARMFUL["id"])
    assert WARNING_AGAINST.sub("", 'Say it is hard. Do not say "everything will be fine".') == "Say it is hard. "
