"""Reflection handlers: start, reflect, contact, help, cancel, free text, non-text, errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import render
from bot.service import Reply
from bot.telegram.common import Context, HandlerGroup, Who, send_html
from bot.telegram.keyboards import markup, simple_markup

log = logging.getLogger(__name__)


class ReflectionHandlers(HandlerGroup):
    # --- helpers -------------------------------------------------------------------------
    @staticmethod
    async def send(context: Context, chat_id: int, reply: Reply) -> None:
        for turn in reply.turns:
            await context.bot.send_message(
                chat_id, turn.text, reply_markup=markup(turn, reply.reflection_id, reply.turn)
            )

    async def send_contact(self, context: Context, who: Who) -> None:
        settings = self.deps.settings
        if settings.supervisor_phone is None:
            await context.bot.send_message(who.chat_id, who.texts.text("contact_missing"))
            return
        name = settings.supervisor_name or who.texts.text("supervisor_default_name")
        first, _, last = name.partition(" ")
        await context.bot.send_contact(
            who.chat_id,
            phone_number=settings.supervisor_phone,
            first_name=first,
            last_name=last or None,
        )
        await context.bot.send_message(who.chat_id, who.texts.text("contact_card", name=name))
        log.info("contact_sent user=%s", who.user_id)

    async def begin_or_offer_resume(
        self, context: Context, who: Who, update_id: int | None
    ) -> None:
        if await self.deps.service.has_active(who.user_id):
            b = who.texts.buttons
            await context.bot.send_message(
                who.chat_id,
                who.texts.text("resume_choice"),
                reply_markup=simple_markup(((b["continue"], "k"), (b["restart"], "N"))),
            )
            return
        await self.send(
            context,
            who.chat_id,
            await self.deps.service.begin(who.user_id, who.language, update_id),
        )

    async def restart(self, context: Context, who: Who, update_id: int | None) -> None:
        await self.send(
            context,
            who.chat_id,
            await self.deps.service.begin(who.user_id, who.language, update_id),
        )

    async def resume(self, context: Context, who: Who) -> None:
        current = await self.deps.service.current(who.user_id, who.language)
        if current is None:
            await context.bot.send_message(who.chat_id, who.texts.text("not_found"))
        else:
            await self.send(context, who.chat_id, current)

    # --- commands ------------------------------------------------------------------------
    async def start(self, update: Update, context: Context) -> None:
        user = update.effective_user
        code = context.args[0] if context.args else None
        invited = None
        if user is not None and code:
            # a valid invite lets a new worker in, so it is redeemed before the invite gate
            service, supervision = self.deps.service, self.deps.supervision
            if await supervision.invite_open(code):
                await service.language(user.id, user.language_code)
                invited = await supervision.redeem_invite(user.id, code)
            log.info("invite_%s user=%s", "redeemed" if invited else "refused", user.id)
            texts = service.texts(service.pick_language(user.language_code))
            await context.bot.send_message(
                user.id, texts.text("invite_welcome" if invited else "invite_invalid")
            )
        who = await self.who(update, context)
        if who is None:
            return
        first = user.first_name if user else ""
        await context.bot.send_message(
            who.chat_id, who.texts.text("intro", name=f" {first}" if first else "")
        )
        current = await self.deps.service.current(who.user_id, who.language)
        if current is not None:
            await context.bot.send_message(who.chat_id, who.texts.text("resume"))
            await self.send(context, who.chat_id, current)
            return
        await self.restart(context, who, update.update_id)

    async def reflect(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await self.begin_or_offer_resume(context, who, update.update_id)

    async def future(self, update: Update, context: Context) -> None:
        """The anticipation exercise; an earlier one is shown first, for comparison."""
        who = await self.who(update, context)
        if who is None:
            return
        earlier = await self.deps.storage.latest_of_kind(who.user_id, "future")
        if earlier is not None:
            reflection, entries = earlier
            await context.bot.send_message(
                who.chat_id,
                who.texts.text(
                    "future_replay", date=render.local_time(reflection.started_at, who.texts)
                ),
            )
            await send_html(
                context, who.chat_id, render.reflection_messages(reflection, entries, who.texts)
            )
        reply = await self.deps.service.begin(
            who.user_id, who.language, update.update_id, "future", review=earlier is not None
        )
        await self.send(context, who.chat_id, reply)

    async def contact(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await self.send_contact(context, who)

    async def help(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await context.bot.send_message(who.chat_id, who.texts.text("help"))

    async def cancel(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is None:
            return
        cancelled = await self.deps.service.cancel(who.user_id)
        if cancelled is None:
            await context.bot.send_message(who.chat_id, who.texts.text("cancel_nothing"))
            return
        log.info("reflection_cancelled reflection=%s", cancelled.id)
        b = who.texts.buttons
        await context.bot.send_message(
            who.chat_id,
            who.texts.text("cancelled"),
            reply_markup=simple_markup(((b["delete"], f"dl:{cancelled.id}"),), ((b["new"], "n"),)),
        )

    async def language_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is None:
            return
        choices = tuple(
            (ps.language_name, f"l:{code}") for code, ps in self.deps.service.prompts.items()
        )
        await context.bot.send_message(
            who.chat_id, who.texts.text("language_choose"), reply_markup=simple_markup(choices)
        )

    async def set_language(self, context: Context, who: Who, language: str) -> None:
        """Switch language; unknown codes (forged data) fall back to the default."""
        chosen = await self.deps.service.set_language(who.user_id, language)
        log.info("language_set user=%s language=%s", who.user_id, chosen)
        await context.bot.send_message(
            who.chat_id, self.deps.service.texts(chosen).text("language_set")
        )

    async def unknown_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await context.bot.send_message(who.chat_id, who.texts.text("unknown_command"))

    # --- messages ------------------------------------------------------------------------
    async def text(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        who = await self.who(update, context)
        if who is None:
            return
        reply = await self.deps.service.text(
            who.user_id, who.language, update.update_id, message.text
        )
        await self.send(context, who.chat_id, reply)

    async def non_text(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            log.info("non_text_message user=%s", who.user_id)
            await context.bot.send_message(who.chat_id, who.texts.text("non_text"))

    async def edited(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await context.bot.send_message(who.chat_id, who.texts.text("edited"))

    async def group(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        service = self.deps.service
        code = update.effective_user.language_code if update.effective_user else None
        await context.bot.send_message(
            chat.id, service.texts(service.pick_language(code)).text("group_only_private")
        )

    # --- dialogue buttons ----------------------------------------------------------------
    async def press(
        self,
        context: Context,
        who: Who,
        update: Update,
        reflection_id: int,
        turn: int,
        action: str,
    ) -> None:
        query = update.callback_query
        assert query is not None
        outcome = await self.deps.service.press(
            who.user_id, who.language, update.update_id, reflection_id, turn, action
        )
        if outcome.reply.duplicate:  # delivered again: show the current step once more
            await answer_quietly(query)  # the first delivery may have answered it already
            await self.send(context, who.chat_id, outcome.reply)
            return
        if not outcome.accepted:
            await query.answer(who.texts.text("stale_button"))
            return
        message = query.message if isinstance(query.message, Message) else None
        # the next question, the spinner stopped and the choice marked: all at once, the
        # question first on the wire (it is what the worker waits for)
        await asyncio.gather(
            self.send(context, who.chat_id, outcome.reply),
            answer_quietly(query),
            close_buttons(message, outcome.chosen),
        )

    # --- errors --------------------------------------------------------------------------
    async def error(self, update: object, context: Context) -> None:
        """Log ids and the error type with its stack, never message text; tell the worker."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        frames = "".join(traceback.format_tb(error.__traceback__)) if error else ""
        log.error("handler_error update=%s error=%s\n%s", update_id, type(error).__name__, frames)
        if not isinstance(update, Update):
            return
        if isinstance(error, Forbidden):
            if update.effective_user is not None:
                await self.deps.service.mark_blocked(update.effective_user.id)
                log.info("user_blocked_bot user=%s", update.effective_user.id)
            return
        user = update.effective_user
        chat = update.effective_chat
        if user is None or (chat is not None and chat.type != "private"):
            return
        service = self.deps.service
        texts = service.texts(service.pick_language(user.language_code))
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # it may have been answered already
                await update.callback_query.answer()
        try:
            await context.bot.send_message(user.id, texts.text("error"))
        except Exception:  # the error report itself must never raise
            log.warning("error_reply_failed update=%s", update_id)


async def answer_quietly(query: CallbackQuery) -> None:
    """Stop the button's spinner; a query too old to answer stops spinning by itself."""
    with contextlib.suppress(BadRequest):
        await query.answer()


async def close_buttons(message: Message | None, chosen: str | None) -> None:
    """Take the buttons off a message once used, showing what was picked."""
    if message is None:
        return
    try:
        if chosen and message.text:
            await message.edit_text(f"{message.text}\n\n→ {chosen}", reply_markup=None)
        else:
            await message.edit_reply_markup(reply_markup=None)
    except BadRequest:
        log.info("edit_skipped message=%s", message.message_id)
