"""Webhook mode that answers Telegram only after the update has been handled.

python-telegram-bot's own webhook server answers 200 as soon as an update is queued, so a crash
before the handler ran loses it. Here the answer waits for `process_update`: 200 means handled
(the answer committed, the reply sent or reported); anything else, or no answer at all, makes
Telegram deliver the update again, and the update-id check in storage keeps it from counting
twice. Requests without the secret token are refused with 403 before anything is read.
TLS is left to a reverse proxy in front (deploy/); this server listens on a local address.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import weakref
from typing import Any

from aiohttp import web
from telegram import Update

from bot.telegram.lifecycle import AnyApplication, close_app, open_app, sender, serve_until_signal

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; Telegram's own cap is far below this
MAX_CONNECTIONS = 40  # Telegram's default number of parallel webhook requests
SHUTDOWN_GRACE = 20.0  # seconds in-flight updates get to finish on stop


class DurableWebhook:
    """An aiohttp server for Telegram's webhook requests; stop() finishes those in flight."""

    def __init__(
        self,
        app: AnyApplication,
        *,
        url: str,
        secret: str,
        listen: str,
        port: int,
        path: str,
    ) -> None:
        self.app = app
        self.url = url
        self.secret = secret.encode()
        self.listen = listen
        self.port = port
        self.path = "/" + path.strip("/")
        self._stop = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._lanes: weakref.WeakValueDictionary[tuple[str, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def start(self) -> None:
        """Start the application, then the server, then tell Telegram where to post."""
        await open_app(self.app)
        server = web.Application(client_max_size=MAX_BODY)
        server.router.add_post(self.path, self._receive)
        runner = web.AppRunner(
            server, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
        )
        await runner.setup()
        await web.TCPSite(runner, self.listen, self.port).start()
        self._runner = runner
        await self.app.bot.set_webhook(
            self.url,
            secret_token=self.secret.decode(),
            allowed_updates=Update.ALL_TYPES,
            max_connections=MAX_CONNECTIONS,
        )

    async def stop(self) -> None:
        """Stop taking requests, let those in hand finish, then shut the application down."""
        self._stop.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await close_app(self.app)

    async def run_until_signal(self) -> None:
        await serve_until_signal(self, self._stop)

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            log.warning("webhook_refused reason=secret")
            return web.Response(status=403)
        try:
            data: Any = await request.json()
            if not isinstance(data, dict):
                raise TypeError("not an object")
            update = Update.de_json(data, self.app.bot)
        except Exception as exc:  # not JSON, or not an update
            log.warning("webhook_refused reason=malformed error=%s", type(exc).__name__)
            return web.Response(status=400)
        lane = self._lanes.setdefault(sender(update), asyncio.Lock())
        try:
            async with lane:  # one sender's updates one at a time, in the order they came
                await self.app.process_update(update)  # handler errors go to error handlers
        except Exception as exc:
            log.error(
                "webhook_update_failed update=%s error=%s", update.update_id, type(exc).__name__
            )
            return web.Response(status=500)  # Telegram will deliver it again
        return web.Response(status=200)
