from __future__ import annotations

import pytest

from bot.callback_data import LARGEST_STEP, MULTI_CHOICE_OPTIONS
from bot.telegram.keyboards import BUTTON_LABEL_LIMIT, CALLBACK_LIMIT, ButtonSigner, TogglePress, keyboard_for, text_for

CASE = "0f8e7d6c-1111-2222-3333-444455556666"
PROMPT = {"type": "choice", "step": 12, "options": [{"key": "a", "label": "Korban"}, {"key": "b", "label": "Keluarga"}]}


def test_button_data_fits_telegram_and_round_trips():
    signer = ButtonSigner(b"secret")
    data = signer.encode(CASE, 9999, 42)
    assert len(data.encode()) <= CALLBACK_LIMIT
    press = signer.decode(data, CASE)
    assert press is not None and (press.step, press.option) == (9999, 42)


def test_altered_foreign_and_garbage_data_are_refused():
    signer = ButtonSigner(b"secret")
    data = signer.encode(CASE, 3, 1)
    assert signer.decode(data.replace(":3:", ":4:"), CASE) is None  # another step, same signature
    assert signer.decode(data.replace(":1:", ":0:"), CASE) is None  # another option
    assert signer.decode(data, "ffffffff" + CASE[8:]) is None  # another case
    assert ButtonSigner(b"other").decode(data, CASE) is None  # another deployment's key
    for garbage in (None, "", "p:1:2", "x" * 64, "p:0f8e7d6c:a:b:c"):
        assert signer.decode(garbage, CASE) is None


def test_choices_get_one_button_per_row_and_yes_no_one_row():
    signer = ButtonSigner(b"secret")
    choice = keyboard_for(PROMPT, CASE, signer)
    assert [[button.text for button in row] for row in choice.inline_keyboard] == [["Korban"], ["Keluarga"]]
    yes_no = keyboard_for({**PROMPT, "type": "yes_no"}, CASE, signer)
    assert len(yes_no.inline_keyboard) == 1 and len(yes_no.inline_keyboard[0]) == 2
    assert keyboard_for({**PROMPT, "type": "number"}, CASE, signer) is None


def test_multi_choice_questions_list_their_options_for_typing_as_well_as_toggling():
    prompt = {**PROMPT, "type": "multi_choice", "hint": "(Ketik satu nomor atau lebih, misalnya 1,3.)"}
    assert keyboard_for(prompt, CASE, ButtonSigner(b"k")) is not None
    assert text_for("Apa kebutuhannya?", prompt) == "Apa kebutuhannya?\n\n1. Korban\n2. Keluarga\n(Ketik satu nomor atau lebih, misalnya 1,3.)"
    assert text_for("Plain", None) == "Plain"


def test_a_choice_with_a_label_too_long_for_its_button_lists_every_label_in_full():
    long_label = "Ada yang dalam bahaya sekarang, penelepon atau orang lain (ada penanda P0 terbuka)"
    prompt = {**PROMPT, "options": [*PROMPT["options"], {"key": "danger", "label": long_label}]}
    signer = ButtonSigner(b"secret")
    texts = [row[0].text for row in keyboard_for(prompt, CASE, signer).inline_keyboard]
    assert texts[:2] == ["1. Korban", "2. Keluarga"]
    assert texts[2].startswith("3. Ada yang dalam bahaya") and texts[2].endswith("…")
    assert all(len(text) <= BUTTON_LABEL_LIMIT for text in texts)
    assert text_for("Siapa yang menelepon?", prompt) == f"Siapa yang menelepon?\n\n1. Korban\n2. Keluarga\n3. {long_label}"
    press = signer.decode(keyboard_for(prompt, CASE, signer).inline_keyboard[2][0].callback_data, CASE)
    assert press is not None and press.option == 2  # the numbered button still answers its own option


def test_a_choice_with_short_labels_keeps_its_text_and_plain_buttons():
    assert text_for("Siapa yang menelepon?", PROMPT) == "Siapa yang menelepon?"


# --- Multi-choice: a toggle keyboard -----------------------------------------------------------------

NEEDS = {
    "type": "multi_choice",
    "step": 7,
    "options": [{"key": "legal", "label": "Bantuan hukum"}, {"key": "shelter", "label": "Rumah aman"}, {"key": "medical", "label": "Medis"}],
    "hint": "(Ketik satu nomor atau lebih, misalnya 1,3.)",
}


def toggles(markup):
    """Each button of a toggle keyboard as (label, decoded press)."""
    signer = ButtonSigner(b"secret")
    return [(button.text, signer.decode_toggle(button.callback_data, CASE)) for row in markup.inline_keyboard for button in row]


def test_a_multi_choice_question_gets_one_toggle_per_option_and_done():
    markup = keyboard_for(NEEDS, CASE, ButtonSigner(b"secret"), done_label="Selesai")
    assert [len(row) for row in markup.inline_keyboard] == [1, 1, 1, 1]
    assert toggles(markup) == [
        ("☐ Bantuan hukum", TogglePress(CASE[:8], 7, 0, 0)),
        ("☐ Rumah aman", TogglePress(CASE[:8], 7, 0, 1)),
        ("☐ Medis", TogglePress(CASE[:8], 7, 0, 2)),
        ("Selesai", TogglePress(CASE[:8], 7, 0, None)),
    ]


def test_the_keyboard_shows_its_selection_and_every_button_carries_it():
    markup = keyboard_for(NEEDS, CASE, ButtonSigner(b"secret"), done_label="Done", selection=0b101)
    assert [label for label, _ in toggles(markup)] == ["☑ Bantuan hukum", "☐ Rumah aman", "☑ Medis", "Done"]
    presses = [press for _, press in toggles(markup)]
    assert all(press is not None and press.selection == 0b101 for press in presses)
    # A tap flips its own option only; Done keeps the selection and answers with its numbers.
    assert [press.after for press in presses] == [0b100, 0b111, 0b001, 0b101]
    assert presses[-1].typed == "1,3"
    assert TogglePress(CASE[:8], 7, 0b10, None).typed == "2"


def test_toggle_labels_fit_a_button_and_are_numbered_when_one_is_long():
    long_label = "Ada yang dalam bahaya sekarang, penelepon atau orang lain (penanda P0)"
    # 40 characters: would fit a choice's button, but not after the tick and its space.
    almost = "Pendampingan psikososial untuk si korban"
    assert len(almost) == BUTTON_LABEL_LIMIT
    for extra in (long_label, almost):
        prompt = {**NEEDS, "options": [*NEEDS["options"], {"key": "x", "label": extra}]}
        labels = [label for label, _ in toggles(keyboard_for(prompt, CASE, ButtonSigner(b"secret"), selection=0b1000))][:-1]
        assert labels[:3] == ["☐ 1. Bantuan hukum", "☐ 2. Rumah aman", "☐ 3. Medis"]
        assert labels[3].startswith("☑ 4. ") and labels[3].endswith("…")
        assert all(len(label) <= BUTTON_LABEL_LIMIT for label in labels)
        assert f"4. {extra}" in text_for("Apa kebutuhannya?", prompt).splitlines()  # the full label is in the message


def test_altered_foreign_and_garbage_toggle_data_are_refused():
    signer = ButtonSigner(b"secret")
    tap = signer.encode_toggle(CASE, 7, 0b101, 1)
    done = signer.encode_toggle(CASE, 7, 0b101, None)
    assert tap == f"m:{CASE[:8]}:7:5:1:{tap.split(':')[-1]}" and done.split(":")[4] == "d"
    sign = tap.split(":")[-1]
    for altered in (
        tap.replace(":7:", ":8:"),  # another step
        tap.replace(":5:", ":7:"),  # another selection
        tap.replace(":1:", ":2:"),  # another option
        tap.replace(":1:", ":d:"),  # a tap made into Done
        done.replace(":5:", ":7:"),  # Done with another selection
        tap.replace(":5:", ":05:"),  # the same numbers spelled otherwise
        tap.replace(":7:", ":07:"),
        tap.replace(":5:", ":0x5:"),
        tap[:-3] + "AAA",  # another signature
        f"m:{CASE[:8]}:7:5:1:{sign}:",
    ):
        assert signer.decode_toggle(altered, CASE) is None, altered
    assert signer.decode_toggle(tap, "ffffffff" + CASE[8:]) is None  # another case
    assert ButtonSigner(b"other").decode_toggle(tap, CASE) is None  # another deployment's key
    for garbage in (None, "", "m:1:2", "x" * 64, f"m:{CASE[:8]}:a:b:c:d", f"m:{CASE[:8]}:²:5:1:{sign}", f"m:{CASE[:8]}:7:5:1:é"):
        assert signer.decode_toggle(garbage, CASE) is None
    # Option buttons and toggles never stand in for each other.
    assert signer.decode(tap, CASE) is None and signer.decode(done, CASE) is None
    assert signer.decode_toggle(signer.encode(CASE, 7, 1), CASE) is None


def test_a_question_with_more_options_than_the_bitmask_is_typed_only():
    many = [{"key": f"k{number}", "label": f"Pilihan {number}"} for number in range(MULTI_CHOICE_OPTIONS + 1)]
    assert keyboard_for({**NEEDS, "options": many}, CASE, ButtonSigner(b"secret")) is None
    assert "33. Pilihan 32" in text_for("Apa kebutuhannya?", {**NEEDS, "options": many}).splitlines()
    # The largest that fits gets its keyboard, every option ticked, at the largest step, within 64 bytes.
    markup = keyboard_for({**NEEDS, "step": LARGEST_STEP, "options": many[:-1]}, CASE, ButtonSigner(b"secret"), selection=2**MULTI_CHOICE_OPTIONS - 1)
    data = [button.callback_data for row in markup.inline_keyboard for button in row]
    assert len(data) == MULTI_CHOICE_OPTIONS + 1 and all(len(item.encode()) <= CALLBACK_LIMIT for item in data)


@pytest.mark.parametrize("options", [[], None])
def test_a_multi_choice_question_without_options_gets_no_keyboard(options):
    assert keyboard_for({**NEEDS, "options": options}, CASE, ButtonSigner(b"secret")) is None
