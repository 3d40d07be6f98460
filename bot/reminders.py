"""Gentle reminders: when the next one is due, and quiet hours. Pure: time is passed in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/Helsinki"
# Hours a worker can pick; all lie outside the quiet hours below.
HOURS = (8, 10, 12, 14, 16, 18, 20)
QUIET_FROM, QUIET_UNTIL = 21, 8  # no reminder is sent from 21:00 to 07:59, local time
WEEKDAYS = range(1, 8)  # ISO: Monday 1 … Sunday 7


@dataclass(frozen=True)
class Reminder:
    user_id: int
    weekdays: frozenset[int] = frozenset()
    hour: int = 16
    timezone: str = DEFAULT_TIMEZONE
    paused: bool = False
    skip_next: bool = False

    @property
    def active(self) -> bool:
        return bool(self.weekdays) and not self.paused

    def toggled(self, weekday: int) -> Reminder:
        return replace(self, weekdays=self.weekdays ^ {weekday})


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def quiet(moment: datetime, timezone: str) -> bool:
    """Whether it is quiet hours at that moment in the user's time zone."""
    hour = moment.astimezone(ZoneInfo(timezone)).hour
    return hour >= QUIET_FROM or hour < QUIET_UNTIL


def next_fire(reminder: Reminder, now: datetime, *, honour_skip: bool = False) -> datetime | None:
    """The next reminder time after `now` (UTC), or None when none is due.

    The scheduler wakes at the very next occurrence and drops it there if it is to be skipped;
    with `honour_skip` the answer is the one the worker will actually receive (for display).
    """
    if not reminder.active:
        return None
    zone = ZoneInfo(reminder.timezone)
    local = now.astimezone(zone)
    skip = reminder.skip_next and honour_skip
    for offset in range(15):
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in reminder.weekdays:
            continue
        candidate = datetime.combine(day, time(reminder.hour), zone)
        if candidate <= local:
            continue
        if skip:
            skip = False
            continue
        return candidate.astimezone(UTC)
    return None
