"""SQLite repository (aiosqlite): migrations by PRAGMA user_version, WAL, one writer.

Texts a worker wrote, and questions that quote them, are sealed with the worker's data key
(bot.crypto) before they are written; callers only ever see plain dataclasses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import aiosqlite

from bot.crypto import MasterKey, Sealer, new_data_key
from bot.reminders import Reminder

log = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

# Each entry moves the schema one version up; never edit a released step, append a new one.
MIGRATIONS: Sequence[str] = (
    # 1: users with their wrapped data key, reflections and the sealed answers in them
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,              -- Telegram user id
        language TEXT NOT NULL,
        wrapped_key BLOB NOT NULL,           -- the user's data key, sealed by the master key
        created_at TEXT NOT NULL
    );
    CREATE TABLE reflections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        theme TEXT,
        status TEXT NOT NULL CHECK (status IN ('active', 'finished', 'cancelled')),
        state BLOB NOT NULL,                 -- sealed JSON of the dialogue engine's state
        started_at TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE INDEX reflections_by_user ON reflections(user_id, started_at);
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        reflection_id INTEGER NOT NULL REFERENCES reflections(id) ON DELETE CASCADE,
        question_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        question BLOB NOT NULL,              -- sealed: echo questions quote the worker
        answer BLOB NOT NULL,                -- sealed
        scale INTEGER CHECK (scale BETWEEN 0 AND 10),
        continued INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE INDEX entries_by_reflection ON entries(reflection_id, id);
    """,
    # 2: at most one active reflection per user; remember handled Telegram updates
    """
    CREATE UNIQUE INDEX one_active_reflection ON reflections(user_id) WHERE status = 'active';
    CREATE TABLE handled_updates (
        update_id INTEGER PRIMARY KEY,
        handled_at TEXT NOT NULL
    );
    """,
    # 3: sharing with the supervisor, supervisors, invites
    """
    ALTER TABLE reflections ADD COLUMN shared_at TEXT;
    ALTER TABLE reflections ADD COLUMN opened_at TEXT;   -- first opened by the supervisor
    CREATE INDEX reflections_shared ON reflections(shared_at) WHERE shared_at IS NOT NULL;
    ALTER TABLE users ADD COLUMN display_name BLOB;      -- sealed; set when the worker shares
    ALTER TABLE users ADD COLUMN supervisor_id INTEGER;  -- from an invite link
    CREATE TABLE supervisors (
        user_id INTEGER PRIMARY KEY,
        claimed_at TEXT NOT NULL,
        last_digest_at TEXT
    );
    CREATE TABLE invites (
        code_hash TEXT PRIMARY KEY,
        supervisor_id INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_by INTEGER,
        used_at TEXT
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 4: resource bank consent, reminders, reflection kinds
    """
    ALTER TABLE users ADD COLUMN resource_bank INTEGER;  -- NULL not asked, 0 no, 1 yes
    ALTER TABLE reflections ADD COLUMN kind TEXT NOT NULL DEFAULT 'free';
    CREATE TABLE reminders (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        weekdays TEXT NOT NULL DEFAULT '',   -- ISO weekdays 1-7, e.g. '1,4'
        hour INTEGER NOT NULL DEFAULT 16 CHECK (hour BETWEEN 0 AND 23),
        timezone TEXT NOT NULL DEFAULT 'Europe/Helsinki',
        paused INTEGER NOT NULL DEFAULT 0,
        skip_next INTEGER NOT NULL DEFAULT 0,
        last_sent_at TEXT
    );
    """,
    # 5: people who blocked the bot (Telegram answered 403), until they write again
    """
    ALTER TABLE users ADD COLUMN blocked_at TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# Telegram hands out update ids in increasing order; far older ids can be forgotten.
_KEEP_UPDATES = 10_000
# Contexts that bind each sealed value to its column (and, through the sealer, to its user).
_STATE, _QUESTION, _ANSWER, _NAME = (
    "reflections.state",
    "entries.question",
    "entries.answer",
    ("users.display_name"),
)


class StorageError(Exception):
    """The database is unusable, e.g. written by a newer version of the bot."""


@dataclass(frozen=True)
class Reflection:
    id: int
    user_id: int
    theme: str | None
    status: str
    state: str
    started_at: str
    ended_at: str | None
    shared_at: str | None = None
    opened_at: str | None = None
    kind: str = "free"


@dataclass(frozen=True)
class Entry:
    id: int
    reflection_id: int
    question_id: str
    stage: str
    question: str
    answer: str
    scale: int | None
    continued: bool
    created_at: str


@dataclass(frozen=True)
class NewEntry:
    question_id: str
    stage: str
    question: str
    answer: str
    scale: int | None = None
    continued: bool = False


@dataclass(frozen=True)
class Summary:
    """A line in a list of reflections."""

    reflection: Reflection
    first_words: str
    answers: int


@dataclass(frozen=True)
class SharedItem:
    """A reflection a worker shared, as a supervisor may see it."""

    reflection: Reflection
    worker_id: int
    worker_name: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class ScalePoint:
    """One reflection on a scale-over-time line; `scale` is None when none was given."""

    theme: str | None
    started_at: str
    scale: int | None


@dataclass(frozen=True)
class DataCounts:
    reflections: int
    answers: int
    shared: int


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Storage:
    """The only place that speaks SQL.

    Writes are all or nothing (a write that joins an open transaction gets a savepoint) and
    durable before the writer goes on: a write waits for the commit that carries it (a new
    user's row alone does not; see ensure_user). Writes
    made while a commit is waiting for the connection join that commit (group commit), so
    people writing at the same moment share one fsync instead of queueing for one each.
    """

    def __init__(self, path: Path, master: MasterKey) -> None:
        self.path = path
        self._master = master
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._sealers: dict[int, Sealer] = {}
        self._new_users: set[int] = set()  # registered by this process, no reflection yet
        self._in_transaction = False
        self._writers = 0  # writes waiting for the connection: a lone write commits at once
        self._lost = False  # the open transaction was undone by SQLite: fail its commit
        self._commit: asyncio.Future[None] | None = None  # the commit the next write joins
        self._committer: asyncio.Task[None] | None = None

    # --- life cycle ----------------------------------------------------------------------
    async def open(self, *, target_version: int = SCHEMA_VERSION) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            # every row read: a statement left half-read would keep a COMMIT from going through
            for pragma in (
                "journal_mode = WAL",
                "synchronous = FULL",
                "foreign_keys = ON",
                "secure_delete = ON",
                "busy_timeout = 5000",
            ):
                await db.execute_fetchall(f"PRAGMA {pragma}", ())
            await self._migrate(db, target_version)
        except BaseException:
            await db.close()
            raise
        self._db = db
        if str(self.path) != ":memory:":
            self.path.chmod(0o600)

    async def close(self) -> None:
        """Flush the WAL into the main file and close; the next start opens a tidy file."""
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        if self._db is not None:
            async with self._lock:
                if self._in_transaction:  # a write that came after the last commit started
                    await self._db.commit()
                    self._in_transaction = False
                await self._db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)", ())
                await self._db.close()
                self._db = None
        self._sealers.clear()

    async def schema_version(self) -> int:
        async with self._read() as db:
            return await _user_version(db)

    @staticmethod
    async def _migrate(db: aiosqlite.Connection, target: int) -> None:
        current = await _user_version(db)
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"{current} is newer than this bot's schema {SCHEMA_VERSION}; upgrade the bot"
            )
        for version in range(current, target):
            script = (
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\nPRAGMA user_version = {version + 1};"
            )
            try:
                await db.executescript(script)
                await db.commit()
            except BaseException:
                await db.rollback()
                raise

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._db is None:
            raise StorageError("storage is not open")
        async with self._lock:
            yield self._db

    async def _transact(self, work: Work[T], *, wait: bool = True) -> T:
        """Run `work` (plain sqlite3 calls) all or nothing in one trip to the database thread,
        and return once it is committed to disk (with `wait=False`, once the commit that will
        carry it is scheduled: for writes that hold nothing a worker said).

        One trip per write, not one per statement (about 0.1 ms each here; an answer is five).
        A write nobody is queued behind commits in that same trip; otherwise it joins the open
        transaction, and the group commit carries it.
        """
        self._writers += 1
        try:
            await self._lock.acquire()
        finally:
            self._writers -= 1
        try:
            if self._db is None:
                raise StorageError("storage is not open")
            db = self._db
            alone = self._writers == 0 and wait
            mode: _Mode = "join" if self._in_transaction else "alone" if alone else "first"
            try:
                result = await _finish(_on_thread(db, lambda conn: _step(conn, work, mode)))
            except BaseException:
                self._in_transaction = db.in_transaction
                if not self._in_transaction:  # its own transaction, or SQLite undid a shared one
                    self._lost = mode == "join"
                elif mode == "first":  # done, but the caller was cancelled: commit it anyway
                    self._join_commit()
                raise
            if mode == "alone":
                return result
            self._in_transaction = True
            committed = self._join_commit()
        finally:
            self._lock.release()
        if not wait:
            committed.add_done_callback(_report_failed_commit)
            return result
        await asyncio.shield(committed)
        return result

    async def _change(self, sql: str, params: tuple[object, ...]) -> int:
        """One statement as a write of its own; the number of rows it changed."""
        return await self._transact(lambda conn: conn.execute(sql, params).rowcount)

    def _join_commit(self) -> asyncio.Future[None]:
        if self._commit is None:
            self._commit = asyncio.get_running_loop().create_future()
            self._committer = asyncio.create_task(self._group_commit(self._commit))
        return self._commit

    async def _group_commit(self, done: asyncio.Future[None]) -> None:
        """Commit every write made before this gets the connection (writers queued first)."""
        async with self._lock:
            self._commit = None  # writes from here on go to the next commit
            try:
                if self._db is None:
                    raise StorageError("storage closed before the commit")
                if self._lost:
                    raise StorageError("the transaction was undone before its commit")
                if self._in_transaction:
                    await self._db.commit()
            except BaseException as exc:
                if self._db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        await self._db.rollback()
                self._sealers.clear()  # a key cached from a rolled-back write is gone
                self._new_users.clear()
                if isinstance(exc, Exception):
                    done.set_exception(exc)
                else:
                    done.cancel()
                    raise
            else:
                done.set_result(None)
            finally:
                self._in_transaction = self._lost = False

    async def _sealer(self, db: aiosqlite.Connection, user_id: int) -> Sealer:
        sealer = self._sealers.get(user_id)
        if sealer is None:
            row = await _one(db, "SELECT wrapped_key FROM users WHERE id = ?", (user_id,))
            if row is None:
                raise StorageError("unknown user")
            sealer = Sealer(user_id, self._master.unwrap(user_id, bytes(row[0])))
            self._sealers[user_id] = sealer
        return sealer

    async def _sealer_of(self, user_id: int) -> Sealer:
        """The user's sealer; a cached one is returned without waiting for the connection."""
        sealer = self._sealers.get(user_id)
        if sealer is not None:
            return sealer
        async with self._read() as db:
            return await self._sealer(db, user_id)

    async def _reflection(self, db: aiosqlite.Connection, row: sqlite3.Row) -> Reflection:
        return _build_reflection(await self._sealer(db, int(row[1])), row)

    async def _entries(
        self, db: aiosqlite.Connection, user_id: int, reflection_id: int
    ) -> list[Entry]:
        cursor = await db.execute(
            "SELECT e.id, e.reflection_id, e.question_id, e.stage, e.question, e.answer, "
            "e.scale, e.continued, e.created_at FROM entries e JOIN reflections r "
            "ON r.id = e.reflection_id WHERE r.id = ? AND r.user_id = ? ORDER BY e.id",
            (reflection_id, user_id),
        )
        rows = await cursor.fetchall()
        if not rows:
            return []
        sealer = await self._sealer(db, user_id)
        return [
            Entry(
                int(r[0]),
                int(r[1]),
                str(r[2]),
                str(r[3]),
                sealer.open(bytes(r[4]), _QUESTION),
                sealer.open(bytes(r[5]), _ANSWER),
                None if r[6] is None else int(r[6]),
                bool(r[7]),
                str(r[8]),
            )
            for r in rows
        ]

    # --- users ---------------------------------------------------------------------------
    async def ensure_user(self, user_id: int, language: str) -> str:
        """Create the user (with a fresh data key) on first contact; return their language.

        A new user's row is not waited for: it holds no word of theirs, and the write that
        stores their first answer comes next and commits both with one fsync. Should the bot
        die in between, nothing sealed with the key was stored, and the next contact registers
        them again with a fresh one.
        """
        key = new_data_key()
        wrapped = self._master.wrap(user_id, key)

        def work(conn: sqlite3.Connection) -> str | None:
            row = _first(conn, "SELECT language FROM users WHERE id = ?", (user_id,))
            if row is not None:
                return str(row[0])
            conn.execute(
                "INSERT INTO users (id, language, wrapped_key, created_at) VALUES (?, ?, ?, ?)",
                (user_id, language, wrapped, now_iso()),
            )
            return None

        known = await self._transact(work, wait=False)
        if known is not None:
            return known
        self._sealers.setdefault(user_id, Sealer(user_id, key))  # no trip to read it back
        self._new_users.add(user_id)
        return language

    async def set_language(self, user_id: int, language: str) -> None:
        await self._change("UPDATE users SET language = ? WHERE id = ?", (language, user_id))

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        await self._change(
            "UPDATE users SET blocked_at = ? WHERE id = ?",
            (now_iso() if blocked else None, user_id),
        )

    async def blocked_users(self) -> set[int]:
        async with self._read() as db:
            cursor = await db.execute("SELECT id FROM users WHERE blocked_at IS NOT NULL")
            return {int(r[0]) for r in await cursor.fetchall()}

    async def is_user(self, user_id: int) -> bool:
        async with self._read() as db:
            return await _one(db, "SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None

    async def set_display_name(self, user_id: int, name: str) -> None:
        sealed = (await self._sealer_of(user_id)).seal(name, _NAME)
        await self._change("UPDATE users SET display_name = ? WHERE id = ?", (sealed, user_id))

    async def supervisor_of(self, user_id: int) -> int | None:
        async with self._read() as db:
            row = await _one(db, "SELECT supervisor_id FROM users WHERE id = ?", (user_id,))
        return None if row is None or row[0] is None else int(row[0])

    async def counts(self, user_id: int) -> DataCounts:
        async with self._read() as db:
            row = await _one(
                db,
                "SELECT COUNT(*), COUNT(shared_at), (SELECT COUNT(*) FROM entries e JOIN "
                "reflections r ON r.id = e.reflection_id WHERE r.user_id = ?) "
                "FROM reflections WHERE user_id = ?",
                (user_id, user_id),
            )
        assert row is not None
        return DataCounts(reflections=int(row[0]), answers=int(row[2]), shared=int(row[1]))

    async def erase_user(self, user_id: int) -> bool:
        """Delete everything of a user, their data key included; False if nothing was there.

        With secure_delete the freed pages are overwritten, and the WAL is checkpointed and
        truncated so no old page version stays behind in it.
        """

        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM reflections WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM invites WHERE used_by = ?", (user_id,))
            return conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount > 0

        erased = await self._transact(work)
        self._sealers.pop(user_id, None)
        self._new_users.discard(user_id)
        async with self._read() as db:
            await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)", ())
        return erased

    # --- reflections ---------------------------------------------------------------------
    async def active_reflection(self, user_id: int) -> Reflection | None:
        if user_id in self._new_users:  # just registered: nothing to read
            return None
        async with self._read() as db:
            row = await _find(db, "user_id = ? AND status = 'active'", (user_id,))
            return await self._reflection(db, row) if row else None

    async def reflection(self, user_id: int, reflection_id: int) -> Reflection | None:
        """A reflection only if it belongs to this user."""
        async with self._read() as db:
            row = await _find(db, "id = ? AND user_id = ?", (reflection_id, user_id))
            return await self._reflection(db, row) if row else None

    async def start_reflection(
        self,
        user_id: int,
        state: str,
        *,
        update_id: int | None = None,
        entry: NewEntry | None = None,
        status: str = "active",
        theme: str | None = None,
        kind: str = "free",
    ) -> Reflection | None:
        """Begin a reflection, ending any active one; None if this update was handled already.

        The first answer (when a plain message opened the reflection) is stored in the same
        transaction.
        """
        sealer = await self._sealer_of(user_id)
        now = now_iso()
        sealed_state = sealer.seal(state, _STATE)
        values = None if entry is None else _entry_values(sealer, entry, now)
        active = status == "active"

        def work(conn: sqlite3.Connection) -> sqlite3.Row | None:
            if update_id is not None and not _claim(conn, update_id):
                return None
            conn.execute(
                "UPDATE reflections SET status = 'cancelled', ended_at = ? "
                "WHERE user_id = ? AND status = 'active'",
                (now, user_id),
            )
            reflection_id = conn.execute(
                "INSERT INTO reflections (user_id, theme, status, state, started_at, ended_at, "
                "kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, theme, status, sealed_state, now, None if active else now, kind),
            ).lastrowid
            if values is not None:
                conn.execute(_INSERT_ENTRY, (reflection_id, *values))
            return _first(conn, _reflection_query("id = ?"), (reflection_id,))

        row = await self._transact(work)
        self._new_users.discard(user_id)
        return None if row is None else _build_reflection(sealer, row)

    async def record_step(
        self,
        reflection: Reflection,
        state: str,
        *,
        update_id: int | None,
        entry: NewEntry | None = None,
        status: str = "active",
        theme: str | None = None,
    ) -> bool:
        """Store an answer and the new state together; False if the update was seen before."""
        sealer = await self._sealer_of(reflection.user_id)
        now = now_iso()
        values = None if entry is None else _entry_values(sealer, entry, now)
        sealed_state = sealer.seal(state, _STATE)

        def work(conn: sqlite3.Connection) -> bool:
            if update_id is not None and not _claim(conn, update_id):
                return False
            if values is not None:
                conn.execute(_INSERT_ENTRY, (reflection.id, *values))
            conn.execute(
                "UPDATE reflections SET state = ?, status = ?, theme = COALESCE(?, theme), "
                "ended_at = CASE WHEN ? = 'active' THEN NULL ELSE ? END "
                "WHERE id = ? AND user_id = ?",
                (sealed_state, status, theme, status, now, reflection.id, reflection.user_id),
            )
            return True

        return await self._transact(work)

    async def update_handled(self, update_id: int) -> bool:
        async with self._read() as db:
            row = await _one(db, "SELECT 1 FROM handled_updates WHERE update_id = ?", (update_id,))
        return row is not None

    async def latest_reflection(self, user_id: int) -> Reflection | None:
        """The user's newest reflection, whatever its status."""
        async with self._read() as db:
            row = await _find(db, "user_id = ? ORDER BY r.id DESC", (user_id,))
            return await self._reflection(db, row) if row else None

    async def claim_update(self, update_id: int) -> bool:
        """Mark an update handled; False if it was handled before."""
        return await self._transact(lambda conn: _claim(conn, update_id))

    async def cancel_active(self, user_id: int) -> Reflection | None:
        """End the user's active reflection, keeping its answers; return it."""
        sql = _reflection_query("user_id = ? AND status = 'active'")

        def work(conn: sqlite3.Connection) -> sqlite3.Row | None:
            row = _first(conn, sql, (user_id,))
            if row is not None:
                conn.execute(
                    "UPDATE reflections SET status = 'cancelled', ended_at = ? WHERE id = ?",
                    (now_iso(), row[0]),
                )
            return row

        row = await self._transact(work)
        return None if row is None else _build_reflection(await self._sealer_of(user_id), row)

    async def delete_reflection(self, user_id: int, reflection_id: int) -> bool:
        """Delete one of the user's reflections with its answers; False if not theirs."""
        sql = "DELETE FROM reflections WHERE id = ? AND user_id = ?"
        return await self._change(sql, (reflection_id, user_id)) > 0

    async def entries(self, user_id: int, reflection_id: int) -> list[Entry]:
        """Answers of a reflection, oldest first, only if it belongs to the user."""
        async with self._read() as db:
            return await self._entries(db, user_id, reflection_id)

    async def summaries(self, user_id: int, offset: int, limit: int) -> tuple[list[Summary], int]:
        """A page of the user's reflections that hold answers, newest first, and the total."""
        async with self._read() as db:
            total_row = await _one(
                db,
                "SELECT COUNT(*) FROM reflections r WHERE r.user_id = ? AND EXISTS "
                "(SELECT 1 FROM entries e WHERE e.reflection_id = r.id)",
                (user_id,),
            )
            cursor = await db.execute(
                f"SELECT {_REFLECTION_COLUMNS}, (SELECT COUNT(*) FROM entries e WHERE "  # noqa: S608
                "e.reflection_id = r.id), (SELECT answer FROM entries e WHERE "
                "e.reflection_id = r.id ORDER BY e.id LIMIT 1) FROM reflections r "
                "WHERE r.user_id = ? AND EXISTS (SELECT 1 FROM entries e WHERE "
                "e.reflection_id = r.id) ORDER BY r.started_at DESC, r.id DESC LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            )
            rows = await cursor.fetchall()
            sealer = await self._sealer(db, user_id) if rows else None
            result = []
            for row in rows:
                first = sealer.open(bytes(row[_EXTRA + 1]), _ANSWER) if sealer else ""
                result.append(Summary(await self._reflection(db, row), first, int(row[_EXTRA])))
        return result, int(total_row[0]) if total_row else 0

    async def latest_of_kind(
        self, user_id: int, kind: str
    ) -> tuple[Reflection, list[Entry]] | None:
        """The user's newest ended reflection of a kind, with its answers."""
        async with self._read() as db:
            row = await _find(
                db,
                "user_id = ? AND kind = ? AND status != 'active' AND EXISTS (SELECT 1 FROM "
                "entries e WHERE e.reflection_id = r.id) ORDER BY r.started_at DESC, r.id DESC",
                (user_id, kind),
            )
            if row is None:
                return None
            return await self._reflection(db, row), await self._entries(db, user_id, int(row[0]))

    async def everything(self, user_id: int) -> list[tuple[Reflection, list[Entry]]]:
        """All of a user's reflections with their answers, oldest first (for export)."""
        async with self._read() as db:
            cursor = await db.execute(
                f"SELECT {_REFLECTION_COLUMNS} FROM reflections r WHERE r.user_id = ? "  # noqa: S608
                "ORDER BY r.started_at, r.id",
                (user_id,),
            )
            rows = await cursor.fetchall()
            return [
                (await self._reflection(db, row), await self._entries(db, user_id, int(row[0])))
                for row in rows
            ]

    async def scale_history(self, user_id: int, *, shared_only: bool) -> list[ScalePoint]:
        """Per reflection with answers, oldest first: its theme, start and first 0–10 value."""
        shared = "AND r.shared_at IS NOT NULL" if shared_only else ""
        async with self._read() as db:
            cursor = await db.execute(
                "SELECT r.theme, r.started_at, (SELECT e.scale FROM entries e WHERE "  # noqa: S608
                "e.reflection_id = r.id AND e.stage = 'scaling' AND e.scale IS NOT NULL "
                "ORDER BY e.id LIMIT 1) FROM reflections r WHERE r.user_id = ? "
                f"{shared} AND EXISTS (SELECT 1 FROM entries e WHERE e.reflection_id = r.id) "
                "ORDER BY r.started_at, r.id",
                (user_id,),
            )
            rows = await cursor.fetchall()
        return [
            ScalePoint(
                None if r[0] is None else str(r[0]), str(r[1]), None if r[2] is None else int(r[2])
            )
            for r in rows
        ]

    # --- reminders -----------------------------------------------------------------------
    async def reminder(self, user_id: int) -> Reminder | None:
        async with self._read() as db:
            row = await _one(
                db,
                f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE user_id = ?",  # noqa: S608
                (user_id,),
            )
        return _reminder(row) if row else None

    async def reminders(self) -> list[Reminder]:
        async with self._read() as db:
            cursor = await db.execute(f"SELECT {_REMINDER_COLUMNS} FROM reminders")  # noqa: S608
            return [_reminder(row) for row in await cursor.fetchall()]

    async def save_reminder(self, reminder: Reminder) -> None:
        await self._change(
            "INSERT INTO reminders (user_id, weekdays, hour, timezone, paused, skip_next) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
            "weekdays = excluded.weekdays, hour = excluded.hour, "
            "timezone = excluded.timezone, paused = excluded.paused, "
            "skip_next = excluded.skip_next",
            (
                reminder.user_id,
                ",".join(str(d) for d in sorted(reminder.weekdays)),
                reminder.hour,
                reminder.timezone,
                int(reminder.paused),
                int(reminder.skip_next),
            ),
        )

    async def delete_reminder(self, user_id: int) -> bool:
        return await self._change("DELETE FROM reminders WHERE user_id = ?", (user_id,)) > 0

    async def reminder_sent(self, user_id: int) -> None:
        await self._change(
            "UPDATE reminders SET last_sent_at = ? WHERE user_id = ?", (now_iso(), user_id)
        )

    # --- resource bank -------------------------------------------------------------------
    async def resource_consent(self, user_id: int) -> bool | None:
        """True/False once the worker has answered; None if never asked."""
        async with self._read() as db:
            row = await _one(db, "SELECT resource_bank FROM users WHERE id = ?", (user_id,))
        return None if row is None or row[0] is None else bool(row[0])

    async def set_resource_consent(self, user_id: int, consent: bool) -> None:
        await self._change(
            "UPDATE users SET resource_bank = ? WHERE id = ?", (int(consent), user_id)
        )

    async def resource_answers(
        self, user_id: int, stages: Sequence[str], exclude_reflection: int | None = None
    ) -> list[str]:
        """The worker's own answers at resource stages, oldest first."""
        marks = ", ".join("?" for _ in stages)
        async with self._read() as db:
            cursor = await db.execute(
                f"SELECT e.answer FROM entries e JOIN reflections r ON r.id = e.reflection_id "  # noqa: S608
                f"WHERE r.user_id = ? AND e.stage IN ({marks}) AND r.id != ? ORDER BY e.id",
                (user_id, *stages, exclude_reflection or 0),
            )
            rows = await cursor.fetchall()
            if not rows:
                return []
            sealer = await self._sealer(db, user_id)
            return [sealer.open(bytes(r[0]), _ANSWER) for r in rows]

    async def set_shared(self, user_id: int, reflection_id: int, shared: bool) -> bool:
        """Share a finished reflection with the supervisor, or take it back."""
        if shared:
            changed = await self._change(
                "UPDATE reflections SET shared_at = ?, opened_at = NULL WHERE id = ? AND "
                "user_id = ? AND status != 'active'",
                (now_iso(), reflection_id, user_id),
            )
        else:
            changed = await self._change(
                "UPDATE reflections SET shared_at = NULL, opened_at = NULL WHERE id = ? "
                "AND user_id = ?",
                (reflection_id, user_id),
            )
        return changed > 0

    # --- supervisors ---------------------------------------------------------------------
    async def claimed_supervisors(self) -> set[int]:
        async with self._read() as db:
            cursor = await db.execute("SELECT user_id FROM supervisors")
            return {int(r[0]) for r in await cursor.fetchall()}

    async def add_supervisor(self, user_id: int) -> None:
        await self._change(
            "INSERT INTO supervisors (user_id, claimed_at) VALUES (?, ?) "
            "ON CONFLICT(user_id) DO NOTHING",
            (user_id, now_iso()),
        )

    async def meta(self, key: str) -> str | None:
        async with self._read() as db:
            row = await _one(db, "SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            await self._change("DELETE FROM meta WHERE key = ?", (key,))
        else:
            await self._change(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def take_meta(self, key: str, expected: str) -> bool:
        """Delete a meta value only if it equals `expected` (a one-time code); True if so."""
        return (
            await self._change("DELETE FROM meta WHERE key = ? AND value = ?", (key, expected)) > 0
        )

    async def shared_page(
        self, supervisor_id: int, offset: int, limit: int
    ) -> tuple[list[SharedItem], int]:
        """Shared reflections this supervisor may read, and the total: grouped by worker (the
        one who shared most recently first), each worker's newest share first."""
        where = "r.shared_at IS NOT NULL AND (u.supervisor_id = ? OR u.supervisor_id IS NULL)"
        async with self._read() as db:
            total = await _one(
                db,
                f"SELECT COUNT(*) FROM reflections r JOIN users u ON u.id = r.user_id "  # noqa: S608
                f"WHERE {where}",
                (supervisor_id,),
            )
            cursor = await db.execute(
                f"SELECT {_REFLECTION_COLUMNS}, u.display_name FROM reflections r "  # noqa: S608
                f"JOIN users u ON u.id = r.user_id WHERE {where} "
                "ORDER BY MAX(r.shared_at) OVER (PARTITION BY r.user_id) DESC, r.user_id, "
                "r.shared_at DESC, r.id DESC LIMIT ? OFFSET ?",
                (supervisor_id, limit, offset),
            )
            items = [
                await self._shared_item(db, row, with_entries=False)
                for row in await cursor.fetchall()
            ]
        return items, int(total[0]) if total else 0

    async def shared_item(
        self, supervisor_id: int, reflection_id: int, *, mark_opened: bool
    ) -> SharedItem | None:
        """One shared reflection if this supervisor may read it; notes the first opening."""
        sql = (
            f"SELECT {_REFLECTION_COLUMNS}, u.display_name FROM reflections r "  # noqa: S608
            "JOIN users u ON u.id = r.user_id WHERE r.id = ? AND r.shared_at IS NOT NULL "
            "AND (u.supervisor_id = ? OR u.supervisor_id IS NULL)"
        )

        def work(conn: sqlite3.Connection) -> sqlite3.Row | None:
            row = _first(conn, sql, (reflection_id, supervisor_id))
            if row is not None and mark_opened and row[8] is None:
                conn.execute(
                    "UPDATE reflections SET opened_at = ? WHERE id = ?", (now_iso(), reflection_id)
                )
            return row

        row = await self._transact(work)
        if row is None:
            return None
        async with self._read() as db:
            return await self._shared_item(db, row, with_entries=True)

    async def shared_since(self, supervisor_id: int, since: str) -> list[SharedItem]:
        """Everything this supervisor may read that was shared at or after `since`."""
        async with self._read() as db:
            cursor = await db.execute(
                f"SELECT {_REFLECTION_COLUMNS}, u.display_name FROM reflections r "  # noqa: S608
                "JOIN users u ON u.id = r.user_id WHERE r.shared_at IS NOT NULL AND "
                "r.shared_at >= ? AND (u.supervisor_id = ? OR u.supervisor_id IS NULL) "
                "ORDER BY r.user_id, r.shared_at",
                (since, supervisor_id),
            )
            return [
                await self._shared_item(db, row, with_entries=True)
                for row in await cursor.fetchall()
            ]

    async def _shared_item(
        self, db: aiosqlite.Connection, row: sqlite3.Row, *, with_entries: bool
    ) -> SharedItem:
        reflection = await self._reflection(db, row)
        sealer = await self._sealer(db, reflection.user_id)
        name = sealer.open(bytes(row[_EXTRA]), _NAME) if row[_EXTRA] is not None else ""
        entries = (
            await self._entries(db, reflection.user_id, reflection.id) if with_entries else []
        )
        return SharedItem(reflection, reflection.user_id, name, tuple(entries))

    async def last_digest(self, supervisor_id: int) -> str | None:
        async with self._read() as db:
            row = await _one(
                db, "SELECT last_digest_at FROM supervisors WHERE user_id = ?", (supervisor_id,)
            )
        return None if row is None or row[0] is None else str(row[0])

    async def set_last_digest(self, supervisor_id: int, when: str) -> None:
        await self._change(
            "INSERT INTO supervisors (user_id, claimed_at, last_digest_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET last_digest_at = excluded.last_digest_at",
            (supervisor_id, when, when),
        )

    async def create_invite(self, supervisor_id: int, code_hash: str, expires_at: str) -> None:
        await self._change(
            "INSERT INTO invites (code_hash, supervisor_id, created_at, expires_at) "
            "VALUES (?, ?, ?, ?)",
            (code_hash, supervisor_id, now_iso(), expires_at),
        )

    async def invite_open(self, code_hash: str) -> bool:
        async with self._read() as db:
            row = await _one(
                db,
                "SELECT 1 FROM invites WHERE code_hash = ? AND used_by IS NULL AND expires_at > ?",
                (code_hash, now_iso()),
            )
        return row is not None

    async def redeem_invite(self, code_hash: str, user_id: int) -> int | None:
        """Use an unexpired, unused invite; return its supervisor, tied to the user."""

        def work(conn: sqlite3.Connection) -> int | None:
            row = _first(
                conn,
                "SELECT supervisor_id FROM invites WHERE code_hash = ? AND used_by IS NULL "
                "AND expires_at > ?",
                (code_hash, now_iso()),
            )
            if row is None:
                return None
            conn.execute(
                "UPDATE invites SET used_by = ?, used_at = ? WHERE code_hash = ?",
                (user_id, now_iso(), code_hash),
            )
            conn.execute("UPDATE users SET supervisor_id = ? WHERE id = ?", (int(row[0]), user_id))
            return int(row[0])

        return await self._transact(work)

    async def integrity_check(self) -> str:
        async with self._read() as db:
            row = await _one(db, "PRAGMA integrity_check", ())
        return str(row[0]) if row else "no answer"


_REFLECTION_COLUMNS = (
    "r.id, r.user_id, r.theme, r.status, r.state, r.started_at, r.ended_at, r.shared_at, "
    "r.opened_at, r.kind"
)
_EXTRA = 10  # index of the first column a query adds after _REFLECTION_COLUMNS
_INSERT_ENTRY = (
    "INSERT INTO entries (reflection_id, question_id, stage, question, answer, scale, "
    "continued, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _entry_values(sealer: Sealer, entry: NewEntry, now: str) -> tuple[object, ...]:
    """An answer's row for _INSERT_ENTRY after the reflection id, its texts sealed."""
    return (
        entry.question_id,
        entry.stage,
        sealer.seal(entry.question, _QUESTION),
        sealer.seal(entry.answer, _ANSWER),
        entry.scale,
        int(entry.continued),
        now,
    )


def _build_reflection(sealer: Sealer, row: sqlite3.Row) -> Reflection:
    """A row of _REFLECTION_COLUMNS, its state opened."""
    return Reflection(
        id=int(row[0]),
        user_id=int(row[1]),
        theme=None if row[2] is None else str(row[2]),
        status=str(row[3]),
        state=sealer.open(bytes(row[4]), _STATE),
        started_at=str(row[5]),
        ended_at=None if row[6] is None else str(row[6]),
        shared_at=None if row[7] is None else str(row[7]),
        opened_at=None if row[8] is None else str(row[8]),
        kind=str(row[9]),
    )


_REMINDER_COLUMNS = "user_id, weekdays, hour, timezone, paused, skip_next"


def _reminder(row: sqlite3.Row) -> Reminder:
    days = frozenset(int(d) for d in str(row[1]).split(",") if d)
    return Reminder(int(row[0]), days, int(row[2]), str(row[3]), bool(row[4]), bool(row[5]))


async def _find(
    db: aiosqlite.Connection, where: str, params: tuple[object, ...]
) -> sqlite3.Row | None:
    """One reflection row, read through aiosqlite."""
    return await _one(db, _reflection_query(where), params)


def _reflection_query(where: str) -> str:
    """At most one row of _REFLECTION_COLUMNS; `where` is a constant condition of this module.

    LIMIT 1: the row is read to the end of its statement, and some conditions (with ORDER BY)
    match many of a user's reflections."""
    return f"SELECT {_REFLECTION_COLUMNS} FROM reflections r WHERE {where} LIMIT 1"  # noqa: S608


_Mode = Literal["alone", "first", "join"]


def _first(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> sqlite3.Row | None:
    """The first row, the statement read to its end: one left mid-way would block the COMMIT."""
    rows: list[sqlite3.Row] = conn.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _report_failed_commit(committed: asyncio.Future[None]) -> None:
    """For a write nobody waits on: log a failed commit (its type only) instead of dropping it."""
    if not committed.cancelled() and committed.exception() is not None:
        log.warning("commit_failed error=%s", type(committed.exception()).__name__)


def _step(conn: sqlite3.Connection, work: Work[T], mode: _Mode) -> T:
    """On the database thread: `work` in a transaction of its own ("alone" commits it,
    "first" leaves it open for others to join) or in a savepoint of the open one ("join")."""
    conn.execute("SAVEPOINT step" if mode == "join" else "BEGIN IMMEDIATE")
    try:
        result = work(conn)
        if mode == "join":
            conn.execute("RELEASE step")
        elif mode == "alone":
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # else SQLite has already undone the transaction itself
            if mode == "join":
                conn.execute("ROLLBACK TO step")
                conn.execute("RELEASE step")
            else:
                conn.execute("ROLLBACK")
        raise
    return result


async def _on_thread(db: aiosqlite.Connection, call: Work[T]) -> T:
    """`call(connection)` on aiosqlite's database thread, in one trip.

    Every aiosqlite method is one such trip through `Connection._execute`, which is not public;
    pyproject bounds aiosqlite's version for that, and tests/test_storage.py checks the thread.
    """
    execute = cast(Callable[..., Awaitable[Any]], db._execute)
    return cast(T, await execute(call, db._conn))


async def _finish(trip: Awaitable[T]) -> T:
    """Await a trip; if the caller is cancelled meanwhile, still wait for the trip to end, so
    what the caller does next (release the connection) follows what the thread really did."""
    task = asyncio.ensure_future(trip)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait({task})
        raise


async def _user_version(db: aiosqlite.Connection) -> int:
    row = await _one(db, "PRAGMA user_version", ())
    return int(row[0]) if row else 0


async def _one(
    db: aiosqlite.Connection, sql: str, params: tuple[object, ...]
) -> sqlite3.Row | None:
    """The first row, in one trip to the database thread (not three: execute, fetch, close)."""
    rows = await db.execute_fetchall(sql, params)
    return next(iter(rows), None)


def _claim(conn: sqlite3.Connection, update_id: int) -> bool:
    """Mark an update handled (on the database thread); False if it was handled before."""
    cursor = conn.execute(
        "INSERT INTO handled_updates (update_id, handled_at) VALUES (?, ?) "
        "ON CONFLICT(update_id) DO NOTHING",
        (update_id, now_iso()),
    )
    if cursor.rowcount == 0:
        return False
    if update_id % 1000 == 0:
        conn.execute(
            "DELETE FROM handled_updates WHERE update_id < ?", (update_id - _KEEP_UPDATES,)
        )
    return True
