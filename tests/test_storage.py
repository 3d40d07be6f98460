"""SQLite repository: migrations, durability across reopen, duplicate updates, ownership."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage import SCHEMA_VERSION, NewEntry, Storage, StorageError


@pytest.fixture
async def storage(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = Storage(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


def entry(answer: str, scale: int | None = None) -> NewEntry:
    return NewEntry("q-1", "opening", "Mitä haluaisit sanoa?", answer, scale)


async def test_fresh_file_gets_latest_schema_and_wal(tmp_path: Path) -> None:
    store = Storage(tmp_path / "fresh.sqlite3")
    await store.open()
    assert await store.schema_version() == SCHEMA_VERSION
    await store.close()
    with sqlite3.connect(tmp_path / "fresh.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "reflections", "entries", "handled_updates"} <= tables


async def test_upgrade_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = Storage(path)
    await old.open(target_version=1)
    assert await old.schema_version() == 1
    await old.ensure_user(7, "fi")
    first = await old.start_reflection(7, "{}", entry=entry("vanha vastaus"))
    assert first is not None
    await old.close()

    new = Storage(path)
    await new.open()
    assert await new.schema_version() == SCHEMA_VERSION
    assert [e.answer for e in await new.entries(7, first.id)] == ["vanha vastaus"]
    # version 2 features work on the upgraded file
    assert await new.claim_update(5) and not await new.claim_update(5)
    await new.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer"):
        await Storage(path).open()


async def test_answers_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Storage(path)
    await store.open()
    await store.ensure_user(1, "fi")
    reflection = await store.start_reflection(
        1, '{"turn": 1}', update_id=10, entry=entry("ensimmäinen")
    )
    assert reflection is not None
    assert await store.record_step(
        reflection.id, '{"turn": 2}', update_id=11, entry=entry("toinen", scale=6)
    )
    await store.close()

    again = Storage(path)
    await again.open()
    active = await again.active_reflection(1)
    assert active is not None and active.id == reflection.id and active.state == '{"turn": 2}'
    saved = await again.entries(1, reflection.id)
    assert [(e.answer, e.scale) for e in saved] == [("ensimmäinen", None), ("toinen", 6)]
    assert await again.integrity_check() == "ok"
    await again.close()


async def test_duplicate_update_is_stored_once(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    reflection = await storage.start_reflection(1, "{}", update_id=20, entry=entry("a"))
    assert reflection is not None
    assert await storage.start_reflection(1, "{}", update_id=20, entry=entry("a")) is None
    assert await storage.record_step(reflection.id, "{}", update_id=21, entry=entry("b"))
    assert not await storage.record_step(reflection.id, "{}", update_id=21, entry=entry("b"))
    assert [e.answer for e in await storage.entries(1, reflection.id)] == ["a", "b"]


async def test_one_active_reflection_per_user(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    first = await storage.start_reflection(1, "{}")
    second = await storage.start_reflection(1, "{}")
    assert first is not None and second is not None
    active = await storage.active_reflection(1)
    assert active is not None and active.id == second.id
    old = await storage.reflection(1, first.id)
    assert old is not None and old.status == "cancelled" and old.ended_at


async def test_finishing_sets_status_and_end_time(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    reflection = await storage.start_reflection(1, "{}")
    assert reflection is not None
    await storage.record_step(reflection.id, "{}", update_id=None, status="finished", theme="muu")
    done = await storage.reflection(1, reflection.id)
    assert done is not None and done.status == "finished" and done.theme == "muu"
    assert await storage.active_reflection(1) is None


async def test_other_users_cannot_read_or_delete(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    await storage.ensure_user(2, "fi")
    reflection = await storage.start_reflection(1, "{}", entry=entry("yksityinen"))
    assert reflection is not None
    assert await storage.reflection(2, reflection.id) is None
    assert await storage.entries(2, reflection.id) == []
    assert not await storage.delete_reflection(2, reflection.id)
    assert await storage.delete_reflection(1, reflection.id)
    assert await storage.entries(1, reflection.id) == []


async def test_user_language_is_kept_from_first_contact(storage: Storage) -> None:
    assert await storage.ensure_user(3, "sv") == "sv"
    assert await storage.ensure_user(3, "fi") == "sv"


async def test_closed_storage_says_so(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not open"):
        await Storage(tmp_path / "x.sqlite3").active_reflection(1)
