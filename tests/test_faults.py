"""Bot API faults from the stand-in: 5xx, timeouts, 429, 403; the bot survives, loses nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.botapi_standin import FakeUser
from tests.harness import Harness, running_bot

WORKER = FakeUser(id=5001, first_name="Vilja", language_code="fi")
OPENING = "Viikko oli täynnä palavereja ja keskeytyksiä."


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, strict=False, hold_seconds=1.5, api_timeout=0.5) as harness:
        yield harness


async def stored_answers(h: Harness) -> list[str]:
    async with h.storage() as store:
        return [e.answer for _, entries in await store.everything(WORKER.id) for e in entries]


@pytest.mark.parametrize("kind", ["500", "timeout", "429"])
async def test_transient_faults_are_retried(h: Harness, kind: str) -> None:
    h.standin.inject_fault("sendMessage", kind, retry_after=1)  # type: ignore[arg-type]
    (question,) = await h.say(WORKER, OPENING)
    assert question["text"]
    assert await stored_answers(h) == [OPENING]
    failed = [e for e in h.standin.errors if e[0].method.lower() == "sendmessage"]
    assert len(failed) == 1  # the fault happened, and the retry went through


async def test_persistent_failure_is_reported_and_the_answer_kept(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    h.standin.inject_fault("sendMessage", "500", times=3)  # every attempt of the reply
    h.standin.send_text(WORKER, OPENING)
    (apology,) = await h.standin.wait_outgoing(WORKER.id, timeout=10)
    assert apology["text"] == h.prompts["fi"].text("error")  # the worker is told
    assert await stored_answers(h) == [OPENING]
    assert "api_gave_up method=sendMessage" in caplog.text
    assert "handler_error" in caplog.text and OPENING not in caplog.text
    # the next message goes on from the stored state
    (question,) = await h.say(WORKER, "Jatkan tästä.")
    assert question["text"]
    assert await stored_answers(h) == [OPENING, "Jatkan tästä."]


async def test_blocked_user_is_marked_and_unmarked(h: Harness) -> None:
    await h.say(WORKER, "/apua")
    h.standin.inject_fault("sendMessage", "403")
    h.standin.send_text(WORKER, OPENING)
    await h.standin.wait_call("sendMessage", lambda c: c.params.get("text") != "", timeout=5)
    await h.standin.wait_idle()
    async with h.storage() as store:
        assert WORKER.id in await store.blocked_users()
    assert await stored_answers(h) == [OPENING]
    (question,) = await h.say(WORKER, "Palasin.")
    async with h.storage() as store:
        assert WORKER.id not in await store.blocked_users()
    assert question["text"]


async def test_polling_survives_server_errors(h: Harness) -> None:
    h.standin.inject_fault("getUpdates", "500", times=2)
    (question,) = await h.say(WORKER, OPENING)
    assert question["text"]
    assert await stored_answers(h) == [OPENING]
