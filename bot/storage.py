"""SQLite repository (aiosqlite): migrations by PRAGMA user_version, WAL, one writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

# Each entry moves the schema one version up; never edit a released step, append a new one.
MIGRATIONS: Sequence[str] = (
    # 1: users, reflections and the answers in them
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,              -- Telegram user id
        language TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE reflections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        theme TEXT,
        status TEXT NOT NULL CHECK (status IN ('active', 'finished', 'cancelled')),
        state TEXT NOT NULL,                 -- the dialogue engine's state as JSON
        started_at TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE INDEX reflections_by_user ON reflections(user_id, started_at);
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        reflection_id INTEGER NOT NULL REFERENCES reflections(id) ON DELETE CASCADE,
        question_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
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
)
SCHEMA_VERSION = len(MIGRATIONS)
# Telegram hands out update ids in increasing order; far older ids can be forgotten.
_KEEP_UPDATES = 10_000


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Storage:
    """The only place that speaks SQL. Every write is one `BEGIN IMMEDIATE` transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # --- life cycle ----------------------------------------------------------------------
    async def open(self, *, target_version: int = SCHEMA_VERSION) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = FULL")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA busy_timeout = 5000")
            await self._migrate(db, target_version)
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

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

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One writer at a time, inside a single immediate transaction."""
        async with self._read() as db:
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.rollback()
                raise
            await db.commit()

    # --- users ---------------------------------------------------------------------------
    async def ensure_user(self, user_id: int, language: str) -> str:
        """Create the user on first contact; return their stored language."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO users (id, language, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                (user_id, language, _now()),
            )
            row = await _one(db, "SELECT language FROM users WHERE id = ?", (user_id,))
        return str(row[0]) if row else language

    # --- reflections ---------------------------------------------------------------------
    async def active_reflection(self, user_id: int) -> Reflection | None:
        async with self._read() as db:
            row = await _find(db, "user_id = ? AND status = 'active'", (user_id,))
        return _reflection(row) if row else None

    async def reflection(self, user_id: int, reflection_id: int) -> Reflection | None:
        """A reflection only if it belongs to this user."""
        async with self._read() as db:
            row = await _find(db, "id = ? AND user_id = ?", (reflection_id, user_id))
        return _reflection(row) if row else None

    async def start_reflection(
        self,
        user_id: int,
        state: str,
        *,
        update_id: int | None = None,
        entry: NewEntry | None = None,
        status: str = "active",
        theme: str | None = None,
    ) -> Reflection | None:
        """Begin a reflection, ending any active one; None if this update was handled already.

        The first answer (when a plain message opened the reflection) is stored in the same
        transaction.
        """
        async with self._write() as db:
            if update_id is not None and not await _claim_update(db, update_id):
                return None
            now = _now()
            await db.execute(
                "UPDATE reflections SET status = 'cancelled', ended_at = ? "
                "WHERE user_id = ? AND status = 'active'",
                (now, user_id),
            )
            cursor = await db.execute(
                "INSERT INTO reflections (user_id, theme, status, state, started_at, ended_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, theme, status, state, now, None if status == "active" else now),
            )
            reflection_id = cursor.lastrowid
            assert reflection_id is not None
            if entry is not None:
                await _insert_entry(db, reflection_id, entry, now)
            row = await _find(db, "id = ?", (reflection_id,))
        assert row is not None
        return _reflection(row)

    async def record_step(
        self,
        reflection_id: int,
        state: str,
        *,
        update_id: int | None,
        entry: NewEntry | None = None,
        status: str = "active",
        theme: str | None = None,
    ) -> bool:
        """Store an answer and the new state together; False if the update was seen before."""
        async with self._write() as db:
            if update_id is not None and not await _claim_update(db, update_id):
                return False
            now = _now()
            if entry is not None:
                await _insert_entry(db, reflection_id, entry, now)
            await db.execute(
                "UPDATE reflections SET state = ?, status = ?, theme = COALESCE(?, theme), "
                "ended_at = CASE WHEN ? = 'active' THEN NULL ELSE ? END WHERE id = ?",
                (state, status, theme, status, now, reflection_id),
            )
        return True

    async def claim_update(self, update_id: int) -> bool:
        """Mark an update handled; False if it was handled before."""
        async with self._write() as db:
            return await _claim_update(db, update_id)

    async def cancel_active(self, user_id: int) -> Reflection | None:
        """End the user's active reflection, keeping its answers; return it."""
        async with self._write() as db:
            row = await _find(db, "user_id = ? AND status = 'active'", (user_id,))
            if row is None:
                return None
            await db.execute(
                "UPDATE reflections SET status = 'cancelled', ended_at = ? WHERE id = ?",
                (_now(), row[0]),
            )
        return _reflection(row)

    async def delete_reflection(self, user_id: int, reflection_id: int) -> bool:
        """Delete one of the user's reflections with its answers; False if not theirs."""
        async with self._write() as db:
            cursor = await db.execute(
                "DELETE FROM reflections WHERE id = ? AND user_id = ?", (reflection_id, user_id)
            )
            return cursor.rowcount > 0

    async def entries(self, user_id: int, reflection_id: int) -> list[Entry]:
        """Answers of a reflection, oldest first, only if it belongs to the user."""
        async with self._read() as db:
            cursor = await db.execute(
                "SELECT e.id, e.reflection_id, e.question_id, e.stage, e.question, e.answer, "
                "e.scale, e.continued, e.created_at FROM entries e JOIN reflections r "
                "ON r.id = e.reflection_id WHERE r.id = ? AND r.user_id = ? ORDER BY e.id",
                (reflection_id, user_id),
            )
            rows = await cursor.fetchall()
        return [
            Entry(
                int(r[0]),
                int(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                None if r[6] is None else int(r[6]),
                bool(r[7]),
                str(r[8]),
            )
            for r in rows
        ]

    async def integrity_check(self) -> str:
        async with self._read() as db:
            row = await _one(db, "PRAGMA integrity_check", ())
        return str(row[0]) if row else "no answer"


_REFLECTION = "id, user_id, theme, status, state, started_at, ended_at"


async def _find(
    db: aiosqlite.Connection, where: str, params: tuple[object, ...]
) -> sqlite3.Row | None:
    """One reflection row; `where` is always a constant condition written in this module."""
    sql = f"SELECT {_REFLECTION} FROM reflections WHERE {where}"  # noqa: S608 - constants only
    return await _one(db, sql, params)


def _reflection(row: sqlite3.Row) -> Reflection:
    return Reflection(
        id=int(row[0]),
        user_id=int(row[1]),
        theme=None if row[2] is None else str(row[2]),
        status=str(row[3]),
        state=str(row[4]),
        started_at=str(row[5]),
        ended_at=None if row[6] is None else str(row[6]),
    )


async def _user_version(db: aiosqlite.Connection) -> int:
    row = await _one(db, "PRAGMA user_version", ())
    return int(row[0]) if row else 0


async def _one(
    db: aiosqlite.Connection, sql: str, params: tuple[object, ...]
) -> sqlite3.Row | None:
    cursor = await db.execute(sql, params)
    row = await cursor.fetchone()
    await cursor.close()
    return row


async def _claim_update(db: aiosqlite.Connection, update_id: int) -> bool:
    cursor = await db.execute(
        "INSERT INTO handled_updates (update_id, handled_at) VALUES (?, ?) "
        "ON CONFLICT(update_id) DO NOTHING",
        (update_id, _now()),
    )
    if cursor.rowcount == 0:
        return False
    if update_id % 1000 == 0:
        await db.execute(
            "DELETE FROM handled_updates WHERE update_id < ?", (update_id - _KEEP_UPDATES,)
        )
    return True


async def _insert_entry(
    db: aiosqlite.Connection, reflection_id: int, entry: NewEntry, now: str
) -> None:
    await db.execute(
        "INSERT INTO entries (reflection_id, question_id, stage, question, answer, scale, "
        "continued, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reflection_id,
            entry.question_id,
            entry.stage,
            entry.question,
            entry.answer,
            entry.scale,
            int(entry.continued),
            now,
        ),
    )
