"""Citations: sentences of a source, how well a sentence is supported by one, and markers.

Pure functions over text, offsets and vectors (vectors come in from the caller):
- `passage_sentences`: the sentences of retrieved passages, with offsets into their source, and
  `previous_sentences`: the sentence before each;
- `parse_markers` / `strip_markers`: `[n]` markers in generated text;
- `word_overlap` and `support_score`: how much of a claim a quote covers, and `missing_specifics`:
  the names and numbers a claim states that its source does not;
- `check_generated`: a generated answer -> kept citations (markers to retrieved passages only,
  each claim checked against the passage it cites) and flagged, unsupported sentences.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.split import split_sentences
from index.text import STOPWORDS, WORD, fold, plain_apostrophes, stemmer, word_overlap
from qa.schema import Citation, Passage

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Sentence:
    passage: int  # index into the passages list
    start: int  # offsets into the source's extracted text
    end: int
    text: str


def passage_sentences(passages: list[Passage]) -> list[Sentence]:
    """Every sentence of the passages, once (overlapping chunks repeat sentences)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for i, p in enumerate(passages):
        for s in split_sentences(p.text, midline=p.midline):
            key = (p.source, p.start + s.start)
            if key in seen:
                continue
            seen.add(key)
            out.append(Sentence(i, p.start + s.start, p.start + s.end, p.text[s.start : s.end]))
    return out


def follows(prev: Sentence, cur: Sentence) -> bool:
    """`cur` is the sentence right after `prev` in the same passage."""
    return prev.passage == cur.passage and prev.end <= cur.start


def previous_sentences(sentences: list[Sentence], passages: list[Passage]) -> list[Sentence | None]:
    """The sentence just before each one in its source, where known: the one before it in its
    passage, or for a passage's first sentence the passage's lead (the chunk before's last sentence)."""
    out: list[Sentence | None] = []
    for j, cur in enumerate(sentences):
        p = passages[cur.passage]
        if j > 0 and follows(sentences[j - 1], cur):
            out.append(sentences[j - 1])
        elif p.lead_text is not None and p.lead_start is not None and not p.text[: cur.start - p.start].strip():
            out.append(Sentence(cur.passage, p.lead_start, p.lead_start + len(p.lead_text), p.lead_text))
        else:
            out.append(None)
    return out


_SPECIFIC = re.compile(r"\d[\d,.]*\d|\d|[^\W\d_][\w-]*")


def specifics(text: str) -> list[str]:
    """The names and numbers a sentence states (pure): its numbers, and its capitalised words but
    the first (which is capitalised as the sentence's start), folded and lower-cased, without a
    possessive; "1,000" reads as "1000"."""
    out = []
    for i, m in enumerate(_SPECIFIC.finditer(fold(plain_apostrophes(text)))):
        w = m.group()
        if w[0].isdigit():
            out.append(w.replace(",", "").rstrip("."))
        elif i and w[0].isupper() and len(w) > 1:
            out.append(re.sub(r"'s?$", "", w.lower()))
    return list(dict.fromkeys(out))


def missing_specifics(claim: str, source: str, prefix: int = 4) -> list[str]:
    """The claim's names and numbers that `source` does not state (pure): a claim may not add a
    name or a number to what it cites ("the Nationalist Party's Foreign Affairs Division" cited to a
    passage about the Communist Party's international affairs department). A name counts as
    stated when a word of the source starts with it or it with one, at least `prefix` letters long
    ("Palestine", "Palestinian"), or they share a stem."""
    words = {w.lower().replace(",", "") for w in _SPECIFIC.findall(fold(plain_apostrophes(source)))}
    stems = set(stemmer().stemWords(list(words)))

    def stated(x: str) -> bool:
        if x in words or (not x[0].isdigit() and stemmer().stemWord(x) in stems):
            return True
        return not x[0].isdigit() and len(x) >= prefix and any(
            len(w) >= prefix and (w.startswith(x) or x.startswith(w)) for w in words)

    return [x for x in specifics(claim) if not stated(x)]


def support_score(cosine: float, overlap: float) -> float:
    """Support of a claim by a quote: embedding similarity and word overlap, equally weighted."""
    return 0.5 * max(cosine, 0.0) + 0.5 * overlap


def parse_markers(text: str) -> list[tuple[str, list[int]]]:
    """Generated text -> [(sentence without markers, [marker numbers])]. Markers attach to the
    sentence they end (or follow)."""
    out: list[tuple[str, list[int]]] = []
    for span in split_sentences(text):
        raw = text[span.start : span.end]
        nums = [int(n) for m in MARKER.finditer(raw) for n in re.split(r"\s*,\s*", m.group(1))]
        clean = MARKER.sub("", raw).strip()
        if not clean and out:  # a marker alone on its own "sentence": it belongs to the previous one
            out[-1][1].extend(nums)
            continue
        if clean:
            out.append((clean, nums))
    return out


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def make_citation(n: int, passage: Passage, start: int, end: int, quote: str, score: float) -> Citation:
    return Citation(n=n, source=passage.source, start=start, end=end, quote=quote, score=round(float(score), 4),
                    date=passage.date, page=passage.page, passage_id=passage.id, section=passage.section)


def check_generated(
    text: str,
    passages: list[Passage],
    encode: Callable[[list[str]], np.ndarray],
    threshold: float,
) -> tuple[str, list[Citation], list[str]]:
    """Keep only what the passages support. Returns (answer text with renumbered markers,
    citations, unsupported sentences). A marker to a passage that was not retrieved is dropped;
    a sentence is cited only if the best sentence of a passage it cites supports it: it scores at
    least `threshold`, and its passage (with the sentence before it) states every name and number
    the claim does."""
    claims = parse_markers(text)
    sentences = passage_sentences(passages)
    if not claims or not sentences:
        return strip_markers(text).strip(), [], [c for c, _ in claims]
    vectors = encode([c for c, _ in claims] + [s.text for s in sentences])
    claim_vecs, sent_vecs = vectors[: len(claims)], vectors[len(claims) :]
    cosines = claim_vecs @ sent_vecs.T
    citations: list[Citation] = []
    unsupported: list[str] = []
    parts: list[str] = []
    by_quote: dict[tuple[str, int], int] = {}
    context = [f"{p.lead_text or ''} {p.text}" for p in passages]  # what a cited sentence's passage states
    for ci, (claim, markers) in enumerate(claims):
        valid = [m for m in markers if 1 <= m <= len(passages)]
        if markers and not valid:
            candidates = []  # it cited only passages that do not exist: never shown as cited
        elif valid:
            candidates = [si for si, s in enumerate(sentences) if s.passage + 1 in valid]
        else:
            candidates = list(range(len(sentences)))  # uncited claim: look for support anywhere
        # a passage that lacks a name or a number the claim states supports none of it
        states = {pi: not missing_specifics(claim, context[pi]) for pi in {sentences[si].passage for si in candidates}}
        best, best_score = None, -1.0
        for si in candidates:
            if not states[sentences[si].passage]:
                continue
            sc = support_score(float(cosines[ci, si]), word_overlap(claim, sentences[si].text))
            if sc > best_score:
                best, best_score = si, sc
        if best is None or best_score < threshold:
            unsupported.append(claim)
            parts.append(f"{claim} (not supported by the documents)")
            continue
        s = sentences[best]
        p = passages[s.passage]
        key = (p.source, s.start)
        if key not in by_quote:
            by_quote[key] = len(citations) + 1
            citations.append(make_citation(len(citations) + 1, p, s.start, s.end, s.text, best_score))
        parts.append(f"{claim} [{by_quote[key]}]")
    return " ".join(parts), citations, unsupported


def asked_words(question: str) -> list[str]:
    """The question's content words as typed, once each, of four letters or more: the ones worth
    checking against the index's vocabulary (pure)."""
    out: list[str] = []
    for w in WORD.findall(question):
        if len(w) >= 4 and w.lower() not in STOPWORDS and w not in out:
            out.append(w)
    return out


def spelling_suggestions(words: list[str], passages: list[Passage], cutoff: float = 0.8) -> dict[str, str]:
    """For each of `words` (ones no indexed document has), the retrieved passages' word closest to
    it in spelling, where one is close enough (pure): "civilans" -> "civilians", "Blinkin" ->
    "Blinken". Retrieval still finds the passage a misspelt question is about, and so its word."""
    if not words:
        return {}  # the usual case: every word of the question is indexed
    candidates: dict[str, str] = {}
    for p in passages:
        for w in WORD.findall(p.text + " " + (p.lead_text or "")):
            if len(w) >= 4 and w.lower() not in STOPWORDS:
                candidates.setdefault(w.lower(), w)
    out = {}
    for word in words:
        if len(word) >= 4 and (close := difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=cutoff)):
            out[word] = candidates[close[0]]
    return out
