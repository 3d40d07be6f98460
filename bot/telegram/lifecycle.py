"""Starting and stopping an Application by hand, shared by the poller and the webhook server."""

from __future__ import annotations

import asyncio
import gc
import signal
from typing import Any, Protocol

from telegram import Update
from telegram.ext import Application

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class Server(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def open_app(app: AnyApplication) -> None:
    """Initialize, run post_init and start the job queue (what run_polling would do first)."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()


async def close_app(app: AnyApplication) -> None:
    """Stop the job queue, shut down (storage closes in post_shutdown)."""
    if app.running:
        await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def serve_until_signal(server: Server, stop: asyncio.Event) -> None:
    """`python -m bot`: serve until SIGINT or SIGTERM (or `stop` is set), then stop cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    settle_heap()
    try:
        await stop.wait()
    finally:
        await server.stop()


def settle_heap() -> None:
    """Move what start-up built (modules, prompts, the Application) out of the collector's way.

    Those objects live as long as the process; left tracked, every full collection walks them
    all again, a pause of about 20 ms here that lands on whoever's update is in flight.
    """
    gc.collect()
    gc.freeze()


def sender(update: Update) -> tuple[str, int]:
    """Whose update this is: updates with the same sender are handled in arrival order."""
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return ("update", update.update_id)
