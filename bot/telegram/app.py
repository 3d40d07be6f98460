"""Build the python-telegram-bot Application: the one place where handlers are wired."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from telegram import BotCommand, BotCommandScopeChat, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Settings
from bot.crypto import MasterKey
from bot.prompts import SUPERVISOR_COMMANDS, WORKER_COMMANDS, PromptSet
from bot.safety import Safety
from bot.service import ReflectionService
from bot.storage import Storage
from bot.supervision import Supervision
from bot.telegram.common import Context, Deps, HandlerGroup, Who
from bot.telegram.delivery import PatientRateLimiter
from bot.telegram.handlers import ReflectionHandlers
from bot.telegram.keyboards import (
    DialoguePress,
    ItemPress,
    LanguagePress,
    SimplePress,
    parse_callback,
)
from bot.telegram.own_data import OwnDataHandlers
from bot.telegram.reminders import Clock, ReminderHandlers
from bot.telegram.supervisor import SupervisorHandlers
from bot.telegram.transport import AiohttpRequest

log = logging.getLogger(__name__)
CLAIM_FILE = "supervisor-claim-code.txt"


def _commands(texts: PromptSet, names: Sequence[str]) -> list[BotCommand]:
    return [BotCommand(name, texts.commands[name]) for name in names]


class Router(HandlerGroup):
    """Every button press comes here; each is checked again on the server before it acts."""

    def __init__(
        self,
        deps: Deps,
        reflection: ReflectionHandlers,
        own: OwnDataHandlers,
        supervisor: SupervisorHandlers,
        reminders: ReminderHandlers,
    ) -> None:
        super().__init__(deps)
        self.reflection, self.own, self.supervisor = reflection, own, supervisor
        self.reminders = reminders

    async def callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        who = await self.who(update, context)
        if who is None:
            await query.answer()
            return
        press = parse_callback(query.data)
        if press is None:
            log.info("callback_unrecognised user=%s", who.user_id)
            await query.answer(who.texts.text("stale_button"))
            return
        if isinstance(press, DialoguePress):
            await self.reflection.press(
                context, who, update, press.reflection_id, press.turn, press.action
            )
            return
        supervisor_only = isinstance(press, ItemPress) and press.kind in ("sp", "so")
        if supervisor_only and not await self.deps.supervision.is_supervisor(who.user_id):
            log.info("supervisor_button_refused user=%s", who.user_id)
            await query.answer(who.texts.text("not_supervisor"))
            return
        await query.answer()
        message = query.message if isinstance(query.message, Message) else None
        if isinstance(press, LanguagePress):
            await self.reflection.set_language(context, who, press.language)
        elif isinstance(press, SimplePress):
            await self._simple(context, who, update, press.kind, message)
        else:
            await self._item(context, who, press, message)

    async def _simple(
        self, context: Context, who: Who, update: Update, kind: str, message: Message | None
    ) -> None:
        if kind == "c":
            await self.reflection.send_contact(context, who)
        elif kind == "n":
            await self.reflection.begin_or_offer_resume(context, who, update.update_id)
        elif kind == "N":
            await self.reflection.restart(context, who, update.update_id)
        elif kind == "k":
            await self.reflection.resume(context, who)
        elif kind == "ex":
            await self.own.export(context, who)
        elif kind == "eq":
            await self.own.ask_erase(context, who)
        elif kind == "ea":
            await self.own.erase(context, who)
        elif kind in ("ry", "rn"):
            await self.own.set_resource_consent(context, who, consent=kind == "ry")
        elif kind == "ra":
            await self.own.offer_resource(context, who, message)
        elif kind in ("rp", "rs", "rx"):
            await self.reminders.change(context, who, kind, None, message)
        else:
            await context.bot.send_message(who.chat_id, who.texts.text("nothing_changed"))

    async def _item(
        self, context: Context, who: Who, press: ItemPress, message: Message | None
    ) -> None:
        kind, number = press.kind, press.number
        if kind == "p":
            await self.own.show_page(context, who, number, message)
        elif kind == "o":
            await self.own.open(context, who, number)
        elif kind == "sh":
            await self.own.preview_share(context, who, number)
        elif kind == "sc":
            await self.own.share(context, who, number)
        elif kind == "us":
            await self.own.unshare(context, who, number)
        elif kind == "dl":
            await self.own.ask_delete(context, who, number)
        elif kind == "dc":
            await self.own.delete(context, who, number)
        elif kind == "sp":
            await self.supervisor.show_page(context, who, number, message)
        elif kind in ("rw", "rh"):
            await self.reminders.change(context, who, kind, number, message)
        else:
            await self.supervisor.open(context, who, number)


async def _announce_claim_code(supervision: Supervision, settings: Settings) -> None:
    """With no supervisor yet, make a one-time claim code: to a 0600 file, and the terminal."""
    code = await supervision.new_claim_code()
    if code is None:
        return
    path = settings.database.parent / CLAIM_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"/ohjaaja {code}\n")
    log.warning("no_supervisor_yet claim_code_file=%s", path)
    if sys.stderr.isatty():
        print(
            f"No supervisor yet. From the supervisor's Telegram, send the bot: /ohjaaja {code}",
            file=sys.stderr,
        )


def build_application(
    settings: Settings,
    prompts: Mapping[str, PromptSet],
    master: MasterKey,
    safety: Safety,
    *,
    seeds: Callable[[], int] | None = None,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
) -> Application:  # type: ignore[type-arg]
    """A ready Application; storage opens in post_init and closes in post_shutdown."""
    storage = Storage(settings.database, master)
    service = (
        ReflectionService(storage, prompts, settings.default_language, seeds, safety)
        if seeds is not None
        else ReflectionService(storage, prompts, settings.default_language, safety=safety)
    )
    supervision = Supervision(storage, settings.supervisor_ids)
    deps = Deps(settings, service, storage, supervision)
    reflection = ReflectionHandlers(deps)
    own = OwnDataHandlers(deps)
    supervisor = SupervisorHandlers(deps)
    reminders = ReminderHandlers(deps, clock)
    router = Router(deps, reflection, own, supervisor, reminders)

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        await storage.open()
        log.info("storage_open schema=%s", await storage.schema_version())
        await _announce_claim_code(supervision, settings)
        await reminders.restore(app)
        default = service.texts(settings.default_language)
        try:
            await app.bot.set_my_commands(_commands(default, WORKER_COMMANDS))
            for language, texts in prompts.items():
                await app.bot.set_my_commands(
                    _commands(texts, WORKER_COMMANDS), language_code=language
                )
            for supervisor_id in sorted(await supervision.supervisors()):
                await app.bot.set_my_commands(
                    _commands(default, WORKER_COMMANDS + SUPERVISOR_COMMANDS),
                    scope=BotCommandScopeChat(supervisor_id),
                )
        except TelegramError as exc:
            log.warning("set_commands_failed error=%s", type(exc).__name__)

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        await storage.close()
        log.info("storage_closed")

    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .rate_limiter(PatientRateLimiter())
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if request is not None:  # an offline request for tests; it brings its own timeouts
        builder = builder.request(request).get_updates_request(request)
    else:
        builder = builder.request(AiohttpRequest(timeout=settings.api_timeout))
        builder = builder.get_updates_request(
            AiohttpRequest(timeout=settings.api_timeout, pool_size=1)
        )
    app = builder.build()
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE

    def command(names: str | tuple[str, ...], callback: Callable[..., object]) -> CommandHandler:  # type: ignore[type-arg]
        return CommandHandler(names, callback, filters=private)  # type: ignore[arg-type]

    app.add_handlers(
        [
            # Finnish command names first; English and Swedish aliases work too.
            command("start", reflection.start),
            command(("pohdi", "reflect", "reflektera"), reflection.reflect),
            command(("yhteys", "contact", "kontakt"), reflection.contact),
            command(("peru", "cancel", "avbryt"), reflection.cancel),
            command(("apua", "help", "hjalp"), reflection.help),
            command(("omat", "mine", "mina"), own.list_command),
            command(("vie", "export", "exportera"), own.export_command),
            command(("poista", "erase", "radera"), own.erase_command),
            command(("tietosuoja", "privacy", "dataskydd"), own.privacy_command),
            command(("kieli", "language", "sprak"), reflection.language_command),
            command(("voimavarat", "resources", "resurser"), own.resources_command),
            command(("muistutus", "reminder", "paminnelse"), reminders.command),
            command(("ennakointi", "future", "framtid"), reflection.future),
            command(("jaetut", "shared", "delade"), supervisor.list_command),
            command(("kooste", "digest", "sammandrag"), supervisor.digest_command),
            command(("kutsu", "invite", "bjudin"), supervisor.invite_command),
            command("ohjaaja", supervisor.claim_command),
            MessageHandler(private & filters.COMMAND, reflection.unknown_command),
            MessageHandler(private & filters.TEXT, reflection.text),
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, reflection.edited
            ),
            MessageHandler(private, reflection.non_text),
            CallbackQueryHandler(router.callback),
            MessageHandler(
                filters.ChatType.GROUPS & filters.UpdateType.MESSAGE & filters.COMMAND,
                reflection.group,
            ),
        ]
    )
    app.add_error_handler(reflection.error)
    return app
