"""Long polling that acknowledges an update only after it has been handled.

python-telegram-bot's Updater fetches a batch, queues it in memory and acknowledges it with the
very next getUpdates call, before the handlers have run; a crash then loses what was queued.
Here the offset moves past an update only once `process_update` has returned, so after a crash
Telegram delivers it again, and the update-id check in storage keeps it from being stored twice.

Within a batch, each person's updates are handled in the order they came, one after another,
while different people's are handled side by side (up to `parallel` at once): one worker's
fsync'd commit or slow send does not hold up everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.telegram.lifecycle import close_app, open_app, sender, serve_until_signal

log = logging.getLogger(__name__)
LONG_POLL = 30  # seconds Telegram may hold a getUpdates call open
BACKOFF_MAX = 30.0
PARALLEL = 100  # people whose updates are handled at the same time (a batch holds <= 100)


def lanes(updates: tuple[Update, ...]) -> list[list[Update]]:
    """Updates grouped by the person (else chat) they come from, each group in arrival order."""
    grouped: dict[tuple[str, int], list[Update]] = {}
    for update in updates:
        grouped.setdefault(sender(update), []).append(update)
    return list(grouped.values())


class DurablePoller:
    """Runs an Application with at-least-once update handling; stop() ends it cleanly."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        *,
        long_poll: int = LONG_POLL,
        backoff: float = 1.0,
        parallel: int = PARALLEL,
    ) -> None:
        self.app = app
        self.long_poll = long_poll
        self.backoff = backoff
        self._slots = asyncio.Semaphore(parallel)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Initialize, run post_init, start the job queue, and begin polling in the background."""
        await open_app(self.app)
        await self.app.bot.delete_webhook(drop_pending_updates=False)
        self._task = asyncio.create_task(self._poll(), name="durable-poller")

    async def stop(self) -> None:
        """Finish the update in hand, acknowledge what was handled, then shut down."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await close_app(self.app)

    async def run_until_signal(self) -> None:
        """`python -m bot`: poll until SIGINT or SIGTERM."""
        await serve_until_signal(self, self._stop)

    async def _fetch(self, offset: int | None) -> tuple[Update, ...] | None:
        """One long poll, given up as soon as stop() is called (nothing is lost: the offset
        only acknowledges updates handled before)."""
        bot = self.app.bot
        timeout = float(bot.request.read_timeout or 10)
        fetch = asyncio.ensure_future(
            bot.get_updates(
                offset=offset,
                timeout=self.long_poll,
                allowed_updates=Update.ALL_TYPES,
                read_timeout=self.long_poll + timeout,
            )
        )
        stopping = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch not in done:
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            return None
        stopping.cancel()
        updates: tuple[Update, ...] = fetch.result()
        return updates

    async def _poll(self) -> None:
        offset: int | None = None
        delay = self.backoff
        while not self._stop.is_set():
            try:
                updates = await self._fetch(offset)
            except (InvalidToken, Conflict):
                log.error("polling_stopped reason=token_or_conflict")
                self._stop.set()
                raise
            except NetworkError as exc:  # 5xx, timeouts, no connection: try again later
                log.warning("polling_retry error=%s delay=%.1f", type(exc).__name__, delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            if updates is None:
                break
            delay = self.backoff
            if updates:
                async with asyncio.TaskGroup() as group:
                    for lane in lanes(updates):
                        group.create_task(self._handle(lane))
                offset = updates[-1].update_id + 1
        if offset is not None:
            # tell Telegram what was handled, so it is not delivered again after a clean stop
            with contextlib.suppress(TelegramError):
                await self.app.bot.get_updates(offset=offset, timeout=0, limit=1)

    async def _handle(self, lane: list[Update]) -> None:
        async with self._slots:
            for update in lane:
                try:
                    await self.app.process_update(update)  # handler errors: error handler
                except Exception as exc:  # never let one update stop the others or polling
                    name = type(exc).__name__
                    log.error("update_failed update=%s error=%s", update.update_id, name)
