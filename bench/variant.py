"""The real bot with one setting changed, for diagnosis only: ``python -m bench.variant``.

BENCH_BOT_VARIANT names the changes (comma-separated); the bot's own code stays as it is:

- ``no-flood-limit``: the rate limiter keeps its retries but drops the 30 requests/s overall
  flood limit, to measure what the bot's own code costs per update;
- ``sync-normal``: SQLite ``synchronous = NORMAL`` instead of FULL, to measure what the
  durability setting costs. The bot itself keeps FULL; this is a measurement, not a proposal;
- ``sniffio-miss-once``: httpcore runs ``import sniffio`` for every lock and request; without
  sniffio installed (nothing in the dependency tree requires it any more) every one of those
  imports misses and searches sys.path again. This records the miss once, which costs what an
  installed sniffio would. The echo bot honours this one too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

VARIANTS = ("no-flood-limit", "sync-normal", "sniffio-miss-once")


def chosen() -> list[str]:
    return [v for v in os.environ.get("BENCH_BOT_VARIANT", "").split(",") if v]


def sniffio_miss_once() -> None:
    if importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _no_flood_limit() -> None:
    import bot.telegram.app as app_module
    from bot.telegram.delivery import PatientRateLimiter

    class NoFloodLimit(PatientRateLimiter):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._base_limiter = None  # AIORateLimiter's overall 30/s bucket

    app_module.PatientRateLimiter = NoFloodLimit  # type: ignore[attr-defined]


def _sync_normal() -> None:
    from bot.storage import Storage

    original = Storage.open

    async def open_normal(self: Storage, **kwargs: Any) -> None:
        await original(self, **kwargs)
        assert self._db is not None
        await self._db.execute("PRAGMA synchronous = NORMAL")

    Storage.open = open_normal  # type: ignore[method-assign]


def main() -> int:
    variants = chosen()
    if not variants or any(v not in VARIANTS for v in variants):
        raise SystemExit(f"BENCH_BOT_VARIANT: one or more of {', '.join(VARIANTS)}")
    if "sniffio-miss-once" in variants:
        sniffio_miss_once()
    if "no-flood-limit" in variants:
        _no_flood_limit()
    if "sync-normal" in variants:
        _sync_normal()
    from bot.__main__ import main as bot_main

    return bot_main([])


if __name__ == "__main__":
    raise SystemExit(main())
