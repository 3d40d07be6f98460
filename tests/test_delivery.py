"""The rate limiter: replies go straight out, broadcasts and groups are paced, 429 pauses all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import BadRequest, RetryAfter

from bot.telegram.delivery import BROADCAST, PatientRateLimiter


class Calls:
    """A stand-in for the HTTP call: records chats, raises the errors it is given first."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[object] = []

    async def __call__(self, chat_id: object) -> bool:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(chat_id)
        return True


def send(
    limiter: PatientRateLimiter, calls: Calls, chat_id: object, args: str | None = None
) -> asyncio.Task[Any]:
    return asyncio.create_task(
        limiter.process_request(calls, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, args)
    )


async def test_replies_go_out_at_once_while_broadcasts_are_paced() -> None:
    limiter = PatientRateLimiter(broadcast_rate=5)
    replies, nudges = Calls(), Calls()
    tasks = [send(limiter, replies, chat) for chat in range(1, 41)]
    tasks += [send(limiter, nudges, chat, BROADCAST) for chat in range(101, 141)]
    await asyncio.sleep(0.1)
    assert len(replies.sent) == 40
    assert 5 <= len(nudges.sent) <= 6  # the bucket's burst, then 5 per second
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_group_chats_get_twenty_a_minute() -> None:
    limiter = PatientRateLimiter()
    calls = Calls()
    tasks = [send(limiter, calls, -1001) for _ in range(25)]
    tasks += [send(limiter, calls, "@kanava") for _ in range(3)]
    await asyncio.sleep(0.1)
    assert calls.sent.count(-1001) == 20
    assert calls.sent.count("@kanava") == 3
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_429_pauses_every_call_for_retry_after() -> None:
    limiter = PatientRateLimiter()
    flooded, other = Calls(RetryAfter(1)), Calls()
    first = send(limiter, flooded, 1)
    await asyncio.sleep(0.05)  # the 429 has come back
    second = send(limiter, other, 2)
    await asyncio.sleep(0.5)
    assert flooded.sent == [] and other.sent == []  # both wait out the pause
    assert await asyncio.wait_for(first, 2) is True
    assert await asyncio.wait_for(second, 2) is True
    assert flooded.sent == [1] and other.sent == [2]


async def test_gives_up_after_repeated_429s() -> None:
    limiter = PatientRateLimiter(retry_after_max=2)
    calls = Calls(*(RetryAfter(0) for _ in range(3)))
    with pytest.raises(RetryAfter):
        await send(limiter, calls, 1)
    assert calls.errors == [] and calls.sent == []


async def test_bad_request_is_not_retried() -> None:
    limiter = PatientRateLimiter()
    calls = Calls(BadRequest("Message is not modified"))
    with pytest.raises(BadRequest):
        await send(limiter, calls, 1)
    assert calls.sent == []
