"""Sentence scoring, shared by the reranker and the extractive answerer.

A sentence's score against a question is embedding similarity, word overlap (counting some of the
sentence before it, whose subject it often carries), and whether it holds the kind of thing asked
for (a name for "who", a date for "when", a number for "how many").
`score_sentences` is pure (vectors are given); `SentenceScorer` finds the vectors: the ones stored
with each chunk at indexing time, else embedded here and cached.
Leaves out: choosing what to answer (answer.py) and ordering passages (rerank.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.split import split_sentences
from qa.cite import Sentence, content_stems, passage_sentences, previous_sentences, stem_overlap
from qa.schema import Passage

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}(st|nd|rd|th)\s+century\b|\bcentur(y|ies)\b", re.I)
_MONTH = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b", re.I)
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")

# Weights of the sentence score, from a weight search on SQuAD 2.0 paragraphs (README, "What limits it").
W_DENSE, W_LEXICAL, W_TYPE = 0.55, 0.35, 0.10
# Share of the previous sentence's extra overlap a sentence counts (context_overlap): qa eval was flat
# from 0.4 to 0.6 (README, "Sentence context").
W_CONTEXT = 0.5
# Sentence openings that refer back: a pronoun or a demonstrative as the subject.
_LEANS_BACK = re.compile(r"(it|he|she|they|this|these|those|its|his|her|their|such|there|the latter|the former)\b", re.I)


def question_type(question: str) -> str | None:
    q = question.lower().strip()
    if re.match(r"(how (many|much|long|old|far|large|big|tall)|what (percentage|number|amount))\b", q):
        return "number"
    if re.match(r"(when|what (year|date|time|day|month|century|decade)|in (what|which) (year|century))\b", q):
        return "date"
    if re.match(r"(who|whom|whose)\b", q):
        return "person"
    if re.match(r"where\b", q):
        return "place"
    return None


def type_match(qtype: str | None, sentence: str, question: str) -> float:
    """1.0 when the sentence holds the kind of thing the question asks for, else 0."""
    if qtype is None:
        return 0.0
    if qtype == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if qtype == "date":
        return 1.0 if (_YEAR.search(sentence) or _MONTH.search(sentence)) else 0.0
    asked = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    names = [w for w in _CAPITAL.findall(sentence) if w.lower() not in asked]
    return 1.0 if names else 0.0


def leans_back(sentence: str) -> bool:
    """A sentence whose subject is in the sentence before it ("It was founded in 1911 ...")."""
    return bool(_LEANS_BACK.match(sentence.lstrip()))


def context_overlap(question: str, sentences: list[Sentence], previous: list[Sentence | None]) -> np.ndarray:
    """Word overlap of each sentence with the question, counting part of what the sentence before
    it adds: all of it for a sentence that leans back on it, half otherwise, as questions name the
    subject the paragraph has already introduced (README, "Sentence context")."""
    asked = content_stems(question)
    stems = [content_stems(s.text) for s in sentences]
    out = np.array([stem_overlap(asked, st) for st in stems])
    for j, prev in enumerate(previous):
        if prev is None:
            continue
        prev_stems = stems[j - 1] if j and prev is sentences[j - 1] else content_stems(prev.text)  # else a lead
        gain = stem_overlap(asked, prev_stems | stems[j]) - out[j]
        if gain > 0:
            out[j] += gain * (1.0 if leans_back(sentences[j].text) else W_CONTEXT)
    return out


def score_sentences(question: str, sentences: list[Sentence], q_vec: np.ndarray, s_vecs: np.ndarray,
                    previous: list[Sentence | None] | None = None, asked: str | None = None) -> np.ndarray:
    """The extractive score of each sentence (pure: vectors are given); `previous[j]` is the sentence
    before sentence j, where known. `question` is the query retrieval ran (a follow-up with what it
    carries from the conversation); `asked`, the follow-up as typed: a sentence's word overlap is the
    better of the two, so the carried names do not outweigh what the follow-up itself asks about."""
    if not sentences:
        return np.zeros(0)
    dense = s_vecs @ q_vec
    qtype = question_type(question)
    previous = previous or [None] * len(sentences)
    lexical = context_overlap(question, sentences, previous)
    if asked and asked != question:
        lexical = np.maximum(lexical, context_overlap(asked, sentences, previous))
    typed = np.array([type_match(qtype, s.text, question) for s in sentences])
    return W_DENSE * dense + W_LEXICAL * lexical + W_TYPE * typed


@dataclass
class SentenceScorer:
    """Scores the sentences of retrieved passages, finding (or making) their vectors."""

    encode: Callable[[list[str]], np.ndarray]
    embed_query: Callable[[str], list[float]] | None = None  # the retriever's (cached) query embedding
    # Sentence vectors stored at indexing time (chunk id -> rows in `split_sentences` order), so
    # scoring embeds only the question; sentences without one are embedded here.
    stored: Callable[[list[str]], dict[str, np.ndarray]] | None = None
    cache_size: int = 50_000  # sentence vectors kept in memory: a corpus's sentences recur across questions

    def __post_init__(self):
        self._cache: dict[str, np.ndarray] = {}

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, computing only those not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            if len(self._cache) + len(missing) > self.cache_size:
                self._cache.clear()
            self._cache.update(zip(missing, self.encode(missing)))
        return np.stack([self._cache[t] for t in texts])

    def sentence_vectors(self, sentences: list[Sentence], passages: list[Passage]) -> np.ndarray:
        """A vector per sentence: the stored one where the index has it, else embedded (cached)."""
        found: dict[tuple[str, int], np.ndarray] = {}
        stored = self.stored([p.id for p in passages]) if self.stored else {}
        for p in passages:
            rows = stored.get(p.id)
            spans = split_sentences(p.text) if rows is not None else []
            if rows is not None and len(rows) == len(spans):  # else stored by another splitter: ignore
                for span, row in zip(spans, rows):
                    if row.any():  # zeros: the sentence lay past the model's token limit
                        found[(p.source, p.start + span.start)] = row
        keys = [(passages[s.passage].source, s.start) for s in sentences]
        missing = [s.text for s, k in zip(sentences, keys) if k not in found]
        embedded = iter(self.vectors(missing)) if missing else iter(())
        return np.stack([found[k] if k in found else next(embedded) for k in keys])

    def score(self, query: str, passages: list[Passage], asked: str | None = None) -> tuple[list[Sentence], list[Sentence | None], np.ndarray]:
        """Every sentence of `passages`, the sentence before each (where known), and its score against
        `query` (and `asked`, the question as typed: see `score_sentences`)."""
        sentences = passage_sentences(passages)
        if not sentences:
            return [], [], np.zeros(0)
        q_vec = self.query_vector(query)
        s_vecs = self.sentence_vectors(sentences, passages)
        previous = previous_sentences(sentences, passages)
        return sentences, previous, score_sentences(query, sentences, q_vec, s_vecs, previous, asked)

    def query_vector(self, query: str) -> np.ndarray:
        return np.asarray(self.embed_query(query), dtype=np.float32) if self.embed_query else self.vectors([query])[0]

    def score_alone(self, query: str, sentence: Sentence, asked: str | None = None) -> float:
        """One sentence's score without its context (a passage's lead, cited beside the answer)."""
        return float(score_sentences(query, [sentence], self.query_vector(query), self.vectors([sentence.text]), asked=asked)[0])

    def best_per_passage(self, query: str, passages: list[Passage]) -> np.ndarray:
        """Each passage's best sentence score (0 for a passage without sentences)."""
        sentences, _, scores = self.score(query, passages)
        best = np.zeros(len(passages))
        for s, score in zip(sentences, scores):
            best[s.passage] = max(best[s.passage], score)
        return best
