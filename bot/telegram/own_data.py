"""The worker's own data: list, open, share and unshare, delete, export, erase, privacy."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden, TelegramError

from bot import render
from bot.storage import Entry, Reflection, now_iso
from bot.telegram.common import (
    PAGE_SIZE,
    Context,
    HandlerGroup,
    Who,
    edit_or_send,
    nav_row,
    pages,
    send_html,
)
from bot.telegram.keyboards import simple_markup
from bot.telegram.reminders import job_name

log = logging.getLogger(__name__)


class OwnDataHandlers(HandlerGroup):
    # --- commands ------------------------------------------------------------------------
    async def list_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await self.show_page(context, who, 0, None)

    async def export_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await self.export(context, who)

    async def erase_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is not None:
            await self.ask_erase(context, who)

    async def privacy_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is None:
            return
        counts = await self.deps.storage.counts(who.user_id)
        b = who.texts.buttons
        await context.bot.send_message(
            who.chat_id,
            who.texts.text(
                "privacy",
                reflections=str(counts.reflections),
                answers=str(counts.answers),
                shared=str(counts.shared),
            ),
            reply_markup=simple_markup(((b["export"], "ex"),), ((b["erase"], "eq"),)),
        )

    # --- resource bank -------------------------------------------------------------------
    async def resources_command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is None:
            return
        if await self.deps.storage.resource_consent(who.user_id):
            await self.offer_resource(context, who, None)
            return
        b = who.texts.buttons
        await context.bot.send_message(
            who.chat_id,
            who.texts.text("resource_consent_question"),
            reply_markup=simple_markup(((b["resource_yes"], "ry"), (b["resource_no"], "rn"))),
        )

    async def set_resource_consent(self, context: Context, who: Who, consent: bool) -> None:
        await self.deps.storage.set_resource_consent(who.user_id, consent)
        log.info("resource_consent user=%s consent=%s", who.user_id, consent)
        await context.bot.send_message(
            who.chat_id,
            who.texts.text("resource_consent_on" if consent else "resource_consent_off"),
        )
        if consent:
            await self.offer_resource(context, who, None)

    async def offer_resource(self, context: Context, who: Who, message: Message | None) -> None:
        """One of the worker's own sentences about what helped, quoted exactly."""
        if not await self.deps.storage.resource_consent(who.user_id):
            await context.bot.send_message(who.chat_id, who.texts.text("resource_consent_off"))
            return
        # the sentence on the message pressed ("another one"), recovered from the template
        shown = message.text if message is not None and message.text else ""
        before, _, after = who.texts.texts["resource_offer"].partition("{sentence}")
        previous = (
            shown[len(before) : len(shown) - len(after)]
            if shown.startswith(before) and shown.endswith(after) and shown
            else None
        )
        sentence = await self.deps.service.resource_sentence(
            who.user_id, secrets.randbelow(2**31), avoid=previous
        )
        if sentence is None:
            await context.bot.send_message(who.chat_id, who.texts.text("resource_none"))
            return
        b = who.texts.buttons
        await context.bot.send_message(
            who.chat_id,
            who.texts.text("resource_offer", sentence=sentence),
            reply_markup=simple_markup(((b["resource_another"], "ra"), (b["resource_no"], "rn"))),
        )

    # --- list and one reflection ---------------------------------------------------------
    async def show_page(
        self, context: Context, who: Who, page: int, message: Message | None
    ) -> None:
        summaries, total = await self.deps.storage.summaries(
            who.user_id, page * PAGE_SIZE, PAGE_SIZE
        )
        if total == 0:
            await context.bot.send_message(who.chat_id, who.texts.text("own_empty"))
            return
        if not summaries:
            page = 0
            summaries, total = await self.deps.storage.summaries(who.user_id, 0, PAGE_SIZE)
        count = pages(total)
        lines = [who.texts.text("own_list", page=str(page + 1), pages=str(count)), ""]
        numbers = []
        for index, summary in enumerate(summaries, start=page * PAGE_SIZE + 1):
            lines.append(
                render.summary_line(index, summary.reflection, summary.first_words, who.texts)
            )
            numbers.append(
                InlineKeyboardButton(str(index), callback_data=f"o:{summary.reflection.id}")
            )
        if page == 0:
            trend = render.trend_lines(
                await self.deps.storage.scale_history(who.user_id, shared_only=False), who.texts
            )
            if trend:
                lines += ["", who.texts.text("trend_title"), *trend]
        rows = [numbers]
        nav = nav_row(who.texts.buttons, page, count, "p")
        if nav:
            rows.append(nav)
        await edit_or_send(
            context, message, who.chat_id, "\n".join(lines), InlineKeyboardMarkup(rows)
        )

    async def _own(self, who: Who, reflection_id: int) -> tuple[Reflection, list[Entry]] | None:
        reflection = await self.deps.storage.reflection(who.user_id, reflection_id)
        if reflection is None:
            return None
        entries = await self.deps.storage.entries(who.user_id, reflection_id)
        return (reflection, entries) if entries else None

    async def open(self, context: Context, who: Who, reflection_id: int) -> None:
        own = await self._own(who, reflection_id)
        if own is None:
            await context.bot.send_message(who.chat_id, who.texts.text("not_found"))
            return
        reflection, entries = own
        texts, b = who.texts, who.texts.buttons
        await send_html(
            context, who.chat_id, render.reflection_messages(reflection, entries, texts)
        )
        if reflection.shared_at is None:
            status = texts.text("own_status_private")
            share = (b["share"], f"sh:{reflection.id}")
        elif reflection.opened_at is None:
            status = texts.text(
                "own_status_shared", date=render.local_time(reflection.shared_at, texts)
            )
            share = (b["unshare"], f"us:{reflection.id}")
        else:
            status = texts.text(
                "own_status_opened",
                date=render.local_time(reflection.shared_at, texts),
                opened=render.local_time(reflection.opened_at, texts),
            )
            share = (b["unshare"], f"us:{reflection.id}")
        await context.bot.send_message(
            who.chat_id,
            status,
            reply_markup=simple_markup(
                (share,), ((b["delete_one"], f"dl:{reflection.id}"),), ((b["back"], "p:0"),)
            ),
        )

    # --- sharing -------------------------------------------------------------------------
    async def _shareable(
        self, context: Context, who: Who, reflection_id: int
    ) -> tuple[Reflection, list[Entry]] | None:
        """The worker's own ended reflection, if sharing is possible; otherwise says why."""
        texts = who.texts
        if not await self.deps.supervision.supervisors():
            await context.bot.send_message(who.chat_id, texts.text("share_unavailable"))
            return None
        own = await self._own(who, reflection_id)
        if own is None:
            await context.bot.send_message(who.chat_id, texts.text("not_found"))
            return None
        if own[0].status == "active":
            await context.bot.send_message(who.chat_id, texts.text("share_not_ready"))
            return None
        return own

    async def preview_share(self, context: Context, who: Who, reflection_id: int) -> None:
        """Show exactly what the supervisor would see, then ask."""
        own = await self._shareable(context, who, reflection_id)
        if own is None:
            return
        reflection, entries = own
        texts = who.texts
        await context.bot.send_message(who.chat_id, texts.text("share_preview", name=who.name))
        await send_html(
            context,
            who.chat_id,
            render.reflection_messages(reflection, entries, texts, worker_name=who.name),
        )
        b = texts.buttons
        await context.bot.send_message(
            who.chat_id,
            texts.text("share_question"),
            reply_markup=simple_markup(
                ((b["share_confirm"], f"sc:{reflection.id}"), (b["cancel_action"], "nc"))
            ),
        )

    async def share(self, context: Context, who: Who, reflection_id: int) -> None:
        own = await self._shareable(context, who, reflection_id)
        if own is None:
            return
        storage = self.deps.storage
        await storage.set_display_name(who.user_id, who.name)
        if not await storage.set_shared(who.user_id, reflection_id, shared=True):
            await context.bot.send_message(who.chat_id, who.texts.text("share_not_ready"))
            return
        log.info("reflection_shared reflection=%s", reflection_id)
        await context.bot.send_message(who.chat_id, who.texts.text("shared_done"))
        await self._notify(context, who, own[0])

    async def _notify(self, context: Context, who: Who, reflection: Reflection) -> None:
        """Tell the supervisor(s) who may read it; a failure here never undoes the share."""
        supervision = self.deps.supervision
        for supervisor_id in sorted(await supervision.readers_of(who.user_id)):
            language = await self.deps.service.language(supervisor_id, None)
            texts = self.deps.service.texts(language)
            try:
                await context.bot.send_message(
                    supervisor_id,
                    texts.text(
                        "share_notification", name=who.name, title=render.title(reflection, texts)
                    ),
                    reply_markup=simple_markup(
                        ((texts.buttons["open_shared"], f"so:{reflection.id}"),)
                    ),
                )
            except Forbidden:
                await self.deps.service.mark_blocked(supervisor_id)
                log.warning("share_notify_blocked supervisor=%s", supervisor_id)
            except TelegramError:  # a failed notice never undoes the share itself
                log.warning("share_notify_failed supervisor=%s", supervisor_id)

    async def unshare(self, context: Context, who: Who, reflection_id: int) -> None:
        done = await self.deps.storage.set_shared(who.user_id, reflection_id, shared=False)
        if done:
            log.info("reflection_unshared reflection=%s", reflection_id)
        await context.bot.send_message(
            who.chat_id, who.texts.text("unshared_done" if done else "not_found")
        )

    # --- deleting ------------------------------------------------------------------------
    async def ask_delete(self, context: Context, who: Who, reflection_id: int) -> None:
        if await self.deps.storage.reflection(who.user_id, reflection_id) is None:
            await context.bot.send_message(who.chat_id, who.texts.text("not_found"))
            return
        b = who.texts.buttons
        await context.bot.send_message(
            who.chat_id,
            who.texts.text("delete_question"),
            reply_markup=simple_markup(
                ((b["delete_confirm"], f"dc:{reflection_id}"), (b["cancel_action"], "nc"))
            ),
        )

    async def delete(self, context: Context, who: Who, reflection_id: int) -> None:
        deleted = await self.deps.service.delete(who.user_id, reflection_id)
        if deleted:
            log.info("reflection_deleted reflection=%s", reflection_id)
        await context.bot.send_message(
            who.chat_id, who.texts.text("deleted" if deleted else "not_found")
        )

    async def ask_erase(self, context: Context, who: Who) -> None:
        counts = await self.deps.storage.counts(who.user_id)
        b = who.texts.buttons
        await context.bot.send_message(
            who.chat_id,
            who.texts.text(
                "erase_question", reflections=str(counts.reflections), answers=str(counts.answers)
            ),
            reply_markup=simple_markup(((b["erase_confirm"], "ea"), (b["cancel_action"], "nc"))),
        )

    async def erase(self, context: Context, who: Who) -> None:
        await self.deps.service.erase(who.user_id)
        if context.job_queue is not None:  # their reminder went with their data
            for job in context.job_queue.get_jobs_by_name(job_name(who.user_id)):
                job.schedule_removal()
        log.info("user_erased user=%s", who.user_id)
        await context.bot.send_message(who.chat_id, who.texts.text("erased"))

    # --- export --------------------------------------------------------------------------
    async def export(self, context: Context, who: Who) -> None:
        items = await self.deps.storage.everything(who.user_id)
        if not any(entries for _, entries in items):
            await context.bot.send_message(who.chat_id, who.texts.text("export_empty"))
            return
        made = now_iso()
        stamp = datetime.fromisoformat(made).strftime("%Y%m%d")
        markdown = render.export_markdown(items, who.texts, made)
        data = render.export_json(items, who.user_id, made)
        await context.bot.send_document(
            who.chat_id,
            markdown.encode("utf-8"),
            filename=f"pohdinnat-{stamp}.md",
            caption=who.texts.text("export_caption"),
        )
        await context.bot.send_document(
            who.chat_id, data.encode("utf-8"), filename=f"pohdinnat-{stamp}.json"
        )
        log.info("export_sent user=%s reflections=%s", who.user_id, len(items))
