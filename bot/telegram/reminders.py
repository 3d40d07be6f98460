"""/muistutus: choose weekdays and an hour by buttons; jobs that send a gentle invitation.

The database is the source of truth: every change is saved first, then the one job per user
is replaced; on start-up every saved reminder is scheduled again, so a restart loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden
from telegram.ext import Application, ExtBot, JobQueue

from bot import reminders
from bot.reminders import Reminder, next_fire
from bot.telegram.common import Context, Deps, HandlerGroup, Who, edit_or_send
from bot.telegram.delivery import BROADCAST
from bot.telegram.keyboards import simple_markup

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def job_name(user_id: int) -> str:
    return f"reminder:{user_id}"


class ReminderHandlers(HandlerGroup):
    def __init__(self, deps: Deps, clock: Clock | None = None) -> None:
        super().__init__(deps)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))

    # --- scheduling ----------------------------------------------------------------------
    def schedule(
        self,
        queue: JobQueue[Any],
        reminder: Reminder,
        after: datetime | None = None,
    ) -> datetime | None:
        """Replace the user's job with one at the next due time; returns that time."""
        for job in queue.get_jobs_by_name(job_name(reminder.user_id)):
            job.schedule_removal()
        when = next_fire(reminder, after or self.clock())
        if when is not None:
            queue.run_once(
                self.fire, when=when, name=job_name(reminder.user_id), data=reminder.user_id
            )
        return when

    async def restore(self, app: Application) -> None:  # type: ignore[type-arg]
        """Schedule every saved reminder again (called at start-up)."""
        if app.job_queue is None:
            log.warning("reminders_disabled reason=no_job_queue")
            return
        count = 0
        for reminder in await self.deps.storage.reminders():
            count += self.schedule(app.job_queue, reminder) is not None
        log.info("reminders_restored count=%s", count)

    async def fire(self, context: Context) -> None:
        """Send the invitation when due; skip, quiet hours and blocked users handled here."""
        job = context.job
        if job is None or not isinstance(job.data, int):
            return
        user_id = job.data
        reminder = await self.deps.storage.reminder(user_id)
        if reminder is None or not reminder.active:
            return
        if await self.deps.service.is_blocked(user_id):
            log.info("reminder_not_sent_blocked user=%s", user_id)
            return
        now = self.clock()
        queue = context.job_queue
        if reminder.skip_next:
            reminder = replace(reminder, skip_next=False)
            await self.deps.storage.save_reminder(reminder)
            log.info("reminder_skipped user=%s", user_id)
        elif reminders.quiet(now, reminder.timezone):
            log.info("reminder_quiet_hours user=%s", user_id)
        else:
            language = await self.deps.service.language(user_id, None)
            texts = self.deps.service.texts(language)
            try:
                bot = cast("ExtBot[str]", context.bot)  # app.py installs PatientRateLimiter
                await bot.send_message(
                    user_id,
                    texts.text("reminder_nudge"),
                    reply_markup=simple_markup(((texts.buttons["new"], "n"),)),
                    rate_limit_args=BROADCAST,  # many may fall due in the same minute
                )
            except Forbidden:
                # they blocked the bot: pause, so nothing keeps knocking on a closed door
                reminder = replace(reminder, paused=True)
                await self.deps.storage.save_reminder(reminder)
                await self.deps.service.mark_blocked(user_id)
                log.info("reminder_paused_blocked user=%s", user_id)
            else:
                await self.deps.storage.reminder_sent(user_id)
                log.info("reminder_sent user=%s", user_id)
        if queue is not None:
            self.schedule(queue, reminder, after=now + timedelta(seconds=1))

    # --- the panel -----------------------------------------------------------------------
    async def command(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        if who is None:
            return
        reminder = await self.deps.storage.reminder(who.user_id) or Reminder(who.user_id)
        if context.args:
            zone = context.args[0]
            if not reminders.valid_timezone(zone):
                await context.bot.send_message(
                    who.chat_id, who.texts.text("reminder_bad_timezone", zone=zone[:64])
                )
                return
            reminder = replace(reminder, timezone=zone)
            await self._save(context, reminder)
        await self.panel(context, who, reminder, None)

    async def panel(
        self, context: Context, who: Who, reminder: Reminder, message: Message | None
    ) -> None:
        texts, b = who.texts, who.texts.buttons
        names = texts.text("reminder_weekdays").split()
        days = ", ".join(names[d - 1] for d in sorted(reminder.weekdays)) or "–"
        if not reminder.weekdays:
            state = texts.text("reminder_state_off")
        elif reminder.paused:
            state = texts.text("reminder_state_paused")
        else:
            state = texts.text("reminder_state_on")
        upcoming = next_fire(reminder, self.clock(), honour_skip=True)
        next_text = (
            "–"
            if upcoming is None
            else upcoming.astimezone(ZoneInfo(reminder.timezone)).strftime(
                texts.text("date_format")
            )
        )
        if reminder.skip_next and upcoming is not None:
            next_text += f" ({texts.text('reminder_skipping')})"
        text = texts.text(
            "reminder_status",
            days=days,
            time=f"{reminder.hour:02d}:00",
            timezone=reminder.timezone,
            state=state,
            next=next_text,
        )
        day_row = [
            InlineKeyboardButton(
                ("✓ " if d in reminder.weekdays else "") + names[d - 1], callback_data=f"rw:{d}"
            )
            for d in reminders.WEEKDAYS
        ]
        hour_row = [
            InlineKeyboardButton(
                ("✓ " if h == reminder.hour else "") + f"{h}", callback_data=f"rh:{h}"
            )
            for h in reminders.HOURS
        ]
        controls = [
            InlineKeyboardButton(
                b["reminder_resume"] if reminder.paused else b["reminder_pause"],
                callback_data="rp",
            ),
            InlineKeyboardButton(
                b["reminder_unskip"] if reminder.skip_next else b["reminder_skip"],
                callback_data="rs",
            ),
        ]
        rows = [
            day_row[:4],
            day_row[4:],
            hour_row,
            controls,
            [InlineKeyboardButton(b["reminder_remove"], callback_data="rx")],
        ]
        await edit_or_send(context, message, who.chat_id, text, InlineKeyboardMarkup(rows))

    async def _save(self, context: Context, reminder: Reminder) -> None:
        await self.deps.storage.save_reminder(reminder)
        if context.job_queue is not None:
            self.schedule(context.job_queue, reminder)

    async def change(
        self, context: Context, who: Who, kind: str, number: int | None, message: Message | None
    ) -> None:
        """A panel button: toggle a weekday, pick an hour, pause, skip next, or remove."""
        storage = self.deps.storage
        reminder = await storage.reminder(who.user_id) or Reminder(who.user_id)
        if kind == "rx":
            await storage.delete_reminder(who.user_id)
            if context.job_queue is not None:
                for job in context.job_queue.get_jobs_by_name(job_name(who.user_id)):
                    job.schedule_removal()
            log.info("reminder_removed user=%s", who.user_id)
            await edit_or_send(
                context, message, who.chat_id, who.texts.text("reminder_removed"), None
            )
            return
        if kind == "rw" and number is not None and number in reminders.WEEKDAYS:
            reminder = reminder.toggled(number)
        elif kind == "rh" and number in reminders.HOURS:
            reminder = replace(reminder, hour=number)
        elif kind == "rp":
            reminder = replace(reminder, paused=not reminder.paused)
        elif kind == "rs":
            reminder = replace(reminder, skip_next=not reminder.skip_next)
        else:
            await context.bot.send_message(who.chat_id, who.texts.text("stale_button"))
            return
        await self._save(context, reminder)
        log.info("reminder_changed user=%s", who.user_id)
        await self.panel(context, who, reminder, message)
