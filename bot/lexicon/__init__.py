"""The shipped risk-term lexicon and the one place that reads it from disk.

The screening itself (`bot.engine.screening`) is pure; this module does the file and YAML part and
turns every way the file can be broken into a `LexiconError` that names it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.engine.screening import Lexicon, LexiconError

__all__ = ["LEXICON_PATH", "Lexicon", "LexiconError", "load_lexicon"]

LEXICON_PATH = Path(__file__).resolve().with_name("risk_terms.yaml")


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read and compile a risk-term file; any problem raises `LexiconError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LexiconError(f"{path}: cannot read the lexicon: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise LexiconError(f"{path}: the lexicon is not UTF-8 text: {error.reason}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or error
        raise LexiconError(f"{where}: invalid YAML: {problem}") from None
    if document is None:
        raise LexiconError(f"{path}: the lexicon file is empty")
    return Lexicon.from_document(document, origin=str(path))
