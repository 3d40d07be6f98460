"""SQLite repository: migrations, encryption at rest, duplicates, ownership, erasure."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.crypto import CryptoError, MasterKey, generate
from bot.storage import SCHEMA_VERSION, NewEntry, Storage, StorageError

MASTER = MasterKey.from_text(generate())


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = Storage(tmp_path / "db.sqlite3", MASTER)
    await store.open()
    yield store
    await store.close()


def entry(answer: str, scale: int | None = None) -> NewEntry:
    return NewEntry("q-1", "opening", "Mitä haluaisit sanoa?", answer, scale)


def raw_bytes(path: Path) -> bytes:
    """The database file and its WAL, as bytes on disk."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


async def test_fresh_file_gets_latest_schema_wal_and_owner_only_mode(tmp_path: Path) -> None:
    store = Storage(tmp_path / "fresh.sqlite3", MASTER)
    await store.open()
    assert await store.schema_version() == SCHEMA_VERSION
    await store.close()
    assert (tmp_path / "fresh.sqlite3").stat().st_mode & 0o077 == 0
    with sqlite3.connect(tmp_path / "fresh.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "reflections", "entries", "handled_updates", "invites"} <= tables


async def test_upgrade_from_version_2_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = Storage(path, MASTER)
    await old.open(target_version=2)
    assert await old.schema_version() == 2
    await old.ensure_user(7, "fi")  # what a version-2 bot wrote
    await old.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1
        columns = {r[1] for r in raw.execute("PRAGMA table_info(reflections)")}
    assert "shared_at" not in columns

    upgraded = Storage(path, MASTER)
    await upgraded.open()
    assert await upgraded.schema_version() == SCHEMA_VERSION
    reflection = await upgraded.start_reflection(7, "{}", entry=entry("vanha käyttäjä"))
    assert reflection is not None and reflection.shared_at is None
    assert [e.answer for e in await upgraded.entries(7, reflection.id)] == ["vanha käyttäjä"]
    assert await upgraded.claim_update(5)
    assert not await upgraded.claim_update(5)
    await upgraded.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer"):
        await Storage(path, MASTER).open()


async def test_answers_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Storage(path, MASTER)
    await store.open()
    await store.ensure_user(1, "fi")
    reflection = await store.start_reflection(
        1, '{"turn": 1}', update_id=10, entry=entry("ensimmäinen")
    )
    assert reflection is not None
    assert await store.record_step(
        reflection, '{"turn": 2}', update_id=11, entry=entry("toinen", scale=6)
    )
    await store.close()

    again = Storage(path, MASTER)
    await again.open()
    active = await again.active_reflection(1)
    assert active is not None and active.id == reflection.id and active.state == '{"turn": 2}'
    saved = await again.entries(1, reflection.id)
    assert [(e.answer, e.scale) for e in saved] == [("ensimmäinen", None), ("toinen", 6)]
    assert await again.integrity_check() == "ok"
    await again.close()


async def test_no_plaintext_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Storage(path, MASTER)
    await store.open()
    await store.ensure_user(1, "fi")
    secret = "Salaisuus-esihenkilön-palaverista"
    reflection = await store.start_reflection(1, f'{{"echo": "{secret}"}}', entry=entry(secret))
    assert reflection is not None
    await store.set_display_name(1, "Aino Ainutlaatuinen")
    await store.close()
    data = raw_bytes(path)
    assert data  # the file is there and holds something
    for text in (secret, "Aino Ainutlaatuinen", "Mitä haluaisit sanoa"):
        assert text.encode() not in data
        assert text.encode("utf-16-le") not in data


async def test_wrong_master_key_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Storage(path, MASTER)
    await store.open()
    await store.ensure_user(1, "fi")
    reflection = await store.start_reflection(1, "{}", entry=entry("luottamuksellinen"))
    assert reflection is not None
    await store.close()
    thief = Storage(path, MasterKey.from_text(generate()))
    await thief.open()
    with pytest.raises(CryptoError):
        await thief.entries(1, reflection.id)
    await thief.close()


async def test_duplicate_update_is_stored_once(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    reflection = await storage.start_reflection(1, "{}", update_id=20, entry=entry("a"))
    assert reflection is not None
    assert await storage.start_reflection(1, "{}", update_id=20, entry=entry("a")) is None
    assert await storage.record_step(reflection, "{}", update_id=21, entry=entry("b"))
    assert not await storage.record_step(reflection, "{}", update_id=21, entry=entry("b"))
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
    await storage.record_step(reflection, "{}", update_id=None, status="finished", theme="muu")
    done = await storage.reflection(1, reflection.id)
    assert done is not None and done.status == "finished" and done.theme == "muu"
    assert await storage.active_reflection(1) is None


async def test_other_users_cannot_read_share_or_delete(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    await storage.ensure_user(2, "fi")
    reflection = await storage.start_reflection(
        1, "{}", entry=entry("yksityinen"), status="finished"
    )
    assert reflection is not None
    assert await storage.reflection(2, reflection.id) is None
    assert await storage.entries(2, reflection.id) == []
    assert not await storage.set_shared(2, reflection.id, shared=True)
    assert not await storage.delete_reflection(2, reflection.id)
    assert await storage.delete_reflection(1, reflection.id)
    assert await storage.entries(1, reflection.id) == []


async def test_sharing_is_visible_only_to_the_right_supervisor(storage: Storage) -> None:
    for user in (1, 2):
        await storage.ensure_user(user, "fi")
    mine = await storage.start_reflection(1, "{}", entry=entry("jaettava"), status="finished")
    active = await storage.start_reflection(2, "{}", entry=entry("kesken"))
    assert mine is not None and active is not None
    assert not await storage.set_shared(2, active.id, shared=True)  # active cannot be shared
    await storage.set_display_name(1, "Aino")
    assert await storage.set_shared(1, mine.id, shared=True)
    items, total = await storage.shared_page(99, 0, 5)
    assert total == 1 and items[0].worker_name == "Aino" and items[0].entries == ()
    item = await storage.shared_item(99, mine.id, mark_opened=True)
    assert item is not None and [e.answer for e in item.entries] == ["jaettava"]
    opened = await storage.reflection(1, mine.id)
    assert opened is not None and opened.opened_at is not None
    assert await storage.shared_item(99, active.id, mark_opened=True) is None
    # a worker tied to supervisor 50 by invite is invisible to supervisor 99
    await storage.create_invite(50, "hash", "2999-01-01T00:00:00+00:00")
    assert await storage.redeem_invite("hash", 1) == 50
    assert await storage.redeem_invite("hash", 2) is None  # single use
    assert await storage.shared_item(99, mine.id, mark_opened=False) is None
    assert await storage.shared_item(50, mine.id, mark_opened=False) is not None
    assert await storage.set_shared(1, mine.id, shared=False)
    assert await storage.shared_page(50, 0, 5) == ([], 0)


async def test_shared_list_is_grouped_by_worker_latest_sharer_first(storage: Storage) -> None:
    done: dict[str, int] = {}
    for user in (1, 2):
        await storage.ensure_user(user, "fi")
    for name, user in (("a1", 1), ("b1", 2), ("a2", 1), ("b2", 2), ("a3", 1)):
        finished = await storage.start_reflection(user, "{}", entry=entry(name), status="finished")
        assert finished is not None
        done[name] = finished.id
    for name in ("a1", "b1", "a2", "a3", "b2"):  # B shares last
        user = 1 if name.startswith("a") else 2
        assert await storage.set_shared(user, done[name], shared=True)
    items, total = await storage.shared_page(99, 0, 10)
    assert total == 5
    assert [i.reflection.id for i in items] == [done[n] for n in ("b2", "b1", "a3", "a2", "a1")]
    second_page, _ = await storage.shared_page(99, 3, 10)
    assert [i.reflection.id for i in second_page] == [done["a2"], done["a1"]]


async def test_erase_user_removes_rows_and_key(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Storage(path, MASTER)
    await store.open()
    await store.ensure_user(1, "fi")
    await store.ensure_user(2, "fi")
    gone = await store.start_reflection(1, "{}", entry=entry("poistuva"), status="finished")
    kept = await store.start_reflection(2, "{}", entry=entry("jää"), status="finished")
    assert gone is not None and kept is not None
    with sqlite3.connect(path) as raw:
        wrapped = raw.execute("SELECT wrapped_key FROM users WHERE id = 1").fetchone()[0]
        sealed = raw.execute(
            "SELECT answer FROM entries WHERE reflection_id = ?", (gone.id,)
        ).fetchone()[0]
    assert await store.erase_user(1)
    assert not await store.erase_user(1)
    assert await store.counts(1) == await store.counts(3)
    assert [e.answer for e in await store.entries(2, kept.id)] == ["jää"]
    await store.close()
    data = raw_bytes(path)
    assert bytes(wrapped) not in data and bytes(sealed) not in data
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM users WHERE id = 1").fetchone()[0] == 0
        assert raw.execute("SELECT COUNT(*) FROM reflections WHERE user_id = 1").fetchone()[0] == 0


async def test_user_language_is_kept_from_first_contact(storage: Storage) -> None:
    assert await storage.ensure_user(3, "sv") == "sv"
    assert await storage.ensure_user(3, "fi") == "sv"


async def test_summaries_page_newest_first(storage: Storage) -> None:
    await storage.ensure_user(1, "fi")
    for n in range(7):
        r = await storage.start_reflection(1, "{}", entry=entry(f"vastaus {n}"), status="finished")
        assert r is not None
    await storage.start_reflection(1, "{}")  # an empty one is not listed
    page, total = await storage.summaries(1, 0, 5)
    assert total == 7 and len(page) == 5
    assert page[0].first_words == "vastaus 6" and page[0].answers == 1
    rest, _ = await storage.summaries(1, 5, 5)
    assert [s.first_words for s in rest] == ["vastaus 1", "vastaus 0"]


async def test_closed_storage_says_so(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not open"):
        await Storage(tmp_path / "x.sqlite3", MASTER).active_reflection(1)


async def test_writes_made_together_share_commits_and_a_failed_one_is_undone(
    storage: Storage,
) -> None:
    store, path = storage, storage.path
    commits: list[str] = []
    assert store._db is not None
    await store._db.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    users = range(1, 21)
    await asyncio.gather(*(store.ensure_user(u, "fi") for u in users))
    opened = await store.start_reflection(1, "{}", update_id=1)
    assert opened is not None
    out_of_range = entry("kaksitoista", scale=12)  # breaks the 0-10 CHECK after the claim
    with pytest.raises(sqlite3.IntegrityError):  # a failed write alone: its transaction undone
        await store.record_step(opened, "{}", update_id=997, entry=out_of_range)
    results = await asyncio.gather(
        *(store.start_reflection(u, "{}", update_id=100 + u, entry=entry(f"a{u}")) for u in users),
        store.record_step(opened, "{}", update_id=998, entry=out_of_range),  # joins, fails
        store.start_reflection(999, "{}", update_id=999, entry=entry("nobody")),  # unknown user
        return_exceptions=True,
    )
    assert isinstance(results[-2], sqlite3.IntegrityError)
    assert isinstance(results[-1], StorageError)
    assert all(r is not None and not isinstance(r, BaseException) for r in results[:-2])
    assert 2 <= len(commits) < 40  # 42 writes, far fewer fsync'd commits
    # what the writers were told is done is on disk, as another connection sees it
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT COUNT(*) FROM entries").fetchone() == (20,)
        handled = {r[0] for r in other.execute("SELECT update_id FROM handled_updates")}
    assert handled == {1} | {100 + u for u in users}  # the failed writes' claims undone


async def test_a_lone_write_is_one_trip_to_the_database_thread(storage: Storage) -> None:
    """The trips go through aiosqlite's private queue: this fails if that changes."""
    await storage.ensure_user(1, "fi")
    opened = await storage.start_reflection(1, "{}", update_id=1)
    assert opened is not None and storage._db is not None
    statements: list[str] = []
    await storage._db.set_trace_callback(statements.append)
    trips: list[object] = []
    execute = storage._db._execute

    async def counted(fn: object, *args: object) -> object:
        trips.append(fn)
        return await execute(fn, *args)

    storage._db._execute = counted  # type: ignore[method-assign]
    assert await storage.record_step(opened, "{}", update_id=2, entry=entry("vastaus"))
    assert len(trips) == 1
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "INSERT", "UPDATE", "COMMIT"]
    assert [e.answer for e in await storage.entries(1, opened.id)] == ["vastaus"]


async def test_a_cancelled_write_leaves_the_storage_consistent(storage: Storage) -> None:
    store, path = storage, storage.path
    writes = [asyncio.create_task(store.claim_update(update_id)) for update_id in range(1, 6)]
    await asyncio.sleep(0)  # the first write's trip is on the database thread, the rest queue
    writes[0].cancel()
    writes[2].cancel()
    results = await asyncio.gather(*writes, return_exceptions=True)
    cancelled = [isinstance(r, asyncio.CancelledError) for r in results]
    assert cancelled == [True, False, True, False, False]
    assert results[1] is results[3] is results[4] is True
    with sqlite3.connect(path) as other:  # nothing was left in an open transaction
        handled = {r[0] for r in other.execute("SELECT update_id FROM handled_updates")}
    assert handled == {1, 2, 4, 5}  # the first was already done when its caller gave up
    assert await store.claim_update(3)
    assert not await store.claim_update(1)


async def test_a_full_disk_never_reports_a_lost_write_as_stored(storage: Storage) -> None:
    store, path = storage, storage.path
    await store.ensure_user(2, "fi")
    assert await store.claim_update(1)  # waits for a commit, which carries the user too
    assert store._db is not None
    ((pages,),) = await store._db.execute_fetchall("PRAGMA page_count", ())  # type: ignore[misc]
    await store._db.execute(f"PRAGMA max_page_count = {pages + 4}")
    lone = store.claim_update(4)  # commits alone; the next two share a transaction
    small = store.claim_update(5)
    huge = store.start_reflection(2, "{}", entry=entry("x" * 200_000))  # needs far more pages
    results = await asyncio.gather(lone, small, huge, return_exceptions=True)
    assert results[0] is True
    assert isinstance(results[2], BaseException), results
    with sqlite3.connect(path) as other:
        handled = {r[0] for r in other.execute("SELECT update_id FROM handled_updates")}
        assert other.execute("SELECT COUNT(*) FROM entries").fetchone() == (0,)
    if isinstance(results[1], BaseException):
        assert 5 not in handled  # told it failed: not stored
    else:
        assert 5 in handled  # told it was stored: it is on disk
    await store._db.execute("PRAGMA max_page_count = 1073741823")
    await store.ensure_user(3, "fi")  # and the storage goes on working
    assert await store.claim_update(6)
    assert await store.is_user(3)


async def test_a_new_user_and_their_first_answer_share_one_commit(storage: Storage) -> None:
    store, path = storage, storage.path
    assert store._db is not None
    commits: list[str] = []
    await store._db.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    assert await store.ensure_user(7, "sv") == "sv"
    assert await store.active_reflection(7) is None  # known to be new: no read needed
    opened = await store.start_reflection(7, "{}", update_id=70, entry=entry("första"))
    assert opened is not None
    assert len(commits) == 1
    with sqlite3.connect(path) as other:  # both on disk once the answer's write returned
        assert other.execute("SELECT language FROM users WHERE id = 7").fetchone() == ("sv",)
        assert other.execute("SELECT COUNT(*) FROM entries").fetchone() == (1,)
    assert await store.ensure_user(7, "fi") == "sv"  # the first language stays
