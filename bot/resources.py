"""The resource bank: the worker's own earlier sentences about what helped. Pure."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

# Stages whose answers tell what helped, what went well, what keeps the worker going.
RESOURCE_STAGES = ("resources", "scaling_followup", "scaling_zero", "scaling_top")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
MIN_CHARS = 8
MAX_CHARS = 300


def sentences(answers: Iterable[str]) -> list[str]:
    """Whole sentences of the answers, exactly as written, that are fit to quote back."""
    found = []
    for answer in answers:
        for match in _SENTENCE.finditer(answer):
            sentence = match.group(0).strip()
            if MIN_CHARS <= len(sentence) <= MAX_CHARS and any(c.isalpha() for c in sentence):
                found.append(sentence)
    return found


def pick(candidates: Sequence[str], seed: int, avoid: str | None = None) -> str | None:
    """One sentence, chosen reproducibly for a seed, other than `avoid` when possible."""
    pool = [s for s in candidates if s != avoid] or list(candidates)
    if not pool:
        return None
    return random.Random(seed).choice(pool)  # noqa: S311 - not for security
