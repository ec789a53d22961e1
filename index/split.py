"""Splitting: text -> sentences and chunks that keep their exact character offsets.

Pure functions only. Every span is `(start, end)` into the document's extracted text, so
`text[start:end]` is always the chunk or sentence verbatim (LangChain's `add_start_index` finds
offsets by searching for the chunk text, which goes wrong with overlap and repeated text).

A newline ends a sentence unless it only wraps a line of prose (`soft_break`): text files,
Markdown and PDF text layers are often wrapped at a fixed width, and a sentence cut at every line
end would make fragments of answers. Headings, list items, table rows and code stay lines.

Chunks are packed from whole sentences, and their boundaries are content-defined: a chunk may
close after a sentence whose hash says so (once it has a minimum size), so an edit in the middle
of a long file changes only the chunks around it, and later boundaries fall where they did before.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from index.structure import headings
from index.text import one_line

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a plausible start.
_SENT_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9À-Ý])""")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "no", "inc",
    "ltd", "co", "corp", "gen", "col", "lt", "sgt", "capt", "rev", "gov", "sen", "rep", "u.s",
    "u.k", "u.n", "fig", "al", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "ca", "cf", "viz", "vol", "pp",
}
_WORD = re.compile(r"\S+")
# Bump when a change here moves sentence or chunk boundaries, or a loader extracts other text: a
# file indexed under an earlier version is read and split again at the next index run, even if it
# has not changed.
SPLIT_VERSION = 7  # 7: PDF tables as Markdown rows
# A line that starts a block of its own: a list item ("- ", "2. ", "b) ", "(iv) "), a numbered
# heading ("1.2 Scope"), a Markdown heading, quote, table row, code fence or rule.
_BLOCK_START = re.compile(
    r"""\s*(?:[-*+•‣◦▪]\s|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcdmIVXLCDM]{2,6})[.)]\s|\d{1,3}(?:\.\d{1,3})+\.?\s+[A-Z]|[#>|]|```|~~~|[=_*-]{3,}\s*$)""")
# A field ("Version: 2.4", "Author: Ada Lumen"): two lines in a row that open so are a header's
# or front matter's, not wrapped prose ("... (Norman: Nourmands; French: Normands;" / "Latin: ...").
_FIELD = re.compile(r"""\s*[A-Z][\w-]{0,40}:(?:\s|$)""")
# An item's or a section's number: "2", "2.11".
_NUMBERING = re.compile(r"""\d{1,3}(?:\.\d{1,3})*""")
# A numbered heading: "2.11. Subclassing", "1.2 Scope" (short, and no sentence's end in it).
_NUMBERED_HEADING = r"""\s*\d{1,3}(?:\.\d{1,3})+\.?\s+[A-Z][^.!?]{0,50}$"""
# A line after which a newline is always hard: a heading, table row, fence or rule.
_HARD_LINE = re.compile(r"""\s*(?:#|\||```|~~~|[=_*-]{3,}\s*$)|.*\|\s*$|""" + _NUMBERED_HEADING)
# A line this long runs on into the next (wrap widths are 60-80); a shorter one does when the next
# line's first word would not have fitted on it (`soft_break`), and never below the floor.
LONG_LINE_CHARS = 60
SHORT_LINE_CHARS = 20


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
    if _NUMBERING.fullmatch(word) and not text[line_start:i].strip():  # a numbered item: "2. Basic Permissions.", "2.11. Subclassing"
        return True
    return word in _ABBREV


def soft_break(line: str, following: str, partial: bool = False) -> bool:
    """Whether the newline between two non-blank lines only wraps prose, so a sentence runs on
    across it. Not when `following` opens a block, `line` is a heading or a table row, or both are
    fields ("Name: qa-local" / "Version: 0.1"). Else
    when `line` is long, or `following`'s first word would not have fitted on it (a text wrapped
    at any width; a title such as "Version" is followed by a line longer than it and that word),
    or `line` holds a sentence's end, or `following` opens in lower case ("... given by the
    type" / "attribute."). A `partial` line, the end of a line where a chunk starts mid-line,
    counts as long: its whole line holds a sentence's end, and a chunk must split as its document.
    """
    if _HARD_LINE.match(line) or _BLOCK_START.match(following):
        return False
    if not partial and _FIELD.match(line) and _FIELD.match(following) and not _ends_inside(line):
        return False  # a partial line holds a sentence's end, so its whole line is no field either
    line, following = line.strip(), following.strip()
    if partial or following[:1].islower() or len(line) >= LONG_LINE_CHARS:
        return True
    if len(line) >= SHORT_LINE_CHARS and len(line) + 1 + len(following.split()[0]) > len(following):
        return True
    return _ends_inside(line)


def _ends_inside(line: str) -> bool:
    """Whether a sentence ends inside `line` (not at its end, where nothing follows to tell)."""
    return any(not _abbreviation_end(line, m) for m in _SENT_END.finditer(line))


def _abbreviation_end(text: str, m: re.Match, line_start: int = 0) -> bool:
    """Is `_SENT_END`'s match `m` the dot of an abbreviation, an initial or an item's number?"""
    return text[m.start()] == "." and m.end() - m.start() == 1 and _is_abbreviation(text, m.start(), line_start)


def _blocks(text: str, start: int, end: int, midline: bool) -> list[tuple[int, int]]:
    """`text[start:end]`'s runs of lines that soft breaks join, as (start, end) spans; `midline`:
    its first line is the end of a line."""
    runs: list[tuple[int, int]] = []
    prev: str | None = None  # the line just before, when it was not blank
    prev_start = -1
    ls = start
    while ls <= end:
        le = text.find("\n", ls, end)
        le = end if le < 0 else le
        line = text[ls:le]
        if not line.strip():
            prev = None
        else:
            if prev is not None and soft_break(prev, line, partial=midline and prev_start == start):
                runs[-1] = (runs[-1][0], le)
            else:
                runs.append((ls, le))
            prev, prev_start = line, ls
        ls = le + 1
    return runs


def split_sentences(text: str, start: int = 0, end: int | None = None, midline: bool | None = None) -> list[Span]:
    """Sentence spans of `text[start:end]`. Hard newlines end sentences too (headings, list items);
    a soft one (a wrapped line, `soft_break`) lies inside its sentence's span. `midline`: whether
    `text[start:]` starts in the middle of a line (a chunk's text alone cannot show it: see
    `starts_midline`); by default, whether `text` shows it does."""
    end = len(text) if end is None else end
    midline = starts_midline(text, start) if midline is None else midline
    spans: list[Span] = []
    for ls, le in _blocks(text, start, end, midline):
        cur = ls
        for m in _SENT_END.finditer(text, ls, le):
            if _abbreviation_end(text, m, ls):
                continue
            s, e = _strip(text, cur, m.end())
            if e > s:
                spans.append(Span(s, e))
            cur = m.end()
        s, e = _strip(text, cur, le)
        if e > s:
            spans.append(Span(s, e))
    return spans


# Markup that frames text and states nothing: a Markdown heading (or a code comment), a code
# fence, a rule or underline, a heading with its permalink sign (HTML docs: "Abstract¶") or its
# number ("2.11. Subclassing"); and a line underlined with "===" / "---" / "~~~" is a heading too.
_MARKUP = re.compile(r"""\s*(?:#{1,6}(?:\s|$)|```|~~~|([=_*~-])\1{2,}\s*$|[^\n]*¶\s*$)|""" + _NUMBERED_HEADING)
_UNDERLINED = re.compile(r"""[ \t]*\n[ \t]*([=~-])\1{2,}[ \t]*(?:\n|$)""")


def is_markup(sentence: str, after: str = "") -> bool:
    """Whether a sentence is a heading, rule or code fence (pure): it names a topic or frames a
    block, and answers nothing. `after`: the text that follows it, where an underline shows a heading."""
    one = "\n" not in sentence.strip()
    return (bool(_MARKUP.match(sentence)) or (one and bool(_UNDERLINED.match(after)))
            or (one and len(sentence) <= 80 and any(at == len(sentence) - len(sentence.lstrip()) for at, _ in headings(sentence))))


def field_value(sentence: str) -> str | None:
    """The value of a field ("Name: kettle" -> "kettle"), or None for anything else (pure)."""
    m = _FIELD.match(sentence)
    return sentence[m.end() :].strip() if m and "\n" not in sentence.strip() else None


def starts_midline(text: str, start: int) -> bool:
    """Whether `text[start:]` begins in the middle of a line of `text`, after something on it that
    is not indentation (pure)."""
    return bool(text[text.rfind("\n", 0, start) + 1 : start].strip())


def _hard_split(text: str, span: Span, max_words: int) -> list[Span]:
    """A sentence longer than `max_words` (a 50 MB single line) -> pieces of at most max_words words."""
    words = list(_WORD.finditer(text, span.start, span.end))
    return [
        Span(words[i].start(), words[min(i + max_words, len(words)) - 1].end())
        for i in range(0, len(words), max_words)
    ]


def _closes_chunk(sentence: str) -> bool:
    """Content-defined boundary: about one sentence in three may close a chunk. The sentence is
    hashed as one line, so a document and a re-wrapped copy of it draw the same chunks."""
    return hashlib.blake2b(one_line(sentence).encode(), digest_size=2).digest()[0] % 3 == 0


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
