"""A minimal python-telegram-bot echo bot: the baseline the real bot is compared with.

Run as ``python -m bench.echo_bot`` with TELEGRAM_BOT_TOKEN, BOT_API_BASE_URL and
BOT_API_FILE_URL set. It polls exactly like the real bot (``run_polling`` defaults) and answers
every text with the same text, through PTB's default transport (httpx).
``BENCH_ECHO_TRANSPORT=aiohttp`` gives it the real bot's transport (``bot/telegram/transport.py``)
instead: a diagnosis of how much of the ours/echo ratio the transport accounts for.
"""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import (
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
    if os.environ.get("BENCH_ECHO_TRANSPORT") == "aiohttp":
        from bot.telegram.transport import AiohttpRequest

        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(pool_size=1)
        )
    return builder.build()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app = build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
