"""End to end: the real Application against the local Bot API stand-in, as a worker would."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import setup_logging
from tests.botapi_standin import FakeUser
from tests.harness import (
    SUPERVISOR_PHONE,
    TOKEN,
    Harness,
    answer_to,
    button_data,
    buttons,
    running_bot,
)

WORKER = FakeUser(id=501, first_name="Aino", language_code="fi")
OPENING = "Asiakkaan kanssa oli vaikea keskustelu, ja olin illalla tosi väsynyt."
QUOTE = re.compile(r'"([^"]+)"')


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as h:
        yield h


def scale_buttons(message: dict[str, Any]) -> list[str]:
    return [d for d in buttons(message).values() if re.search(r":s:\d+$", d)]


async def answer_until_scaling(h: Harness, last: dict[str, Any]) -> dict[str, Any]:
    """Answer questions in plain words until the 0–10 question is on screen."""
    for text in (
        "Työpari kuunteli minua.",
        "Se rauhoitti.",
        "Hengitin syvään.",
        "Muistin aiemman onnistumisen.",
    ):
        if scale_buttons(last):
            return last
        (last,) = await h.say(WORKER, text)
    assert scale_buttons(last), last
    return last


async def test_whole_reflection_in_finnish(harness: Harness) -> None:
    h, standin = harness, harness.standin
    commands = await standin.wait_call("setMyCommands")
    assert [c["command"] for c in commands.params["commands"]][:2] == ["start", "pohdi"]

    intro, opening = await h.say(WORKER, "/start", replies=2)
    assert "Aino" in intro["text"] and "kriisipalvelu" in intro["text"]
    assert "työnantajasi" in intro["text"]
    assert len(buttons(opening)) == 8  # the theme doors

    (echo,) = await h.say(WORKER, OPENING)
    quoted = QUOTE.findall(echo["text"])
    assert quoted and quoted[0] in OPENING, echo["text"]

    scaling = await answer_until_scaling(h, echo)
    (follow_up,) = await h.press(WORKER, scaling, button_data(scaling, ":s:7"))
    assert "7" in follow_up["text"] and "6" in follow_up["text"]
    await standin.wait_call("editMessageText")  # sent beside the next question
    edited = standin.outbox(WORKER.id)[
        [m["message_id"] for m in standin.outbox(WORKER.id)].index(scaling["message_id"])
    ]
    assert edited["text"].endswith("→ 7") and not buttons(edited)

    intro_closing, closing = await h.press(
        WORKER, follow_up, button_data(follow_up, ":enough"), replies=2
    )
    assert "lopetetaan" in intro_closing["text"]
    assert button_data(closing, ":skip")  # the closing question can be skipped too
    (finished,) = await h.say(WORKER, "Otan mukaan sen, että työpari auttaa.")
    assert "Kiitos" in finished["text"]
    contact, card_text = await h.press(WORKER, finished, "c", replies=2)
    assert contact["contact"]["phone_number"] == SUPERVISOR_PHONE
    assert "Soita tai lähetä viesti" in card_text["text"]

    contact, card_text = await h.say(WORKER, "/yhteys", replies=2)
    assert contact["method"].lower() == "sendcontact"

    await standin.wait_idle()
    assert standin.pending_callback_ids() == set()
    async with h.storage() as store:
        assert await store.active_reflection(WORKER.id) is None
        reflection = await store.reflection(WORKER.id, 1)
        assert reflection is not None and reflection.status == "finished"
        entries = await store.entries(WORKER.id, reflection.id)
    assert entries[0].answer == OPENING and entries[0].stage == "opening"
    assert [e.scale for e in entries if e.scale is not None] == [7]
    assert entries[-1].stage == "closing"
    ids = [e.question_id for e in entries]
    assert len(ids) == len(set(ids))
    print("\n" + h.transcript(WORKER))


async def test_restart_mid_reflection_continues_at_same_question(harness: Harness) -> None:
    h, standin = harness, harness.standin
    (first_question,) = await h.say(WORKER, OPENING)
    (second_question,) = await h.say(WORKER, "Työpari kuunteli minua.")
    await standin.wait_idle()

    await h.stop_bot()
    await h.start_bot()

    # the open question is still the one shown before the restart
    k, resumed = (await h.say(WORKER, "/pohdi"))[0], None
    assert "kesken" in k["text"]
    (resumed,) = await h.press(WORKER, k, "k")
    assert resumed["text"] == second_question["text"]

    (third,) = await h.say(WORKER, "Se auttoi jaksamaan.")
    assert third["text"] not in (first_question["text"], second_question["text"])
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        answers = [e.answer for e in await store.entries(WORKER.id, reflection.id)]
    assert answers == [OPENING, "Työpari kuunteli minua.", "Se auttoi jaksamaan."]

    # a button from before the restart that the conversation has passed does nothing
    old = h.standin.press(WORKER, first_question, button_data(first_question, ":skip"))
    assert "ohitettuun" in (await answer_to(standin, old)).get("text", "")


async def test_duplicate_update_is_stored_once(harness: Harness) -> None:
    h, standin = harness, harness.standin
    update = standin.send_text(WORKER, OPENING)
    (question,) = await standin.wait_outgoing(WORKER.id)
    standin.redeliver(update)
    (again,) = await standin.wait_outgoing(WORKER.id)
    assert again["text"] == question["text"]  # the open question, shown once more
    (next_question,) = await h.say(WORKER, "Toinen vastaus.")
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        answers = [e.answer for e in await store.entries(WORKER.id, reflection.id)]
    assert answers == [OPENING, "Toinen vastaus."]
    assert next_question["text"] != question["text"]


async def test_commands_are_never_stored_as_answers(harness: Harness) -> None:
    h = harness
    (question,) = await h.say(WORKER, OPENING)
    (help_text,) = await h.say(WORKER, "/apua")
    assert "Näin tämä toimii" in help_text["text"]
    (unknown,) = await h.say(WORKER, "/tuntematon")
    assert "/apua" in unknown["text"]
    (after,) = await h.say(WORKER, "Vastaus kysymykseen.")
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        entries = await store.entries(WORKER.id, reflection.id)
    assert [e.answer for e in entries] == [OPENING, "Vastaus kysymykseen."]
    assert entries[1].question == question["text"]
    assert after["text"] != question["text"]


async def test_non_text_messages_get_a_kind_reply_and_break_nothing(harness: Harness) -> None:
    h, standin = harness, harness.standin
    (question,) = await h.say(WORKER, OPENING)
    for send in (
        standin.send_sticker,
        standin.send_photo,
        standin.send_voice,
        standin.send_document,
    ):
        send(WORKER)
        (reply,) = await standin.wait_outgoing(WORKER.id)
        assert "vain tekstiä" in reply["text"]
    standin.edit_text(WORKER, question["message_id"] - 1, "muokattu")
    (reply,) = await standin.wait_outgoing(WORKER.id)
    assert "muokkauksen" in reply["text"]
    (next_question,) = await h.say(WORKER, "Jatkan tästä.")
    assert next_question["text"] != question["text"]
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        assert len(await store.entries(WORKER.id, reflection.id)) == 2


async def test_longest_message_is_stored_whole(harness: Harness) -> None:
    h = harness
    text = ("Pitkä pohdinta työstä " * 200)[:4096]
    (question,) = await h.say(WORKER, text)
    assert len(question["text"]) < 4096
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        (entry,) = await store.entries(WORKER.id, reflection.id)
    assert entry.answer == text.strip()


@pytest.mark.parametrize(
    "data",
    [
        "d:999:2:skip",
        "d:1:99:skip",
        "d:1:2:s:7",
        "x",
        "d:1:2:",
        "d:1:2:" + "a" * 58,
        "dc:abc",
        "so:1",
        "o:99999999999999",
        "N;DROP TABLE",
    ],
)
async def test_forged_callback_data_changes_nothing(harness: Harness, data: str) -> None:
    h, standin = harness, harness.standin
    (question,) = await h.say(WORKER, OPENING)
    pressed = standin.press(WORKER, question, data)
    fi = h.prompts["fi"]
    answer = (await answer_to(standin, pressed)).get("text")
    assert answer in (fi.text("stale_button"), fi.text("not_supervisor"))
    (next_question,) = await h.say(WORKER, "Vastaan edelleen.")
    assert next_question["text"] != question["text"]
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        assert len(await store.entries(WORKER.id, reflection.id)) == 2


async def test_another_worker_cannot_press_my_buttons(harness: Harness) -> None:
    h, standin = harness, harness.standin
    other = FakeUser(id=777, first_name="Outo", language_code="fi")
    (question,) = await h.say(WORKER, OPENING)
    (theirs,) = await h.say(other, "Oma aloitus.")
    pressed = standin.press(other, question, button_data(question, ":enough"))
    assert "painike" in (await answer_to(standin, pressed)).get("text", "")
    standin.press(other, question, "dc:1")
    (reply,) = await standin.wait_outgoing(other.id)
    assert reply["text"] == h.prompts["fi"].text("not_found")
    async with h.storage() as store:
        mine = await store.active_reflection(WORKER.id)
        assert mine is not None and mine.id == 1
        assert len(await store.entries(WORKER.id, 1)) == 1
    assert theirs["text"]


async def test_cancel_keeps_answers_until_deleted(harness: Harness) -> None:
    h = harness
    await h.say(WORKER, OPENING)
    (cancelled,) = await h.say(WORKER, "/peru")
    assert "keskeytetty" in cancelled["text"]
    (nothing,) = await h.say(WORKER, "/peru")
    assert "ei ole nyt" in nothing["text"]
    async with h.storage() as store:
        assert len(await store.entries(WORKER.id, 1)) == 1
    (question,) = await h.press(WORKER, cancelled, "dl:1")
    assert "pysyvästi" in question["text"]
    (deleted,) = await h.press(WORKER, question, "dc:1")
    assert "poistettu" in deleted["text"]
    async with h.storage() as store:
        assert await store.entries(WORKER.id, 1) == []
        assert await store.reflection(WORKER.id, 1) is None


async def test_theme_door_and_say_more(harness: Harness) -> None:
    h = harness
    _, opening = await h.say(WORKER, "/start", replies=2)
    (invitation,) = await h.press(WORKER, opening, button_data(opening, ":t:onnistuminen"))
    assert invitation["text"] == "Onnistuminen. Mikä onnistui?"
    (echo,) = await h.say(WORKER, "Vaikea asiakastapaaminen sujui rauhallisesti.")
    (more,) = await h.press(WORKER, echo, button_data(echo, ":more"))
    assert more["text"] == h.prompts["fi"].text("more_invitation")
    await h.say(WORKER, "Ja kollega kiitti jälkeenpäin.")
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None and reflection.theme == "onnistuminen"
        entries = await store.entries(WORKER.id, reflection.id)
    assert [e.continued for e in entries] == [False, True]
    assert entries[1].question_id == entries[0].question_id


async def test_group_chats_are_pointed_to_private(harness: Harness) -> None:
    h, standin = harness, harness.standin
    standin.send_group_text(WORKER, -100, "/pohdi")
    (reply,) = await standin.wait_outgoing(-100)
    assert "yksityisviestein" in reply["text"]
    async with h.storage() as store:
        assert await store.active_reflection(WORKER.id) is None


async def test_english_speaker_gets_english(harness: Harness) -> None:
    if "en" not in harness.prompts:
        pytest.skip("no English prompt file")
    h = harness
    user = FakeUser(id=601, first_name="Alex", language_code="en-GB")
    intro, opening = await h.say(user, "/start", replies=2)
    assert intro["text"] == h.prompts["en"].text("intro", name=" Alex")
    assert opening["text"].startswith(h.prompts["en"].stages["opening"][0].text[:5]) or buttons(
        opening
    )


async def test_logs_carry_no_text_and_no_token(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    setup_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    h = harness
    secret_answer = "Salainen-vastaus-1234"
    await h.say(WORKER, "/start", replies=2)
    (question,) = await h.say(WORKER, secret_answer)
    await h.press(WORKER, question, button_data(question, ":skip"))
    await h.say(WORKER, "/tuntematon")
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert "reflection_started" in everything
    assert secret_answer not in everything
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything


async def test_redelivered_press_shows_the_current_step(harness: Harness) -> None:
    h, standin = harness, harness.standin
    (question,) = await h.say(WORKER, OPENING)
    pressed = standin.press(WORKER, question, button_data(question, ":skip"))
    (after,) = await standin.wait_outgoing(WORKER.id)
    standin.redeliver(pressed)
    (again,) = await standin.wait_outgoing(WORKER.id)
    assert again["text"] == after["text"]  # not an "old button" notice, and no second skip
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
    assert f'"turn":{int(button_data(after, ":skip").split(":")[2])}' in reflection.state


async def test_redelivered_last_answer_shows_the_end_again(harness: Harness) -> None:
    h, standin = harness, harness.standin
    (question,) = await h.say(WORKER, OPENING)
    _, closing = await h.press(WORKER, question, button_data(question, ":enough"), replies=2)
    last = standin.send_text(WORKER, "Otan mukaan levollisuuden.")
    (finished,) = await standin.wait_outgoing(WORKER.id)
    standin.redeliver(last)
    (again,) = await standin.wait_outgoing(WORKER.id)
    assert again["text"] == finished["text"] and buttons(again) == buttons(finished)
    async with h.storage() as store:
        assert await store.active_reflection(WORKER.id) is None
        answers = [e.answer for e in await store.entries(WORKER.id, 1)]
    assert answers == [OPENING, "Otan mukaan levollisuuden."]
    assert button_data(closing, ":skip")


async def test_an_update_fetched_but_not_handled_comes_again_after_a_crash(
    harness: Harness,
) -> None:
    """The offset moves on only after handling: a bot that dies mid-update gets it again."""
    h, standin = harness, harness.standin
    await h.say(WORKER, OPENING)
    assert h.app is not None and h.poller is not None
    gate = asyncio.Event()
    original = h.app.process_update

    async def stuck(update: object) -> None:
        gate.set()
        await asyncio.sleep(3600)  # the "crash" comes while this update is in hand

    h.app.process_update = stuck  # type: ignore[method-assign]
    standin.send_text(WORKER, "Tämä vastaus ei saa kadota.")
    await asyncio.wait_for(gate.wait(), 5)
    assert h.poller._task is not None
    h.poller._task.cancel()  # the process dies: no acknowledgement is sent
    dead = h.app
    assert dead.post_shutdown is not None
    await dead.post_shutdown(dead)  # only so this test leaves no database thread behind
    h.app.process_update = original  # type: ignore[method-assign]
    h.poller = None
    h.app = None
    await h.start_bot()  # same database, new process
    (reply,) = await standin.wait_outgoing(WORKER.id, timeout=10)
    assert reply["text"]
    async with h.storage() as store:
        reflection = await store.active_reflection(WORKER.id)
        assert reflection is not None
        answers = [e.answer for e in await store.entries(WORKER.id, reflection.id)]
    assert answers == [OPENING, "Tämä vastaus ei saa kadota."]
