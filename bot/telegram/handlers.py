"""Telegram handlers: translate updates into service calls and replies. No SQL here."""

from __future__ import annotations

import logging
import traceback

from telegram import Message, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.prompts import PromptSet
from bot.service import ReflectionService, Reply
from bot.telegram.keyboards import (
    DeletePress,
    DialoguePress,
    SimplePress,
    markup,
    parse_callback,
    simple_markup,
)

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


class Handlers:
    """One instance per Application; holds the service and the settings it needs."""

    def __init__(self, service: ReflectionService, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    # --- helpers -------------------------------------------------------------------------
    async def _who(self, update: Update) -> tuple[int, int, str, PromptSet] | None:
        """User id, the chat to answer in, language and texts.

        Replies always go to the user's own private chat (its id is the user id), never to a
        chat named in a callback's message, so a forged press cannot route text elsewhere.
        """
        user = update.effective_user
        if user is None or user.is_bot:
            return None
        language = await self.service.language(user.id, user.language_code)
        return user.id, user.id, language, self.service.texts(language)

    @staticmethod
    async def _send(context: Context, chat_id: int, reply: Reply) -> None:
        for turn in reply.turns:
            await context.bot.send_message(
                chat_id, turn.text, reply_markup=markup(turn, reply.reflection_id, reply.turn)
            )

    async def _send_contact(self, context: Context, chat_id: int, texts: PromptSet) -> None:
        phone = self.settings.supervisor_phone
        if phone is None:
            await context.bot.send_message(chat_id, texts.text("contact_missing"))
            return
        first, _, last = self.settings.supervisor_name.partition(" ")
        await context.bot.send_contact(
            chat_id, phone_number=phone, first_name=first, last_name=last or None
        )
        await context.bot.send_message(
            chat_id, texts.text("contact_card", name=self.settings.supervisor_name)
        )
        log.info("contact_sent user=%s", chat_id)

    async def _begin_or_offer_resume(
        self,
        context: Context,
        user_id: int,
        chat_id: int,
        language: str,
        texts: PromptSet,
        update_id: int,
    ) -> None:
        if await self.service.has_active(user_id):
            b = texts.buttons
            await context.bot.send_message(
                chat_id,
                texts.text("resume_choice"),
                reply_markup=simple_markup(((b["continue"], "k"), (b["restart"], "N"))),
            )
            return
        await self._send(context, chat_id, await self.service.begin(user_id, language, update_id))

    # --- commands ------------------------------------------------------------------------
    async def start(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is None:
            return
        user_id, chat_id, language, texts = who
        first = update.effective_user.first_name if update.effective_user else ""
        await context.bot.send_message(
            chat_id, texts.text("intro", name=f" {first}" if first else "")
        )
        current = await self.service.current(user_id, language)
        if current is not None:
            await context.bot.send_message(chat_id, texts.text("resume"))
            await self._send(context, chat_id, current)
            return
        await self._send(
            context, chat_id, await self.service.begin(user_id, language, update.update_id)
        )

    async def reflect(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is None:
            return
        user_id, chat_id, language, texts = who
        await self._begin_or_offer_resume(
            context, user_id, chat_id, language, texts, update.update_id
        )

    async def contact(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is not None:
            await self._send_contact(context, who[1], who[3])

    async def help(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is not None:
            await context.bot.send_message(who[1], who[3].text("help"))

    async def cancel(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is None:
            return
        user_id, chat_id, _, texts = who
        cancelled = await self.service.cancel(user_id)
        if cancelled is None:
            await context.bot.send_message(chat_id, texts.text("cancel_nothing"))
            return
        log.info("reflection_cancelled reflection=%s", cancelled.id)
        b = texts.buttons
        await context.bot.send_message(
            chat_id,
            texts.text("cancelled"),
            reply_markup=simple_markup(((b["delete"], f"x:{cancelled.id}"),), ((b["new"], "n"),)),
        )

    async def unknown_command(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is not None:
            await context.bot.send_message(who[1], who[3].text("unknown_command"))

    # --- messages ------------------------------------------------------------------------
    async def text(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        message = update.effective_message
        if who is None or message is None or message.text is None:
            return
        user_id, chat_id, language, _ = who
        reply = await self.service.text(user_id, language, update.update_id, message.text)
        await self._send(context, chat_id, reply)

    async def non_text(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is not None:
            log.info("non_text_message user=%s", who[0])
            await context.bot.send_message(who[1], who[3].text("non_text"))

    async def edited(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is not None:
            await context.bot.send_message(who[1], who[3].text("edited"))

    async def group(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        language = self.service.pick_language(
            update.effective_user.language_code if update.effective_user else None
        )
        await context.bot.send_message(
            chat.id, self.service.texts(language).text("group_only_private")
        )

    # --- buttons -------------------------------------------------------------------------
    async def callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        who = await self._who(update)
        if query is None or who is None:
            return
        user_id, chat_id, language, texts = who
        press = parse_callback(query.data)
        message = query.message if isinstance(query.message, Message) else None
        if isinstance(press, DialoguePress):
            outcome = await self.service.press(
                user_id, language, update.update_id, press.reflection_id, press.turn, press.action
            )
            if not outcome.accepted:
                await query.answer(texts.text("stale_button"))
                return
            await query.answer()
            await self._close_buttons(message, outcome.chosen)
            await self._send(context, chat_id, outcome.reply)
            return
        if isinstance(press, DeletePress):
            deleted = await self.service.delete(user_id, press.reflection_id)
            await query.answer()
            if deleted:
                log.info("reflection_deleted reflection=%s", press.reflection_id)
                await self._close_buttons(message, None)
            await context.bot.send_message(
                chat_id, texts.text("deleted" if deleted else "not_found")
            )
            return
        if isinstance(press, SimplePress):
            await query.answer()
            await self._simple(context, update, press.kind, who)
            return
        log.info("callback_unrecognised user=%s", user_id)
        await query.answer(texts.text("stale_button"))

    async def _simple(
        self, context: Context, update: Update, kind: str, who: tuple[int, int, str, PromptSet]
    ) -> None:
        user_id, chat_id, language, texts = who
        if kind == "c":
            await self._send_contact(context, chat_id, texts)
        elif kind == "n":
            await self._begin_or_offer_resume(
                context, user_id, chat_id, language, texts, update.update_id
            )
        elif kind == "N":
            await self._send(
                context, chat_id, await self.service.begin(user_id, language, update.update_id)
            )
        else:
            current = await self.service.current(user_id, language)
            if current is None:
                await context.bot.send_message(chat_id, texts.text("not_found"))
            else:
                await self._send(context, chat_id, current)

    @staticmethod
    async def _close_buttons(message: Message | None, chosen: str | None) -> None:
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

    # --- errors --------------------------------------------------------------------------
    async def error(self, update: object, context: Context) -> None:
        """Log ids and the error type with its stack, never message text; tell the worker."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        frames = "".join(traceback.format_tb(error.__traceback__)) if error else ""
        log.error("handler_error update=%s error=%s\n%s", update_id, type(error).__name__, frames)
        if not isinstance(update, Update) or isinstance(error, Forbidden):
            return
        chat = update.effective_chat
        if chat is None or chat.type != "private":
            return
        language = self.service.pick_language(
            update.effective_user.language_code if update.effective_user else None
        )
        try:
            await context.bot.send_message(chat.id, self.service.texts(language).text("error"))
        except Exception:  # the error report itself must never raise
            log.warning("error_reply_failed update=%s", update_id)
