"""How the screening reads words: informal spellings folded, fillers, Indonesian affixes, and text
cut into words with their offsets. Rules 1 to 3 and 5 of bot.engine.screening's docstring."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Iterator, Mapping

__all__ = ["AFFIX_MIN", "CACHE_LIMIT", "CLITICS", "FILLERS", "FOLDS", "MAX_FILLERS", "PREFIXES", "SUFFIXES", "candidates", "fold", "normalise", "raw_words", "squeeze"]


# Informal spellings and abbreviations, folded in text and terms alike. Keys are written squeezed
# (see `squeeze`) and are looked up squeezed, so "gakkk" and "ngga" fold as well. Only whole words
# fold: "gak" is "tidak", but the "ga" inside "gaji" is left alone.
_FOLD_GROUPS: dict[str, tuple[str, ...]] = {
    "tidak": ("gak", "ga", "gk", "gag", "gax", "nggak", "ngga", "ngak", "enggak", "engga", "nda", "ndak", "tdk", "tak", "kagak", "kaga"),
    "ingin": ("pengen", "pingin", "pengin", "pingen", "kepengen", "kepingin", "pgn", "pngn", "pen"),
    "saja": ("aja", "aj", "ajah", "ajh"),
    "sudah": ("udah", "udh", "sdh", "dah", "uda", "udeh"),
    "aku": ("gw", "gue", "gua", "guwe", "ak", "aq", "sy", "saya", "sya", "ane", "ku"),
    "mau": ("mo", "mw", "mao", "maw"),
    "banget": ("bgt", "bngt", "bgd"),
    "yang": ("yg",),
    "dengan": ("dgn", "dg"),
    "karena": ("krn", "karna", "krna"),
    "tapi": ("tp", "tpi"),
    "lagi": ("lg", "lgi"),
    "sama": ("sm",),
    "belum": ("blm", "blom", "blum"),
    "bisa": ("bs", "bsa"),
    "tolong": ("tlg", "tlng", "tulung"),
    "sekarang": ("skrg", "skrng", "skr", "skrang", "sekarng"),
    "malam": ("mlm", "malem", "mlem"),
    "besok": ("bsk", "besuk"),
    "nanti": ("ntar", "ntr", "nnti"),
    "orang": ("org", "orng"),
    "orang tua": ("ortu",),
    "kemarin": ("kmrn", "kemaren", "kmaren"),
    "harus": ("hrs",),
    "jadi": ("jd", "jdi"),
    "benar": ("bener", "bnr"),
    "memang": ("emang", "emg", "mmg"),
    "tahun": ("thn",),
    "tahu": ("tau",),
    "umur": ("umr",),
    "tidur": ("tdr",),
    "bunuh diri": ("bundir",),
    "napas": ("nafas",),
    "hp": ("hape", "handphone", "henpon", "hengpong", "ponsel"),
    "utang": ("hutang",),
    "izin": ("ijin",),
    "paspor": ("pasport", "passport"),
    "ibu": ("mama", "mamah", "mamak", "emak", "mak", "nyokap", "bunda", "ibuk", "bu"),
    "ayah": ("papa", "papah", "bokap"),
    "adik": ("adek", "ade", "dek", "adk"),
    "kakak": ("kak", "kk", "kaka"),
    "dia": ("dy", "doi"),
    "mereka": ("mrk", "mrka"),
    "pakai": ("pake", "pakek"),
    "kalau": ("kalo", "klo", "klau"),
    "juga": ("jg",),
    "capek": ("cape", "capai"),
    "malas": ("males",),
    # English
    "cant": ("cannot",),
    "want to": ("wanna",),
    "going to": ("gonna",),
    "got to": ("gotta",),
    "you": ("u",),
    "your": ("ur",),
    "please": ("pls", "plz"),
    "because": ("cuz", "coz"),
    "tomorrow": ("tmr", "tmrw", "tomorow"),
    "tonight": ("tonite", "tonigt"),
}


def squeeze(word: str) -> str:
    """Every run of one repeated letter as a single letter; digits stay ("11" is not "1")."""
    return _DOUBLE.sub(r"\1", word) if _DOUBLE.search(word) else word


_DOUBLE = re.compile(r"([^\W\d_])\1+")
FOLDS: Mapping[str, tuple[str, ...]] = {
    squeeze(source): tuple(target.split()) for target, sources in _FOLD_GROUPS.items() for source in sources
}

# Words that may stand between two term words without breaking the phrase (after folding). Never
# a negation: "tidak" between the words changes what was said.
FILLERS = frozenset(
    squeeze(word)
    for word in (
        "aku kamu lu lo elo elu dia kami kita mereka ada ini itu tuh nih sih deh dong kok lah kan ya yah loh "
        "lho kali pun juga lagi sudah banget sekali sangat benar beneran rasanya kayaknya kayanya yang si "
        "mah nya ke sama pada kepada memang pula sedang "
        "i me my mine we us our you your he him his she her they them their it just really so very "
        "fucking fuckin fking fkn literally honestly actually seriously totally truly kinda all even "
        "the a an"
    ).split()
)
MAX_FILLERS = 2

# Affixes, see rule 3 of the module docstring. A prefix maps to how the root begins after it: ""
# for the root as is, a letter for a root whose first letter the nasal replaced (men+tahan=menahan).
PREFIXES: dict[str, tuple[str, ...]] = {
    "di": ("",), "ter": ("",), "ke": ("",), "se": ("",), "ber": ("",), "be": ("",), "per": ("",),
    "diper": ("",), "memper": ("",), "nge": ("",), "ng": ("", "k"),
    "me": ("",), "pe": ("",), "mem": ("", "p"), "pem": ("", "p"), "men": ("", "t"), "pen": ("", "t"),
    "meng": ("", "k"), "peng": ("", "k"), "meny": ("s", "c"), "peny": ("s", "c"),
    "ny": ("s", "c"), "m": ("p",), "n": ("t",),
}
_PREFIXES_BY_FIRST: dict[str, tuple[str, ...]] = {
    first: tuple(prefix for prefix in PREFIXES if prefix[0] == first) for first in {p[0] for p in PREFIXES}
}
CLITICS = ("nya", "ku", "mu", "lah", "kah", "pun", "s")
# Derivational suffix -> roots to try besides the bare rest: informal -in stands for -i or -kan, and
# English -ing/-ed/-es drop a final e ("taking" -> "take").
SUFFIXES: dict[str, tuple[str, ...]] = {
    "i": ("",), "an": ("",), "kan": ("",), "in": ("", "i", "kan"),
    "s": ("",), "es": ("", "e"), "ed": ("", "e"), "d": ("",), "ing": ("", "e"),
}
_SUFFIXES_BY_LAST: dict[str, tuple[str, ...]] = {
    last: tuple(suffix for suffix in SUFFIXES if suffix[-1] == last) for last in {s[-1] for s in SUFFIXES}
}
_CLITICS_BY_LAST: dict[str, tuple[str, ...]] = {
    last: tuple(clitic for clitic in CLITICS if clitic[-1] == last) for last in {c[-1] for c in CLITICS}
}
# Term words shorter than this take clitics only: "mau" must not turn up inside "kemauan".
AFFIX_MIN = 4
# Bounds the per-lexicon word cache; a hotline's vocabulary is far smaller.
CACHE_LIMIT = 50_000

_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+(?:['\u2019\u02bc`\u00b4](?:[^\W\d_]|[\u0300-\u036f])+)*|\d+")
_PIECE = re.compile(r"[^\W\d_]+|\d+")
_ASCII_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+")
_SPELLED_OUT = re.compile(r"\b[^\W\d_]\b[\W_]+\b[^\W\d_]\b[\W_]+\b[^\W\d_]\b")
_APOSTROPHES = re.compile(r"['\u2019\u02bc`\u00b4]")
_REPEAT3 = re.compile(r"([^\W\d_])\1{2,}")




def normalise(text: str) -> str:
    """The text as the screening reads it: folded words separated by single spaces (rule 1)."""
    words, _ = raw_words(text)
    return " ".join(folded for word in words for folded in fold(word))


def raw_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Lower-case words before folding, and the span of each in `text`."""
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    lowered = text.lower()
    if text.isascii():
        # The common case, kept fast: lower() keeps ASCII offsets, so spans come straight from the regex.
        for found in _ASCII_WORD.finditer(lowered):
            words.append(found.group())
            spans.append(found.span())
        if "'" in lowered:
            words[:] = [word.replace("'", "") for word in words]
    else:
        for found in _WORD.finditer(text):
            token = found.group()
            if token.isascii() and token.isalnum():
                words.append(token.lower())
                spans.append(found.span())
            else:
                for word, start, end in _pieces(token, *found.span()):
                    words.append(word)
                    spans.append((start, end))
    if "nya" in words or "2" in words:
        _attach(words, spans)
    if 1 in map(len, words) and _SPELLED_OUT.search(lowered):
        _join_spelled_out(words, spans)
    return words, spans


def _attach(words: list[str], spans: list[tuple[int, int]]) -> None:
    """In place: a free-standing "nya" joins the word before it, and a "2" typed right after a word
    repeats it ("anak2" is "anak anak")."""
    index = 1
    while index < len(words):
        word, previous = words[index], words[index - 1]
        if word == "nya" and previous.isalpha():
            words[index - 1 : index + 1] = [previous + word]
            spans[index - 1 : index + 1] = [(spans[index - 1][0], spans[index][1])]
            continue
        if word == "2" and previous.isalpha() and spans[index - 1][1] == spans[index][0]:
            words[index] = previous
            spans[index] = (spans[index - 1][0], spans[index][1])
        index += 1


def _pieces(token: str, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """A token with accents, apostrophes or odd letters: strip accents, fold case, split again."""
    plain = _APOSTROPHES.sub("", token)
    if not plain.isascii():
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.casefold()
    if len(plain) == len(token):
        for piece in _PIECE.finditer(plain):
            yield piece.group(), start + piece.start(), start + piece.end()
    else:
        # Offsets no longer line up character by character: every piece gets the token's span.
        for piece in _PIECE.finditer(plain):
            yield piece.group(), start, end


def _join_spelled_out(words: list[str], spans: list[tuple[int, int]]) -> None:
    """Joins 3+ single letters in a row, in place: "t o l o n g" is one word."""
    index = 0
    while index < len(words):
        run = index
        while run < len(words) and len(words[run]) == 1 and words[run].isalpha():
            run += 1
        if run - index >= 3:
            words[index:run] = ["".join(words[index:run])]
            spans[index:run] = [(spans[index][0], spans[run - 1][1])]
        index += 1


@functools.lru_cache(maxsize=8192)
def fold(word: str) -> tuple[str, ...]:
    """A raw word as normalised word(s): 3+ repeated letters collapsed, informal spelling folded."""
    if not _DOUBLE.search(word):
        return FOLDS.get(word) or (word,)
    word = _REPEAT3.sub(r"\1", word)
    return FOLDS.get(word) or FOLDS.get(squeeze(word)) or (word,)


def candidates(key: str) -> tuple[set[str], set[str]]:
    """Roots a squeezed text word may stand for: `light` with at most a clitic removed, `heavy`
    with derivational affixes removed too. All are squeezed."""
    light = {key}
    bases = [key]
    for clitic in _CLITICS_BY_LAST.get(key[-1], ()):
        if key.endswith(clitic) and len(key) > len(clitic) + 1:
            rest = key[: -len(clitic)]
            # Squeezing may have merged the clitic's first letter into the root: "tahanya" is "tahan-nya".
            for root in (rest, rest + clitic[0]):
                if root[-1:] != root[-2:-1]:
                    light.add(root)
                    bases.append(root)
    heavy: set[str] = set()
    if len(key) < AFFIX_MIN:
        return light, heavy
    stems = list(bases)
    for base in bases:
        for suffix in _SUFFIXES_BY_LAST.get(base[-1], ()):
            if base.endswith(suffix) and len(base) > len(suffix) + 1:
                rest = base[: -len(suffix)]
                for ending in SUFFIXES[suffix] + (suffix[0],):
                    root = rest + ending
                    if root[-1:] != root[-2:-1]:
                        stems.append(root)
    for stem in stems:
        heavy.add(stem)
        for prefix in _PREFIXES_BY_FIRST.get(stem[0], ()):
            if stem.startswith(prefix) and len(stem) > len(prefix) + 1:
                core = stem[len(prefix) :]
                for first in PREFIXES[prefix] + (prefix[-1],):
                    if first and core[0] == first:
                        continue
                    heavy.add(first + core)
    return light, heavy
