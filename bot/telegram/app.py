"""Build the python-telegram-bot Application: the one place where handlers are wired."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.prompts import COMMANDS, PromptSet
from bot.service import ReflectionService
from bot.storage import Storage
from bot.telegram.handlers import Handlers

log = logging.getLogger(__name__)


def _commands(texts: PromptSet) -> list[BotCommand]:
    return [BotCommand(name, texts.commands[name]) for name in COMMANDS]


def build_application(
    settings: Settings,
    prompts: Mapping[str, PromptSet],
    *,
    seeds: Callable[[], int] | None = None,
) -> Application:  # type: ignore[type-arg]
    """A ready Application; storage opens in post_init and closes in post_shutdown."""
    storage = Storage(settings.database)
    service = (
        ReflectionService(storage, prompts, settings.default_language, seeds)
        if seeds is not None
        else ReflectionService(storage, prompts, settings.default_language)
    )
    handlers = Handlers(service, settings)

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        await storage.open()
        log.info("storage_open schema=%s", await storage.schema_version())
        default = service.texts(settings.default_language)
        try:
            await app.bot.set_my_commands(_commands(default))
            for language, texts in prompts.items():
                await app.bot.set_my_commands(_commands(texts), language_code=language)
        except TelegramError as exc:
            log.warning("set_commands_failed error=%s", type(exc).__name__)

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        await storage.close()
        log.info("storage_closed")

    app = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .rate_limiter(AIORateLimiter())
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handlers(
        [
            # Finnish command names first; English and Swedish aliases work too.
            CommandHandler("start", handlers.start, filters=private),
            CommandHandler(("pohdi", "reflect", "reflektera"), handlers.reflect, filters=private),
            CommandHandler(("yhteys", "contact", "kontakt"), handlers.contact, filters=private),
            CommandHandler(("peru", "cancel", "avbryt"), handlers.cancel, filters=private),
            CommandHandler(("apua", "help", "hjalp"), handlers.help, filters=private),
            MessageHandler(private & filters.COMMAND, handlers.unknown_command),
            MessageHandler(private & filters.TEXT, handlers.text),
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, handlers.edited
            ),
            MessageHandler(private, handlers.non_text),
            CallbackQueryHandler(handlers.callback),
            MessageHandler(
                filters.ChatType.GROUPS & filters.UpdateType.MESSAGE & filters.COMMAND,
                handlers.group,
            ),
        ]
    )
    app.add_error_handler(handlers.error)
    return app
