"""Pick the worker's own words for clean-language echoes; spot cues and scale numbers. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Breaks between clauses: an echo never spans one of these.
_CLAUSE_BREAK = re.compile(r"[.!?;:,()\[\]\"“”«»…–—\n]")
_SCALE = re.compile(r"(?<![\d.,])(10|[0-9])(?:[.,][0-9]+)?(?![\d])")
MAX_WORDS = 4
MAX_CHARS = 60
_MIN_WORD = 3
_CUE_BONUS = 8


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int


def words(text: str) -> list[str]:
    """Lower-cased words of a text, digits and punctuation left out."""
    return [m.group(0).lower() for m in _WORD.finditer(text)]


def detect_cue(text: str, cues: Mapping[str, Iterable[str]]) -> str | None:
    """The first cue (in mapping order) whose word stem starts a word of the text."""
    lowered = words(text)
    for cue, stems in cues.items():
        if any(word.startswith(stem) for word in lowered for stem in stems):
            return cue
    return None


def find_scale(text: str) -> int | None:
    """The first whole number 0–10 written in the text, if any."""
    match = _SCALE.search(text)
    return int(match.group(1)) if match else None


def _runs(text: str, stopwords: frozenset[str]) -> list[list[_Word]]:
    runs: list[list[_Word]] = []
    start = 0
    for clause in [*_CLAUSE_BREAK.finditer(text), None]:
        end = clause.start() if clause else len(text)
        current: list[_Word] = []
        for m in _WORD.finditer(text, start, end):
            word = _Word(m.group(0), m.start(), m.end())
            if word.text.lower() in stopwords or len(word.text) < _MIN_WORD:
                if current:
                    runs.append(current)
                current = []
            else:
                current.append(word)
        if current:
            runs.append(current)
        start = clause.end() if clause else len(text)
    return runs


def salient_phrase(
    text: str,
    stopwords: frozenset[str],
    cue_stems: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> str | None:
    """The worker's own phrase to echo: a run of content words, quoted exactly as written.

    Runs of consecutive content words inside one clause are scored by their length and by cue
    words (feelings, successes); the best run not already echoed wins, earliest on a tie.
    """
    stems = tuple(cue_stems)
    used = {e.lower() for e in exclude}
    best: tuple[int, str] | None = None
    for run in _runs(text, stopwords):
        for size in range(min(MAX_WORDS, len(run)), 0, -1):
            for first in range(len(run) - size + 1):
                window = run[first : first + size]
                phrase = text[window[0].start : window[-1].end]
                if len(phrase) > MAX_CHARS or phrase.lower() in used:
                    continue
                score = sum(min(len(w.text), 10) for w in window)
                if any(w.text.lower().startswith(s) for w in window for s in stems):
                    score += _CUE_BONUS
                if best is None or score > best[0]:
                    best = (score, phrase)
    return best[1] if best else None
