"""Splitting: text -> sentences and chunks that keep their exact character offsets.

Pure functions only. Every span is `(start, end)` into the document's extracted text, so
`text[start:end]` is always the chunk or sentence verbatim (LangChain's `add_start_index` finds
offsets by searching for the chunk text, which goes wrong with overlap and repeated text).

Chunks are packed from whole sentences, and their boundaries are content-defined: a chunk may
close after a sentence whose hash says so (once it has a minimum size), so an edit in the middle
of a long file changes only the chunks around it, and later boundaries fall where they did before.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a plausible start.
_SENT_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9À-Ý])""")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "no", "inc",
    "ltd", "co", "corp", "gen", "col", "lt", "sgt", "capt", "rev", "gov", "sen", "rep", "u.s",
    "u.k", "u.n", "fig", "al", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "ca", "cf", "viz", "vol", "pp",
}
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_abbreviation(text: str, dot: int, line_start: int) -> bool:
    """Is the '.' at `dot` the end of an abbreviation or an initial rather than of a sentence?"""
    i = dot
    while i > line_start and not text[i - 1].isspace():
        i -= 1
    word = text[i:dot].lower().lstrip("(\"'“‘")
    if len(word) == 1 and word.isalpha():  # an initial: "J. Smith"
        return True
    return word in _ABBREV


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of `text[start:end]`. Newlines end sentences too (headings, list items)."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        ls, le = start + line.start(), start + line.end()
        cur = ls
        for m in _SENT_END.finditer(text, ls, le):
            if text[m.start()] == "." and m.end() - m.start() == 1 and _is_abbreviation(text, m.start(), ls):
                continue
            s, e = _strip(text, cur, m.end())
            if e > s:
                spans.append(Span(s, e))
            cur = m.end()
        s, e = _strip(text, cur, le)
        if e > s:
            spans.append(Span(s, e))
    return spans


def _hard_split(text: str, span: Span, max_words: int) -> list[Span]:
    """A sentence longer than `max_words` (a 50 MB single line) -> pieces of at most max_words words."""
    words = list(_WORD.finditer(text, span.start, span.end))
    return [
        Span(words[i].start(), words[min(i + max_words, len(words)) - 1].end())
        for i in range(0, len(words), max_words)
    ]


def _closes_chunk(sentence: str) -> bool:
    """Content-defined boundary: about one sentence in three may close a chunk."""
    return hashlib.blake2b(sentence.encode(), digest_size=2).digest()[0] % 3 == 0


def _words(text: str, span: Span) -> int:
    return sum(1 for _ in _WORD.finditer(text, span.start, span.end))


def chunk_spans(
    text: str,
    start: int = 0,
    max_words: int = 120,
    overlap_sentences: int = 0,
    min_words: int | None = None,
    end: int | None = None,
) -> list[Span]:
    """Chunks of `text[start:end]`, each a run of whole sentences of at most `max_words` words
    (a longer sentence is split on word boundaries), neighbours sharing `overlap_sentences`."""
    min_words = max_words // 2 if min_words is None else min_words
    sentences: list[Span] = []
    for s in split_sentences(text, start, end):
        sentences.extend(_hard_split(text, s, max_words) if _words(text, s) > max_words else [s])
    counts = [_words(text, s) for s in sentences]
    chunks: list[Span] = []
    i = 0
    while i < len(sentences):
        j, words = i, 0
        while j < len(sentences):
            if j > i and words + counts[j] > max_words:
                break
            words += counts[j]
            j += 1
            if words >= min_words and _closes_chunk(text[sentences[j - 1].start : sentences[j - 1].end]):
                break
        chunks.append(Span(sentences[i].start, sentences[j - 1].end))
        if j >= len(sentences):
            break
        # Overlap: the next chunk repeats the last sentence(s), unless that would not advance.
        i = max(j - overlap_sentences, i + 1)
    return chunks


def chunk_id(source: str, chunk_text: str, occurrence: int = 0) -> str:
    """Identity of a chunk is its source and its text (offsets are metadata, updated in place)."""
    h = hashlib.sha256(f"{source}\x00{occurrence}\x00{chunk_text}".encode()).hexdigest()
    return h[:32]
