"""The word vocabulary both packages read text with: folding, stems, words, stopwords, one-line prose.

Pure functions (the stemmer loads once, lazily). The lowest layer: it imports nothing of the project,
and `index/` and `qa/` both use it, so a word means the same thing in BM25, the answerer and a citation.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

WORD = re.compile(r"[A-Za-z0-9À-ÿ]+(?:'[A-Za-z]+)?")
# The answerer's stopwords (words that carry no content in a question or a claim). BM25 keeps its own
# English list (bm25s "en"): the index's tokens, and so every retrieval figure, were measured with it.
STOPWORDS = frozenset(
    """a an the and or but of to in on at by for with from as is are was were be been being it its this
    that these those he she they them his her their him we you i me my our your who whom whose what which
    when where why how do does did has have had not no so than then there here into about over also
    will would can could should may might must say said says""".split()
)
_STEMMER = None


def stemmer():
    """English Snowball stems (PyStemmer), shared by BM25 and the answerer's word overlap."""
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def fold(text: str) -> str:
    """`text` without accents ("Möngke" -> "Mongke", "Hervé" -> "Herve"), so a name typed either
    way meets the other. Other scripts keep their letters (NFC puts Hangul back together)."""
    if text.isascii():
        return text
    # NFKD also reads a ligature as its letters ("ﬁ" -> "fi"); a soft hyphen joins its word's halves
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c) and c != "\u00ad")
    return unicodedata.normalize("NFC", bare)


def plain_apostrophes(text: str) -> str:
    """A typographic apostrophe read as a plain one, so "China’s" and "China's" are one word (same length)."""
    return text.replace("’", "'")


def word_spans(text: str, content_only: bool = False) -> np.ndarray:
    """Where `text`'s words (or only its content words) lie: (start, end) character offsets, one row per word."""
    words = [(m.start(), m.end()) for m in WORD.finditer(plain_apostrophes(text))
             if not (content_only and m.group().lower() in STOPWORDS)]
    return np.array(words, dtype=np.int64).reshape(-1, 2)


def content_words(text: str) -> list[str]:
    """The words of `text` that carry content, lower-cased and without accents (as BM25 reads them)."""
    return [w for w in (t.lower() for t in WORD.findall(fold(plain_apostrophes(text)))) if w not in STOPWORDS]


def content_stems(text: str) -> set[str]:
    """The content words of `text`, stemmed as BM25 stems them ("described" and "describe" meet)."""
    return set(stemmer().stemWords(content_words(text)))


def stem_overlap(claim: set[str], quote: set[str], weights: dict[str, float] | None = None) -> float:
    """Share of the claim's stems that the quote has; with `weights`, a weighted share (a stem
    without a weight counts 1)."""
    weight = (weights or {}).get
    total = sum(weight(s, 1.0) for s in claim)
    return sum(weight(s, 1.0) for s in claim & quote) / total if total else 0.0


def word_overlap(claim: str, quote: str) -> float:
    """Share of the claim's content words (stemmed) that the quote contains."""
    return stem_overlap(content_stems(claim), content_stems(quote))


def one_line(text: str) -> str:
    """Text with each run of whitespace, line breaks too, read as one space: how a sentence that a
    document wraps across lines is shown (its span, and so a citation's quote, keeps them)."""
    return " ".join(text.split())


# Markdown's marks around words, which an answer reads without: a link's target ("[the docs](https://...)",
# "[`exec()`][]", "[spec][MIME]") and strong emphasis ("**Requests**").
_MD_LINK = re.compile(r"""(?<![\w\])])\[([^\]\n]+)\](?:\((?:[^()\s]|\([^()\s]*\))*\)|\[[^\]\n]*\])""")
_MD_STRONG = re.compile(r"""(\*\*|__)(?=\S)(.+?)(?<=\S)\1""")
# A hyphen at a line's end between two words: the compound's own hyphen ("self-\nattention"), as a
# word hyphenated only to fit the line comes from PDFs as a soft hyphen (index/pdf.py).
_LINE_END_HYPHEN = re.compile(r"""(?<=\w)-[ \t]*\n\s*(?=\w)""")


def as_prose(text: str) -> str:
    """How a sentence reads in an answer: on one line (`one_line`), a word hyphenated across a line
    end as one word, and a Markdown link or strong emphasis as its words ("[official
    documentation](https://...)" -> "official documentation"). A citation's quote keeps the
    document's characters."""
    text = _LINE_END_HYPHEN.sub("-", text.replace("\u00ad", ""))
    return _MD_STRONG.sub(r"\2", _MD_LINK.sub(r"\1", one_line(text)))
