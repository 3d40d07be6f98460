"""The supervisor's side: shared reflections, digests, invites, claiming the role.

Anyone who is not a supervisor gets the same polite refusal whatever exists, so these commands
reveal nothing, not even whether anything has been shared.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot import render
from bot.supervision import INVITE_DAYS
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

log = logging.getLogger(__name__)
_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def parse_day(text: str) -> str | None:
    """'1.11.2026' as the UTC ISO time of that day's start in Helsinki; None if not a date."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    try:
        day = datetime(int(match[3]), int(match[2]), int(match[1]), tzinfo=render.HELSINKI)
    except ValueError:
        return None
    return day.astimezone(UTC).isoformat(timespec="seconds")


class SupervisorHandlers(HandlerGroup):
    async def _supervisor(self, update: Update, context: Context) -> Who | None:
        who = await self.who(update, context)
        if who is None:
            return None
        if not await self.deps.supervision.is_supervisor(who.user_id):
            log.info("supervisor_command_refused user=%s", who.user_id)
            await context.bot.send_message(who.chat_id, who.texts.text("not_supervisor"))
            return None
        return who

    async def list_command(self, update: Update, context: Context) -> None:
        who = await self._supervisor(update, context)
        if who is not None:
            await self.show_page(context, who, 0, None)

    async def show_page(
        self, context: Context, who: Who, page: int, message: Message | None
    ) -> None:
        storage = self.deps.storage
        items, total = await storage.shared_page(who.user_id, page * PAGE_SIZE, PAGE_SIZE)
        if total == 0:
            await context.bot.send_message(who.chat_id, who.texts.text("supervisor_empty"))
            return
        if not items:
            page = 0
            items, total = await storage.shared_page(who.user_id, 0, PAGE_SIZE)
        count = pages(total)
        texts = who.texts
        lines = [texts.text("supervisor_list", page=str(page + 1), pages=str(count)), ""]
        numbers = []
        worker: int | None = None
        for index, item in enumerate(items, start=page * PAGE_SIZE + 1):
            if item.worker_id != worker:  # one heading per worker, their reflections below
                if worker is not None:
                    lines.append("")
                worker = item.worker_id
                lines.append(item.worker_name or texts.text("worker_unnamed"))
            opened = "" if item.reflection.opened_at else " •"
            lines.append(f"  {index}. {render.title(item.reflection, texts)}{opened}")
            numbers.append(
                InlineKeyboardButton(str(index), callback_data=f"so:{item.reflection.id}")
            )
        rows = [numbers]
        nav = nav_row(texts.buttons, page, count, "sp")
        if nav:
            rows.append(nav)
        await edit_or_send(
            context, message, who.chat_id, "\n".join(lines), InlineKeyboardMarkup(rows)
        )

    async def open(self, context: Context, who: Who, reflection_id: int) -> None:
        item = await self.deps.storage.shared_item(who.user_id, reflection_id, mark_opened=True)
        if item is None:
            await context.bot.send_message(who.chat_id, who.texts.text("not_found"))
            return
        log.info("shared_opened reflection=%s", reflection_id)
        name = item.worker_name or who.texts.text("worker_unnamed")
        messages = render.reflection_messages(
            item.reflection, item.entries, who.texts, worker_name=name
        )
        history = await self.deps.storage.scale_history(item.worker_id, shared_only=True)
        trend = render.trend_lines(history, who.texts)
        if trend:
            messages.append(html.escape("\n".join([who.texts.text("trend_shared_title"), *trend])))
        await send_html(context, who.chat_id, messages, protect=True)

    async def digest_command(self, update: Update, context: Context) -> None:
        who = await self._supervisor(update, context)
        if who is None:
            return
        since: str | None = None
        if context.args:
            since = parse_day(" ".join(context.args))
            if since is None:
                await context.bot.send_message(who.chat_id, who.texts.text("digest_bad_date"))
                return
        digest = await self.deps.supervision.digest(who.user_id, since)
        if not digest.items:
            await context.bot.send_message(who.chat_id, who.texts.text("digest_empty"))
            return
        document = render.digest_markdown(digest.items, who.texts, digest.since, digest.made_at)
        stamp = datetime.fromisoformat(digest.made_at).strftime("%Y%m%d")
        await context.bot.send_document(
            who.chat_id,
            document.encode("utf-8"),
            filename=f"kooste-{stamp}.md",
            caption=who.texts.text("digest_caption", count=str(len(digest.items))),
            protect_content=True,
        )
        log.info("digest_sent supervisor=%s items=%s", who.user_id, len(digest.items))

    async def invite_command(self, update: Update, context: Context) -> None:
        who = await self._supervisor(update, context)
        if who is None:
            return
        code = await self.deps.supervision.create_invite(who.user_id)
        link = f"https://t.me/{context.bot.username}?start={code}"
        await context.bot.send_message(
            who.chat_id, who.texts.text("invite_created", days=str(INVITE_DAYS), link=link)
        )
        log.info("invite_created supervisor=%s", who.user_id)

    async def claim_command(self, update: Update, context: Context) -> None:
        """`/ohjaaja <code>`: become the supervisor with the code printed at first start."""
        who = await self.who(update, context)
        if who is None:
            return
        code = " ".join(context.args or [])
        if await self.deps.supervision.claim(who.user_id, code):
            log.info("supervisor_claimed user=%s", who.user_id)
            await context.bot.send_message(who.chat_id, who.texts.text("claim_done"))
            return
        log.info("supervisor_claim_refused user=%s", who.user_id)
        await context.bot.send_message(who.chat_id, who.texts.text("not_supervisor"))
