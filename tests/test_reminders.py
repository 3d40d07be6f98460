"""Reminders: due times on a fixed clock, restart restore, skip, quiet hours, blocked users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.reminders import Reminder, next_fire, quiet
from tests.botapi_standin import FakeUser
from tests.harness import Harness, button_data, buttons, running_bot

# Monday 7 January 2030, 12:00 in Helsinki (UTC+2): far enough ahead that no job comes due
# by itself while a test runs; the tests run jobs on purpose.
MONDAY_NOON = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
WORKER = FakeUser(id=4001, first_name="Mikko", language_code="fi")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reminder", "now", "expected"),
    [
        (Reminder(1, frozenset({1}), 16), MONDAY_NOON, at(2030, 1, 7, 14)),
        (Reminder(1, frozenset({1}), 16), at(2030, 1, 7, 15), at(2030, 1, 14, 14)),
        (Reminder(1, frozenset({1, 4}), 16), at(2030, 1, 7, 15), at(2030, 1, 10, 14)),
        (
            Reminder(1, frozenset({1}), 8, "Europe/Stockholm"),
            at(2030, 1, 6, 12),
            at(2030, 1, 7, 7),
        ),
        # summer time starts on 31 March 2030: 08:00 in Helsinki is then 05:00 UTC
        (Reminder(1, frozenset({1}), 8), at(2030, 3, 30, 12), at(2030, 4, 1, 5)),
        (Reminder(1, frozenset(), 16), MONDAY_NOON, None),
        (Reminder(1, frozenset({1}), 16, paused=True), MONDAY_NOON, None),
    ],
)
def test_next_fire(reminder: Reminder, now: datetime, expected: datetime | None) -> None:
    assert next_fire(reminder, now) == expected


def test_skip_moves_the_shown_time_but_not_the_wake_up() -> None:
    reminder = Reminder(1, frozenset({1, 3}), 16, skip_next=True)
    assert next_fire(reminder, MONDAY_NOON) == at(2030, 1, 7, 14)
    assert next_fire(reminder, MONDAY_NOON, honour_skip=True) == at(2030, 1, 9, 14)


def test_quiet_hours_in_local_time() -> None:
    assert quiet(at(2030, 1, 7, 19, 30), "Europe/Helsinki")  # 21:30 local
    assert quiet(at(2030, 1, 7, 5, 59), "Europe/Helsinki")  # 07:59 local
    assert not quiet(at(2030, 1, 7, 6, 0), "Europe/Helsinki")  # 08:00 local
    assert not quiet(at(2030, 1, 7, 19, 30), "Europe/London")  # 19:30 local


@dataclass
class Clock:
    now: datetime = MONDAY_NOON
    history: list[datetime] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=Clock()) as harness:
        await harness.say(WORKER, "/apua")  # the chat exists
        yield harness


def job(h: Harness):  # type: ignore[no-untyped-def]
    assert h.app is not None and h.app.job_queue is not None
    jobs = h.app.job_queue.get_jobs_by_name(f"reminder:{WORKER.id}")
    return jobs[0] if jobs else None


async def set_monday_18(h: Harness) -> dict:  # type: ignore[type-arg]
    (panel,) = await h.say(WORKER, "/muistutus")
    assert "päiviä ei ole valittu" in panel["text"]
    h.standin.press(WORKER, panel, "rw:1")
    await h.standin.wait_call("editMessageText")
    h.standin.press(WORKER, panel, "rh:18")
    await h.standin.wait_call("editMessageText")
    return h.standin.outbox(WORKER.id)[-1]


async def test_choosing_days_schedules_and_a_restart_restores(h: Harness) -> None:
    panel = await set_monday_18(h)
    assert "✓ ma" in buttons(panel) and "✓ 18" in buttons(panel)
    assert "käytössä" in panel["text"] and "07.01.2030 klo 18.00" in panel["text"]
    assert job(h).next_t == at(2030, 1, 7, 16)
    await h.stop_bot()
    await h.start_bot()
    assert job(h).next_t == at(2030, 1, 7, 16)


async def test_due_reminder_invites_and_comes_again_next_week(h: Harness) -> None:
    await set_monday_18(h)
    assert h.app is not None
    h.clock.now = at(2030, 1, 7, 16)  # type: ignore[union-attr]
    await job(h).run(h.app)
    (nudge,) = await h.standin.wait_outgoing(WORKER.id)
    assert nudge["text"] == h.prompts["fi"].text("reminder_nudge")
    assert buttons(nudge) == {h.prompts["fi"].buttons["new"]: "n"}
    assert job(h).next_t == at(2030, 1, 14, 16)
    (opening,) = await h.press(WORKER, nudge, "n")
    assert buttons(opening)  # the theme doors: an open invitation


async def test_skip_next_and_quiet_hours_send_nothing(h: Harness) -> None:
    panel = await set_monday_18(h)
    h.standin.press(WORKER, panel, "rs")
    await h.standin.wait_call("editMessageText")
    assert "ohitetaan" in h.standin.outbox(WORKER.id)[-1]["text"]
    assert h.app is not None
    await job(h).run(h.app)
    async with h.storage() as store:
        saved = await store.reminder(WORKER.id)
        assert saved is not None and not saved.skip_next
    h.clock.now = at(2030, 1, 7, 20)  # type: ignore[union-attr]  # 22:00 in Helsinki
    await job(h).run(h.app)
    await h.standin.wait_idle()
    sent = [
        c
        for c in h.standin.calls
        if c.method == "sendMessage"
        and c.params.get("text") == h.prompts["fi"].text("reminder_nudge")
    ]
    assert sent == []


async def test_blocked_user_gets_paused_not_a_crash(h: Harness) -> None:
    await set_monday_18(h)
    assert h.app is not None
    h.clock.now = at(2030, 1, 7, 16)  # type: ignore[union-attr]
    h.standin.inject_fault("sendMessage", "403")
    await job(h).run(h.app)
    async with h.storage() as store:
        saved = await store.reminder(WORKER.id)
        assert saved is not None and saved.paused
    (panel,) = await h.say(WORKER, "/muistutus")
    assert "tauolla" in panel["text"]
    assert job(h) is None


async def test_remove_and_forged_values(h: Harness) -> None:
    panel = await set_monday_18(h)
    h.standin.press(WORKER, panel, "rh:3")  # not an offered hour: inside quiet hours
    (refused,) = await h.standin.wait_outgoing(WORKER.id)
    assert refused["text"] == h.prompts["fi"].text("stale_button")
    (panel,) = await h.say(WORKER, "/muistutus Mars/Olympus")
    assert "Mars/Olympus" in panel["text"]
    (panel,) = await h.say(WORKER, "/muistutus Europe/Stockholm")
    assert "Europe/Stockholm" in panel["text"]
    assert job(h).next_t == at(2030, 1, 7, 17)
    h.standin.press(WORKER, panel, button_data(panel, "rx"))
    await h.standin.wait_call("editMessageText", lambda c: "poistettu" in c.params["text"])
    assert job(h) is None
    async with h.storage() as store:
        assert await store.reminder(WORKER.id) is None


async def test_erasing_everything_removes_the_reminder(h: Harness) -> None:
    await set_monday_18(h)
    (ask,) = await h.say(WORKER, "/poista")
    await h.press(WORKER, ask, "ea")
    assert job(h) is None
    async with h.storage() as store:
        assert await store.reminder(WORKER.id) is None
