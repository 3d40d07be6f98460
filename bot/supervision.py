"""Who is a supervisor, one-time claim codes, invite codes and digests. No Telegram, no SQL."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.storage import SharedItem, Storage, now_iso

CLAIM_KEY = "supervisor_claim_code"
INVITE_DAYS = 14


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Digest:
    items: list[SharedItem]
    since: str | None
    made_at: str


class Supervision:
    """Supervisors come from the configuration, or claim the role once with a printed code."""

    def __init__(self, storage: Storage, configured: frozenset[int]) -> None:
        self.storage = storage
        self.configured = configured
        self._claimed: set[int] | None = None

    async def supervisors(self) -> set[int]:
        if self._claimed is None:
            self._claimed = await self.storage.claimed_supervisors()
        return set(self.configured) | self._claimed

    async def is_supervisor(self, user_id: int) -> bool:
        return user_id in await self.supervisors()

    async def readers_of(self, worker_id: int) -> set[int]:
        """Supervisors who may read what this worker shares: the inviting one, else all."""
        assigned = await self.storage.supervisor_of(worker_id)
        return {assigned} if assigned is not None else await self.supervisors()

    async def new_claim_code(self) -> str | None:
        """A one-time code when no supervisor exists yet; None when one does."""
        if await self.supervisors():
            return None
        code = secrets.token_urlsafe(9)
        await self.storage.set_meta(CLAIM_KEY, _hash(code))
        return code

    async def claim(self, user_id: int, code: str) -> bool:
        """Become a supervisor with the printed code; the code works once."""
        if not code or not await self.storage.take_meta(CLAIM_KEY, _hash(code.strip())):
            return False
        await self.storage.add_supervisor(user_id)
        self._claimed = None
        return True

    async def create_invite(self, supervisor_id: int) -> str:
        """A single-use invite code for a deep link; kept only as a hash."""
        code = secrets.token_urlsafe(12)
        expires = (datetime.now(UTC) + timedelta(days=INVITE_DAYS)).isoformat(timespec="seconds")
        await self.storage.create_invite(supervisor_id, _hash(code), expires)
        return code

    async def invite_open(self, code: str) -> bool:
        """Whether a code is a known, unused and unexpired invite."""
        return 0 < len(code) <= 64 and await self.storage.invite_open(_hash(code))

    async def redeem_invite(self, user_id: int, code: str) -> int | None:
        """Tie the user to the inviting supervisor; None for unknown, used or old codes."""
        if not code or len(code) > 64:
            return None
        return await self.storage.redeem_invite(_hash(code), user_id)

    async def digest(self, supervisor_id: int, since: str | None) -> Digest:
        """What was shared since `since` (default: the last digest); remembers this one."""
        start = since if since is not None else await self.storage.last_digest(supervisor_id)
        made = now_iso()
        items = await self.storage.shared_since(supervisor_id, start or "")
        await self.storage.set_last_digest(supervisor_id, made)
        return Digest(items, start, made)
