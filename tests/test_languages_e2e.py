"""Languages and the safety layer end to end, with transcripts printed for reading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.botapi_standin import FakeUser
from tests.harness import Harness, button_data, buttons, running_bot


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def walk(
    h: Harness, user: FakeUser, answers: list[str], scale: int, last_words: str
) -> None:
    """Answer in plain words, press the scale when it comes, then enough and a closing word."""
    last = None
    for text in answers:
        (last,) = await h.say(user, text)
        scale_data = [d for d in buttons(last).values() if d.endswith(f":s:{scale}")]
        if scale_data:
            (last,) = await h.press(user, last, scale_data[0])
    assert last is not None
    _, closing = await h.press(user, last, button_data(last, ":enough"), replies=2)
    assert button_data(closing, ":skip")
    (finished,) = await h.say(user, last_words)
    assert buttons(finished)


async def test_swedish_reflection(h: Harness) -> None:
    user = FakeUser(id=2001, first_name="Sara", language_code="sv")
    intro, opening = await h.say(user, "/start", replies=2)
    assert intro["text"] == h.prompts["sv"].text("intro", name=" Sara")
    assert len(buttons(opening)) == 8
    await walk(
        h,
        user,
        [
            "Ett svårt samtal med en klient tog all min energi.",
            "Min arbetskamrat lyssnade på mig efteråt.",
            "Det hjälpte att andas och ta en paus.",
            "Jag vet vad jag gör.",
        ],
        scale=6,
        last_words="Att jag klarar mer än jag tror.",
    )
    text = h.transcript(user)
    assert '"svårt samtal' in text or '"klient' in text
    assert "6" in text and "Tack" in text
    print("\n--- svenska ---\n" + text)


async def test_english_reflection_and_menus(h: Harness) -> None:
    sv_menu = await h.standin.wait_call(
        "setMyCommands", lambda c: c.params.get("language_code") == "sv"
    )
    assert "omat" in [c["command"] for c in sv_menu.params["commands"]]
    user = FakeUser(id=2002, first_name="Alex", language_code="en-GB")
    intro, opening = await h.say(user, "/start", replies=2)
    assert intro["text"] == h.prompts["en"].text("intro", name=" Alex")
    assert "Well-being at work" in buttons(opening)
    await walk(
        h,
        user,
        [
            "The team meeting felt tense but I managed to stay calm.",
            "My colleague thanked me afterwards.",
            "Breathing slowly helped.",
            "Knowing my own values.",
        ],
        scale=7,
        last_words="That I stayed calm.",
    )
    text = h.transcript(user)
    assert "7" in text and "Thank you" in text
    print("\n--- English ---\n" + text)


async def test_language_switch_sticks(h: Harness) -> None:
    user = FakeUser(id=2003, first_name="Eino", language_code="fi")
    (choose,) = await h.say(user, "/kieli")
    assert set(buttons(choose)) == {"Suomi", "Svenska", "English"}
    (done,) = await h.press(user, choose, "l:en")
    assert done["text"] == h.prompts["en"].text("language_set")
    (help_text,) = await h.say(user, "/apua")
    assert help_text["text"] == h.prompts["en"].text("help")
    (forged,) = await h.press(user, choose, "l:de")  # unknown falls back to Finnish
    assert forged["text"] == h.prompts["fi"].text("language_set")
    await h.stop_bot()
    await h.start_bot()
    (help_text,) = await h.say(user, "/apua")
    assert help_text["text"] == h.prompts["fi"].text("help")


async def test_safety_layer_in_a_reflection(h: Harness) -> None:
    user = FakeUser(id=2004, first_name="Outi", language_code="fi")
    (question,) = await h.say(user, "Työssä on ollut raskasta.")
    distress = "En jaksa enää elää, kaikki tuntuu toivottomalta."
    (care,) = await h.say(user, distress)
    assert "09 2525 0111" in care["text"] and "112" in care["text"]
    assert "kriisipalvelu" in care["text"]
    contact, card = await h.press(user, care, "c", replies=2)
    assert contact["contact"]["phone_number"] == "+358400959474"
    assert "Soita tai lähetä viesti" in card["text"]
    (next_question,) = await h.press(user, care, button_data(care, ":go"))
    assert next_question["text"] not in (question["text"], care["text"])
    async with h.storage() as store:
        reflection = await store.active_reflection(user.id)
        assert reflection is not None
        answers = [e.answer for e in await store.entries(user.id, reflection.id)]
    assert distress in answers  # stored like any answer; nobody is notified
    assert all(
        c.params.get("chat_id") in (user.id, str(user.id))
        for c in h.standin.calls
        if c.method in ("sendMessage", "sendContact")
    )
    print("\n--- turvallisuus ---\n" + h.transcript(user))


async def test_anticipation_exercise_is_replayed_for_comparison(h: Harness) -> None:
    user = FakeUser(id=2005, first_name="Kaisa", language_code="fi")
    fi = h.prompts["fi"]
    (first,) = await h.say(user, "/ennakointi")
    assert first["text"] == fi.stages["future"][0].text
    dream = "Tiimissä on rauha ja <minulla> on aikaa asiakkaille."
    await h.say(user, dream)
    await h.say(user, "/peru")
    replay, earlier, review = await h.say(user, "/ennakointi", replies=3)
    assert replay["text"].startswith("Kuvittelit ")
    assert dream in earlier["text"] and earlier["_params"]["parse_mode"] == "HTML"
    assert "Ennakointi – vuoden päästä" in earlier["text"]
    assert review["text"] == fi.stages["future_review"][0].text
    (listing,) = await h.say(user, "/omat")
    assert "Ennakointi – vuoden päästä" in listing["text"]
