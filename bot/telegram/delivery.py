"""Delivery to the Bot API: flood limits, waiting out 429, retrying sends that failed in transit.

Every API call except getUpdates passes through the Application's rate limiter, so this is the
one place where a 5xx, a timeout or a 429 from Telegram is handled for all handlers alike.

Telegram's 30 messages per second is a limit on *broadcasts*: messages the bot starts itself, to
many chats at once. A reply to what a worker just wrote is not one; queueing replies behind a
30/s bucket would make every worker wait whenever more than 30 people write in the same second.
So replies go straight out, messages the bot starts (reminders) pass a paced bucket, groups keep
their 20 per minute, and a 429 from Telegram, whatever caused it, pauses every call for the
`retry_after` it names before the call is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)
JSONDict = dict[str, Any]

BROADCAST = "broadcast"
"""`rate_limiter_args` for a message the bot starts on its own (a reminder), not a reply."""

BROADCAST_RATE = 25.0  # per second, under Telegram's 30 to leave room for replies
GROUP_RATE = 20.0  # per GROUP_PERIOD seconds in one group chat
GROUP_PERIOD = 60.0
GROUP_LIMITERS_KEPT = 512


class PatientRateLimiter(BaseRateLimiter[str]):
    """Paces broadcasts and group messages, waits out 429 for all calls, retries network errors.

    Errors that retrying cannot mend (BadRequest, Forbidden, InvalidToken) pass straight on.
    A send that timed out may in fact have arrived: the worker may then see a question twice,
    which is better than not at all; the answer itself is already committed by then.
    """

    def __init__(
        self,
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        retry_after_max: int = 3,
        broadcast_rate: float = BROADCAST_RATE,
    ) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.retry_after_max = retry_after_max
        self._broadcast = AsyncLimiter(broadcast_rate, 1)
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._resume_at = 0.0  # loop time before which no call goes out (after a 429)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | JSONDict | list[JSONDict]:
        paced = self._broadcast if rate_limit_args == BROADCAST else None
        group = self._group_limiter(data.get("chat_id"))
        floods = failures = 0
        while True:
            try:
                async with _maybe(group), _maybe(paced):
                    await self._wait_for_resume()
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                floods += 1
                if floods > self.retry_after_max:
                    log.warning("api_flood_gave_up method=%s retries=%s", endpoint, floods - 1)
                    raise
                pause = exc.retry_after
                seconds = pause if isinstance(pause, int) else pause.total_seconds()
                log.info("api_flood_wait method=%s seconds=%s", endpoint, seconds)
                self._pause(seconds + 0.1)
            except BadRequest:
                raise
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                failures += 1
                if failures == self.attempts:
                    log.warning(
                        "api_gave_up method=%s attempts=%s error=%s",
                        endpoint,
                        failures,
                        type(exc).__name__,
                    )
                    raise
                log.info(
                    "api_retry method=%s attempt=%s error=%s",
                    endpoint,
                    failures,
                    type(exc).__name__,
                )
                await asyncio.sleep(self.backoff * 2 ** (failures - 1))

    def _pause(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + seconds)

    async def _wait_for_resume(self) -> None:
        left = self._resume_at - asyncio.get_running_loop().time()
        if left > 0:  # a later 429 pauses again, from the call that meets it
            await asyncio.sleep(left)

    def _group_limiter(self, chat_id: object) -> AsyncLimiter | None:
        """Groups and channels (negative ids, @usernames) get 20 messages a minute each."""
        key: int | str
        if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
            key = chat_id
        else:
            try:
                number = int(chat_id)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                return None
            if number >= 0:
                return None
            key = number
        limiter = self._groups.get(key)
        if limiter is None:
            if len(self._groups) >= GROUP_LIMITERS_KEPT:
                idle = [k for k, v in self._groups.items() if v.has_capacity(v.max_rate)]
                for k in idle:
                    del self._groups[k]
            limiter = self._groups[key] = AsyncLimiter(GROUP_RATE, GROUP_PERIOD)
        return limiter


def _maybe(limiter: AsyncLimiter | None) -> contextlib.AbstractAsyncContextManager[Any]:
    return limiter if limiter is not None else contextlib.nullcontext()
