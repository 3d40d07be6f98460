"""Delivery to the Bot API: flood limits, waiting out 429, retrying sends that failed in transit.

Every API call except getUpdates passes through the Application's rate limiter, so this is the
one place where a 5xx, a timeout or a 429 from Telegram is handled for all handlers alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)
JSONDict = dict[str, Any]


class PatientRateLimiter(AIORateLimiter):
    """AIORateLimiter that also retries network errors and timeouts with a short backoff.

    429 (RetryAfter) is waited out by AIORateLimiter itself, `retry_after` seconds each time.
    Errors that retrying cannot mend (BadRequest, Forbidden, InvalidToken) pass straight on.
    A send that timed out may in fact have arrived: the worker may then see a question twice,
    which is better than not at all; the answer itself is already committed by then.
    """

    def __init__(
        self, *, attempts: int = 3, backoff: float = 0.5, retry_after_max: int = 3
    ) -> None:
        super().__init__(max_retries=retry_after_max)
        self.attempts = attempts
        self.backoff = backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        for attempt in range(1, self.attempts + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                if attempt == self.attempts:
                    log.warning(
                        "api_gave_up method=%s attempts=%s error=%s",
                        endpoint,
                        attempt,
                        type(exc).__name__,
                    )
                    raise
                log.info(
                    "api_retry method=%s attempt=%s error=%s",
                    endpoint,
                    attempt,
                    type(exc).__name__,
                )
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover
