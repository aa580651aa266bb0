"""Free-text risk screening: finds the protocol's risk terms in what volunteers type.

Volunteers write short notes and answers in informal Indonesian or English. A term found in them
proposes a risk flag (P0 terms escalate at once), so a missed P0 term is the worst failure here and
the matching leans towards recall; each lexicon entry's `except` phrases keep known false friends
("bunuh nyamuk", "mati lampu") quiet.

How text and terms are compared (both go through the same steps, so a maintainer may write a term
formally or informally):

1. Normalisation (`normalise`): accents, emoji and punctuation go; letters are case-folded; words
   split at every non-letter and between letters and digits ("15thn" -> "15 tahun"); apostrophes
   join ("can't" -> "cant"); runs of 3+ identical letters become one ("tolonggg" -> "tolong"); a
   free-standing "nya" joins the word before it ("HP-nya" -> "hpnya"); a "2" glued to a word repeats
   it ("anak2" -> "anak anak"); 3+ single letters in a row join ("m a t i" -> "mati"); informal
   spellings fold to one form (`FOLDS`: "gak" -> "tidak", "pengen" -> "ingin", "gw"/"saya" -> "aku",
   "bundir" -> "bunuh diri", ...).
2. Word keys: words are compared with every run of a repeated letter squeezed to one letter, so
   "matii", "tolongg" and "maaf"/"maf" meet their terms whether or not letters were repeated.
3. Affixes: a term word of 4+ letters also matches a text word built from it with Indonesian
   prefixes (di, ter, ke, se, ber, per, diper, memper, nge, me/pe with nasal sound change: mem,
   men, meng, meny, pem, pen, peng, peny, and informal m-/n-/ng-/ny-, as in "nahan" from "tahan",
   "nyekap" from "sekap"), suffixes (i, an, kan, in; informal -in also stands for -i and -kan;
   English s, es, ed, d, ing) and clitics (nya, ku, mu, lah, kah, pun). So "sekap" matches
   "disekap", "tersekap", "penyekapan", "nyekap" and "sekapnya". A shorter term word matches only
   itself plus a clitic ("mau" matches "maunya"). The rule is one way: the term word is the root.
   Write the root to catch every form ("tahan"), or a derived form to catch only it ("dipukul",
   which keeps "pukul 8" - eight o'clock - quiet).
4. Phrases: term words must follow one another; between two of them up to `MAX_FILLERS` filler
   words (`FILLERS`: pronouns, particles, intensifiers, articles) may appear, so "ingin mati"
   matches "pengen banget mati". Write terms without filler words where the text may leave them out.
5. Words typed together: one text word may stand for several consecutive term words ("bunuhdiri",
   "disini", "kepelabuhan"); a text word that matches nothing is also split into known words (term
   words, folded spellings, fillers; never affixes) when it can be ("pengenmati" -> "ingin mati").
6. `except`: a match is dropped when one of its entry's except phrases matches text words that
   overlap it, so an except phrase should contain (part of) the term: "bunuh nyamuk", "mati lampu".

The module is pure: no file or network I/O and no clock. `bot.lexicon` reads the YAML file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from bot.engine.flow import Level
from bot.engine.wording import (
    AFFIX_MIN,
    CACHE_LIMIT,
    CLITICS,
    FILLERS,
    FOLDS,
    MAX_FILLERS,
    PREFIXES,
    SUFFIXES,
    candidates,
    fold,
    normalise,
    raw_words,
    squeeze,
)

__all__ = ["FILLERS", "FOLDS", "LANGUAGES", "LEXICON_VERSION", "MAX_FILLERS", "Lexicon", "LexiconError", "Match", "normalise"]

LEXICON_VERSION = 1
LANGUAGES = frozenset({"id", "en"})
_ENTRY_KEYS = {"flag", "level", "language", "terms", "except"}
_REQUIRED_KEYS = ("flag", "level", "language", "terms")
_FLAG_ID = re.compile(r"^[a-z][a-z0-9_]{0,59}$")

class LexiconError(ValueError):
    """A lexicon document the screening cannot use; the message names its origin and entry."""


@dataclass(frozen=True)
class Match:
    """A risk term found in text. `start`/`end` are offsets of the matched words in the original
    text (end exclusive); words typed together or folded share their word's offsets."""

    flag: str
    level: Level
    term: str
    start: int
    end: int


@dataclass(frozen=True, eq=False)
class _Phrase:
    """A term or an except phrase, as squeezed word keys. Compared by identity."""

    order: int
    text: str
    keys: tuple[str, ...]
    # fused[j]: (k, "keys[j]..keys[k-1]" written together), longest first, for words typed together.
    fused: tuple[tuple[tuple[int, str], ...], ...]
    # What a text word must hit to stand for the last term word: a quick test that the phrase can end.
    last: frozenset[str]
    entry: int
    flag: str
    level: Level


@dataclass(frozen=True)
class _Word:
    """What the lexicon knows of one text word: the vocabulary keys it can stand for."""

    hits: frozenset[str]
    filler: bool
    pieces: tuple[str, ...] = ()


@dataclass
class _Tokens:
    """The text as words the lexicon knows: `words[i]` came from the raw word `origins[i]`."""

    words: list[_Word]
    origins: list[int]
    spans: list[tuple[int, int]]


_NOTHING = _Word(frozenset(), False)


class Lexicon:
    """Risk terms compiled for screening. Build it with `from_document`."""

    def __init__(self, phrases: list[_Phrase], excepts: dict[int, list[_Phrase]]) -> None:
        self._phrases = phrases
        self._excepts = excepts
        self._flags = {phrase.flag for phrase in phrases}
        self._levels = {phrase.flag: phrase.level for phrase in phrases}
        self._vocabulary: set[str] = set()
        self._starts: dict[str, list[_Phrase]] = {}
        for phrase in phrases + [p for group in excepts.values() for p in group]:
            self._vocabulary.update(phrase.keys)
            for options in phrase.fused:
                self._vocabulary.update(fused for _, fused in options)
        for phrase in phrases:
            for start in [phrase.keys[0]] + [fused for _, fused in phrase.fused[0]]:
                bucket = self._starts.setdefault(start, [])
                if phrase not in bucket:
                    bucket.append(phrase)
        # Pieces a word typed together may be split into (rule 5): term words, folded spellings and
        # fillers, but no affix, or "kemauan" would split into ke-mau-an and dodge the affix rules.
        affixes = set(PREFIXES) | set(SUFFIXES) | set(CLITICS)
        self._pieces = {key for key in self._vocabulary | set(FOLDS) | FILLERS if len(key) >= 2} - affixes
        # Memo of raw words and of start lookups; words repeat, and analysing one costs microseconds.
        self._expanded: dict[str, tuple[_Word, ...]] = {}
        self._starting_cache: dict[frozenset[str], tuple[_Phrase, ...]] = {}

    @classmethod
    def from_document(cls, document: Mapping[str, Any], origin: str = "<lexicon>") -> Lexicon:
        """Check and compile a lexicon document (the parsed YAML, see bot/lexicon/risk_terms.yaml)."""
        if not isinstance(document, Mapping):
            raise LexiconError(f"{origin}: the lexicon must be a mapping with 'version' and 'entries'")
        unknown = sorted(set(map(str, document)) - {"version", "entries"})
        if unknown:
            raise LexiconError(f"{origin}: unknown top-level key(s) {', '.join(map(repr, unknown))}")
        version = document.get("version")
        if version != LEXICON_VERSION or isinstance(version, bool):
            raise LexiconError(f"{origin}: unsupported version {version!r} (this code reads version {LEXICON_VERSION})")
        entries = document.get("entries")
        if not isinstance(entries, list) or not entries:
            raise LexiconError(f"{origin}: 'entries' must be a non-empty list")
        phrases: list[_Phrase] = []
        excepts: dict[int, list[_Phrase]] = {}
        levels: dict[str, tuple[Level, int]] = {}
        owners: dict[tuple[str, ...], tuple[str, int]] = {}
        for index, entry in enumerate(entries):
            where = f"{origin}: entries[{index}]"
            flag, level, terms, except_texts = _check_entry(entry, where)
            where = f"{where} (flag {flag!r})"
            if flag in levels and levels[flag][0] is not level:
                first_level, first_index = levels[flag]
                raise LexiconError(f"{where}: level {level.value} differs from {first_level.value} in entries[{first_index}]")
            levels.setdefault(flag, (level, index))
            for position, term in enumerate(terms):
                phrase = _compile(len(phrases), term, index, flag, level, f"{where}: terms[{position}]")
                owner = owners.setdefault(phrase.keys, (flag, index))
                if owner[0] != flag:
                    raise LexiconError(
                        f"{where}: term {term!r} is also a term of flag {owner[0]!r} in entries[{owner[1]}]"
                    )
                phrases.append(phrase)
            if except_texts:
                excepts[index] = [
                    _compile(-1, text, index, flag, level, f"{where}: except[{position}]")
                    for position, text in enumerate(except_texts)
                ]
        return cls(phrases, excepts)

    def flags(self) -> set[str]:
        """The flag ids this lexicon can propose."""
        return set(self._flags)

    def levels(self) -> dict[str, Level]:
        """The level the lexicon gives each of its flags (one per flag; checked when loading)."""
        return dict(self._levels)

    def screen(self, text: str) -> list[Match]:
        """Risk terms in `text`: the first match of each flag, most urgent level first."""
        tokens = self._tokens(text)
        words = tokens.words
        present = frozenset().union(*(word.hits for word in words if word.hits))
        found: dict[str, Match] = {}
        for index, word in enumerate(words):
            if not word.hits:
                continue
            for phrase in self._starting(word.hits):
                if phrase.flag in found or phrase.last.isdisjoint(present):
                    continue
                end = _match_at(phrase, words, index)
                if end is None or self._excepted(phrase, words, index, end):
                    continue
                start, stop = tokens.spans[tokens.origins[index]][0], tokens.spans[tokens.origins[end - 1]][1]
                found[phrase.flag] = Match(phrase.flag, phrase.level, phrase.text, start, stop)
            if len(found) == len(self._flags):
                break
        return sorted(found.values(), key=lambda match: (match.level.rank, match.start))

    def _starting(self, hits: frozenset[str]) -> tuple[_Phrase, ...]:
        """Terms that may start at a word with these hits, in lexicon order (so results are stable)."""
        phrases = self._starting_cache.get(hits)
        if phrases is None:
            unique = {id(phrase): phrase for hit in hits for phrase in self._starts.get(hit, ())}
            phrases = self._starting_cache[hits] = tuple(sorted(unique.values(), key=lambda phrase: phrase.order))
        return phrases

    def _excepted(self, phrase: _Phrase, words: list[_Word], start: int, end: int) -> bool:
        """True when an except phrase of the term's entry matches words overlapping start..end."""
        for exception in self._excepts.get(phrase.entry, ()):
            reach = len(exception.keys) * (MAX_FILLERS + 1)
            for begin in range(max(0, start - reach), end):
                if words[begin].hits:
                    stop = _match_at(exception, words, begin)
                    if stop is not None and stop > start:
                        return True
        return False

    def _tokens(self, text: str) -> _Tokens:
        raw, spans = raw_words(text)
        words: list[_Word] = []
        origins: list[int] = []
        expanded = self._expanded
        for index, word in enumerate(raw):
            parts = expanded.get(word)
            if parts is None:
                if len(expanded) >= CACHE_LIMIT:
                    expanded.clear()
                    self._starting_cache.clear()
                parts = expanded[word] = self._expand(word)
            if len(parts) == 1:
                words.append(parts[0])
                origins.append(index)
            else:
                words.extend(parts)
                origins.extend([index] * len(parts))
        return _Tokens(words, origins, spans)

    def _expand(self, raw: str) -> tuple[_Word, ...]:
        """A raw word as the words the lexicon sees: folded, and split if typed together."""
        parts: list[_Word] = []
        for word in fold(raw):
            info = self._analyse(word)
            parts.extend([self._analyse(piece) for piece in info.pieces] if info.pieces else [info])
        return tuple(parts)

    def _analyse(self, word: str) -> _Word:
        key = squeeze(word)
        light, heavy = candidates(key)
        hits = (light & self._vocabulary) | {stem for stem in heavy & self._vocabulary if len(stem) >= AFFIX_MIN}
        filler = key in FILLERS
        pieces: tuple[str, ...] = ()
        if not hits and len(key) >= 4 and key.isalpha():
            split = self._split(key)
            if split:
                pieces = tuple(folded for piece in split for folded in fold(piece))
        if not hits and not filler and not pieces:
            return _NOTHING
        return _Word(frozenset(hits), filler, pieces)

    def _split(self, key: str) -> tuple[str, ...] | None:
        """`key` as 2+ known words typed together (rule 5), longest first piece first."""
        memo: dict[int, tuple[str, ...] | None] = {}

        def rest(position: int) -> tuple[str, ...] | None:
            if position == len(key):
                return ()
            if position in memo:
                return memo[position]
            memo[position] = None
            for stop in range(len(key), position + 1, -1):
                piece = key[position:stop]
                if position == 0 and stop == len(key):
                    continue
                if piece in self._pieces or (stop == len(key) and _strip_clitic(piece) in self._pieces):
                    tail = rest(stop)
                    if tail is not None:
                        memo[position] = (piece,) + tail
                        break
            return memo[position]

        return rest(0)


def _strip_clitic(word: str) -> str:
    for clitic in CLITICS:
        if word.endswith(clitic) and len(word) > len(clitic) + 1:
            return word[: -len(clitic)]
    return word


def _match_at(phrase: _Phrase, words: list[_Word], index: int) -> int | None:
    """The word index just past `phrase` when it matches from word `index`, else None."""
    keys, fused = phrase.keys, phrase.fused
    term, position, skipped = 0, index, 0
    while term < len(keys):
        if position >= len(words):
            return None
        word = words[position]
        hits = word.hits
        step = 0
        for stop, joined in fused[term]:
            if joined in hits:
                step = stop - term
                break
        if not step and keys[term] in hits:
            step = 1
        if step:
            term += step
            skipped = 0
        elif term > 0 and word.filler and skipped < MAX_FILLERS:
            skipped += 1
        else:
            return None
        position += 1
    return position


def _check_entry(entry: Any, where: str) -> tuple[str, Level, list[str], list[str]]:
    if not isinstance(entry, Mapping):
        raise LexiconError(f"{where}: an entry must be a mapping with {', '.join(_REQUIRED_KEYS)}")
    unknown = sorted(set(map(str, entry)) - _ENTRY_KEYS)
    if unknown:
        raise LexiconError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    missing = [key for key in _REQUIRED_KEYS if key not in entry]
    if missing:
        raise LexiconError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")
    flag = entry["flag"]
    if not isinstance(flag, str) or not _FLAG_ID.match(flag):
        raise LexiconError(f"{where}: flag must be an id like 'immediate_danger', not {flag!r}")
    try:
        level = Level(entry["level"])
    except ValueError:
        raise LexiconError(f"{where}: unknown level {entry['level']!r} (use P0, P1, P2 or P3)") from None
    language = entry["language"]
    if not isinstance(language, str) or language not in LANGUAGES:
        raise LexiconError(f"{where}: unknown language {language!r} (use {' or '.join(sorted(LANGUAGES))})")
    terms = _strings(entry["terms"], f"{where}: terms", allow_empty=False)
    except_texts = _strings(entry.get("except", []), f"{where}: except", allow_empty=True)
    return flag, level, terms, except_texts


def _strings(value: Any, where: str, *, allow_empty: bool) -> list[str]:
    if not isinstance(value, list):
        raise LexiconError(f"{where} must be a list of phrases")
    if not value and not allow_empty:
        raise LexiconError(f"{where} is empty")
    for position, item in enumerate(value):
        if not isinstance(item, str):
            # YAML reads a bare `no`, `on` or `15` as a bool or a number.
            raise LexiconError(f"{where}[{position}]: {item!r} is not a string (quote it)")
    return list(value)


def _compile(order: int, text: str, entry: int, flag: str, level: Level, where: str) -> _Phrase:
    keys = tuple(squeeze(word) for word in normalise(text).split())
    if not keys:
        raise LexiconError(f"{where}: {text!r} has no letters or digits")
    fused = tuple(
        tuple((stop, "".join(keys[start:stop])) for stop in range(len(keys), start + 1, -1))
        for start in range(len(keys))
    )
    last = frozenset([keys[-1]] + [fused[start][0][1] for start in range(len(keys) - 1)])
    return _Phrase(order, text, keys, fused, last, entry, flag, level)
