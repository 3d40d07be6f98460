"""Pick the worker's own words for clean-language echoes; spot cues and scale numbers. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Breaks between clauses: an echo never spans one of these.
_CLAUSE_BREAK = re.compile(r"[.!?;:,()\[\]\"“”«»…–—\n]")
_SCALE = re.compile(r"(?<![\d.,])(10|[0-9])(?:[.,][0-9]+)?(?![\d])")
MAX_WORDS = 4
MAX_TOKENS = 6
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
        prefixes = tuple(stems)
        if any(word.startswith(prefixes) for word in lowered):
            return cue
    return None


def find_scale(text: str) -> int | None:
    """The first whole number 0–10 written in the text, if any."""
    match = _SCALE.search(text)
    return int(match.group(1)) if match else None


def _clauses(text: str) -> list[list[_Word]]:
    """The words of each clause; an echo never spans a clause break."""
    clauses: list[list[_Word]] = []
    start = 0
    for clause in [*_CLAUSE_BREAK.finditer(text), None]:
        end = clause.start() if clause else len(text)
        words_ = [_Word(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
        if words_:
            clauses.append(words_)
        start = clause.end() if clause else len(text)
    return clauses


def _spans(content: list[bool]) -> Iterator[tuple[int, int]]:
    """(first, last) word indexes of runs that start and end on content words, with single
    function words as glue inside, at most MAX_TOKENS words and MAX_WORDS content words."""
    for first in range(len(content)):
        if not content[first]:
            continue
        count = 0
        for last in range(first, min(len(content), first + MAX_TOKENS)):
            if last > first and not content[last - 1] and not content[last]:
                break  # two function words in a row end the run
            if content[last]:
                count += 1
                if count > MAX_WORDS:
                    break
                yield first, last


def _content(clause: list[_Word], stopwords: frozenset[str]) -> list[bool]:
    return [w.text.lower() not in stopwords and len(w.text) >= _MIN_WORD for w in clause]


def salient_phrase(
    text: str,
    stopwords: frozenset[str],
    cue_stems: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> str | None:
    """The worker's own phrase to echo, quoted exactly as written.

    Candidates are runs of up to four content words inside one clause, held together by at
    most single function words ("kukaan ei kuunnellut"). They are scored by the length of their
    content words and by cue words (feelings, successes); the best run not echoed yet wins,
    the earliest on a tie.
    """
    stems = tuple(cue_stems)
    used = {e.lower() for e in exclude}
    best: tuple[int, str] | None = None
    for clause in _clauses(text):
        content = _content(clause, stopwords)
        # per word, once: its points (content words only) and whether it starts with a cue
        points = [min(len(w.text), 10) if c else 0 for w, c in zip(clause, content, strict=True)]
        cued = [
            c and w.text.lower().startswith(stems) for w, c in zip(clause, content, strict=True)
        ]
        for first, last in _spans(content):
            phrase = text[clause[first].start : clause[last].end]
            if len(phrase) > MAX_CHARS or (used and phrase.lower() in used):
                continue
            score = sum(points[first : last + 1])
            if any(cued[first : last + 1]):
                score += _CUE_BONUS
            if best is None or score > best[0]:
                best = (score, phrase)
    return best[1] if best else None
