"""DurablePoller: one person's updates in order, different people's side by side."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Chat, Message, Update, User

from bot.telegram.lifecycle import serve_until_signal
from bot.telegram.polling import lanes
from tests.botapi_standin import FakeUser
from tests.harness import Harness, running_bot

PEOPLE = [FakeUser(id=7001 + n, first_name=f"Tekijä{n}", language_code="fi") for n in range(4)]


def text_update(update_id: int, user_id: int | None, chat_id: int) -> Update:
    user = User(user_id, "x", is_bot=False) if user_id is not None else None
    chat = Chat(chat_id, Chat.PRIVATE if chat_id > 0 else Chat.CHANNEL)
    message = Message(update_id, None, chat, from_user=user, text="t")  # type: ignore[arg-type]
    if user is None:
        return Update(update_id, channel_post=message)
    return Update(update_id, message=message)


def test_lanes_group_by_person_and_keep_order() -> None:
    updates = (
        text_update(1, 10, 10),
        text_update(2, 20, 20),
        text_update(3, 10, 10),
        text_update(4, None, -100),
        text_update(5, 20, 20),
        text_update(6, None, -100),
    )
    got = [[u.update_id for u in lane] for lane in lanes(updates)]
    assert got == [[1, 3], [2, 5], [4, 6]]


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def test_a_batch_of_many_people_is_stored_in_each_ones_order(h: Harness) -> None:
    for round_ in range(5):
        for person in PEOPLE:  # interleaved, all queued before the bot's next poll
            h.standin.send_text(person, f"{person.first_name}, viesti {round_}.")
    for person in PEOPLE:
        await h.standin.wait_outgoing(person.id, 5, timeout=20)
    await h.standin.wait_idle()
    async with h.storage() as store:
        for person in PEOPLE:
            answers = [e.answer for _, es in await store.everything(person.id) for e in es]
            assert answers == [f"{person.first_name}, viesti {n}." for n in range(5)]


async def test_serving_starts_then_takes_startup_objects_out_of_garbage_collection() -> None:
    order: list[str] = []
    stop = asyncio.Event()

    class Server:
        async def start(self) -> None:
            order.append(f"start frozen={gc.get_freeze_count()}")
            stop.set()

        async def stop(self) -> None:
            order.append("stop")

    gc.unfreeze()
    try:
        await serve_until_signal(Server(), stop)
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert order == ["start frozen=0", "stop"]
    assert frozen > 10_000  # modules, classes, the test session: all of start-up
