"""The resource bank: the worker's own sentences, offered back only with consent, never changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import resources
from tests.botapi_standin import FakeUser
from tests.harness import Harness, button_data, buttons, running_bot

WORKER = FakeUser(id=3001, first_name="Riikka", language_code="fi")
HELPED = "Kävelylenkki lounaalla auttoi minua rauhoittumaan. Myös työparin huumori!"


def test_sentences_are_exact_substrings() -> None:
    found = resources.sentences([HELPED, "ok", "…"])
    assert found == [
        "Kävelylenkki lounaalla auttoi minua rauhoittumaan.",
        "Myös työparin huumori!",
    ]
    assert all(s in HELPED for s in found)


def test_pick_is_reproducible_and_avoids_the_last() -> None:
    pool = ["Yksi lause tässä.", "Toinen lause tässä."]
    assert resources.pick(pool, 5) == resources.pick(pool, 5)
    for seed in range(20):
        assert resources.pick(pool, seed, avoid="Yksi lause tässä.") == "Toinen lause tässä."
    assert resources.pick([], 1) is None


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def answer_a_resource_question(h: Harness) -> None:
    """One reflection in which the worker answers a resource question with HELPED."""
    await h.say(WORKER, "Viikko oli sekava.")
    for _ in range(4):
        async with h.storage() as store:
            reflection = await store.active_reflection(WORKER.id)
            assert reflection is not None
            stage = '"stage":"resources"' in reflection.state
        if stage:
            break
        await h.say(WORKER, "Jotain muuta.")
    assert stage, "the resource question did not come"
    await h.say(WORKER, HELPED)
    await h.say(WORKER, "/peru")


async def test_no_offer_without_consent(h: Harness) -> None:
    await answer_a_resource_question(h)
    replies = await h.say(WORKER, "Tänään on todella raskas päivä.")
    assert len(replies) == 1 and "Kävelylenkki" not in replies[0]["text"]


async def test_heavy_opening_hears_own_words_with_consent(h: Harness) -> None:
    await answer_a_resource_question(h)
    (ask,) = await h.say(WORKER, "/voimavarat")
    assert ask["text"] == h.prompts["fi"].text("resource_consent_question")
    saved, offer = await h.press(WORKER, ask, "ry", replies=2)
    assert saved["text"] == h.prompts["fi"].text("resource_consent_on")
    quoted = offer["text"].split('"', 1)[1].rsplit('"', 1)[0]
    assert quoted in resources.sentences([HELPED])  # exactly the worker's sentence
    (another,) = await h.press(WORKER, offer, button_data(offer, "ra"))
    assert another["text"] != offer["text"]  # the other sentence
    offer_turn, question = await h.say(WORKER, "Tänään on todella raskas päivä.", replies=2)
    assert offer_turn["text"].startswith('Aiemmin sanoit: "')
    assert offer_turn["text"][len('Aiemmin sanoit: "') : -1] in HELPED
    assert buttons(question)
    await h.say(WORKER, "/peru")
    # a light opening gets no offer; withdrawing consent stops offers
    replies = await h.say(WORKER, "Tänään oli mukava palaveri.")
    assert len(replies) == 1
    await h.say(WORKER, "/peru")
    (ask,) = await h.say(WORKER, "/voimavarat")
    (off,) = await h.press(WORKER, ask, "rn")
    assert off["text"] == h.prompts["fi"].text("resource_consent_off")
    replies = await h.say(WORKER, "Kaikki on raskasta.")
    assert len(replies) == 1
