"""Online backup of the database with SQLite's backup API; safe while the bot runs."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class BackupError(Exception):
    """The source is missing, or the copy failed its integrity check."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    pages: int
    integrity: str


def backup_database(source: Path, target: Path) -> BackupResult:
    """Copy a live WAL database page by page into `target` (mode 0600) and check the copy.

    The copy holds only sealed texts, like the original; it is readable only together with
    the master key, which must be backed up separately.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no database here")
    if target.exists():
        raise BackupError(f"{target}: already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=256)
        dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        integrity = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    finally:
        dst.close()
        src.close()
    if integrity != "ok":
        raise BackupError(f"{target}: integrity check of the copy failed ({integrity})")
    return BackupResult(target, target.stat().st_size, pages, integrity)
