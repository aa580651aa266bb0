from __future__ import annotations

from bot.telegram.keyboards import BUTTON_LABEL_LIMIT, CALLBACK_LIMIT, ButtonSigner, keyboard_for, text_for

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


def test_multi_choice_questions_list_their_options_for_typing():
    prompt = {**PROMPT, "type": "multi_choice", "hint": "(Ketik satu nomor atau lebih, misalnya 1,3.)"}
    assert keyboard_for(prompt, CASE, ButtonSigner(b"k")) is None
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
