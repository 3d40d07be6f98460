"""The real bot with one setting changed, for diagnosis only: ``python -m bench.variant``.

BENCH_BOT_VARIANT names the changes (comma-separated); the bot's own code stays as it is:

- ``sync-normal``: SQLite ``synchronous = NORMAL`` instead of FULL, to measure what the
  durability setting costs. The bot itself keeps FULL; this is a measurement, not a proposal;
- ``serial``: the poller handles one update at a time (``parallel=1``), to measure what
  handling different people side by side brings;
- ``httpx``: python-telegram-bot's default transport (httpx) instead of
  ``bot/telegram/transport.py``, to measure what the transport costs per update.
"""

from __future__ import annotations

import os
from typing import Any

VARIANTS = ("sync-normal", "serial", "httpx")


def chosen() -> list[str]:
    return [v for v in os.environ.get("BENCH_BOT_VARIANT", "").split(",") if v]


def _sync_normal() -> None:
    from bot.storage import Storage

    original = Storage.open

    async def open_normal(self: Storage, **kwargs: Any) -> None:
        await original(self, **kwargs)
        assert self._db is not None
        await self._db.execute("PRAGMA synchronous = NORMAL")

    Storage.open = open_normal  # type: ignore[method-assign]


def _serial() -> None:
    from bot.telegram.polling import DurablePoller

    original = DurablePoller.__init__

    def serial_init(self: DurablePoller, app: Any, **kwargs: Any) -> None:
        original(self, app, **{**kwargs, "parallel": 1})

    DurablePoller.__init__ = serial_init  # type: ignore[method-assign]


def _httpx() -> None:
    from telegram.request import HTTPXRequest

    import bot.telegram.app as app_module

    def httpx_request(*, timeout: float, pool_size: int = 100) -> HTTPXRequest:
        return HTTPXRequest(
            connection_pool_size=pool_size,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )

    app_module.AiohttpRequest = httpx_request  # type: ignore[attr-defined,assignment]


def main() -> int:
    variants = chosen()
    if not variants or any(v not in VARIANTS for v in variants):
        raise SystemExit(f"BENCH_BOT_VARIANT: one or more of {', '.join(VARIANTS)}")
    if "sync-normal" in variants:
        _sync_normal()
    if "serial" in variants:
        _serial()
    if "httpx" in variants:
        _httpx()
    from bot.__main__ import main as bot_main

    return bot_main([])


if __name__ == "__main__":
    raise SystemExit(main())
