"""A minimal python-telegram-bot echo bot: the baseline the real bot is compared with.

Run as ``python -m bench.echo_bot`` with TELEGRAM_BOT_TOKEN, BOT_API_BASE_URL and
BOT_API_FILE_URL set. It polls exactly like the real bot (``run_polling`` defaults) and answers
every text with the same text. ``BENCH_ECHO_RATE_LIMITER=1`` adds PTB's default
``AIORateLimiter`` (30 requests/s overall, like the real bot's), and
``BENCH_BOT_VARIANT=sniffio-miss-once`` the import fix of bench.variant: diagnostics only.
"""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ContextTypes,
    MessageHandler,
    filters,
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


def build() -> Application:  # type: ignore[type-arg]
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["BOT_API_BASE_URL"])
        .base_file_url(os.environ["BOT_API_FILE_URL"])
    )
    if os.environ.get("BENCH_ECHO_RATE_LIMITER") == "1":
        return builder.rate_limiter(AIORateLimiter()).build()
    return builder.build()


def main() -> None:
    from bench import variant

    if "sniffio-miss-once" in variant.chosen():
        variant.sniffio_miss_once()
    logging.basicConfig(level=logging.WARNING)
    app = build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
