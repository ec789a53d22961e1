"""Sentence scoring, shared by the reranker and the extractive answerer.

A sentence's score against a question is embedding similarity, word overlap (each of the question's
words weighed by its idf over the index, counting some of the sentence before it, whose subject it
often carries), a token match (each of the question's content words against the sentence's words in
context, ColBERT's MaxSim, counting the sentence before it the same way), and whether it holds the
kind of thing asked for (a name for "who", a date for "when", a number for "how many").
`score_sentences` is pure (vectors and weights are given); `SentenceScorer` finds them: the vectors
stored with each chunk at indexing time, else embedded here and cached, and the idf from the index.
Leaves out: choosing what to answer (answer.py) and ordering passages (rerank.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.encoders import span_tokens
from index.split import split_sentences
from index.text import content_stems, content_words, stem_overlap, stemmer
from qa.cite import Sentence, passage_sentences, previous_sentences
from qa.question import question_type
from qa.schema import Passage

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}(st|nd|rd|th)\s+century\b|\bcentur(y|ies)\b", re.I)
_MONTH = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b", re.I)
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")

# Weights of the sentence score, from a weight search on SQuAD 2.0 paragraphs (docs/bi-encoder-answerer.md, "What limits it").
W_DENSE, W_LEXICAL, W_TYPE = 0.55, 0.35, 0.10
# Share of the previous sentence's extra overlap a sentence counts (context_overlap): qa eval was flat
# from 0.4 to 0.6 (docs/bi-encoder-answerer.md, "Sentence context").
W_CONTEXT = 0.5
# Weight of the token match (`token_match`), added to the three above: qa eval with it at 0.4 (docs/bi-encoder-answerer.md,
# "Token match").
W_TOKEN = 0.4
# Sentence openings that refer back: a pronoun or a demonstrative as the subject.
_LEANS_BACK = re.compile(r"(it|he|she|they|this|these|those|its|his|her|their|such|there|the latter|the former)\b", re.I)


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


def stem_weights(word_idf: dict[str, float | None]) -> dict[str, float]:
    """The weight of each of a question's content stems, from its words' idf (pure): a word the
    index does not weigh (None: BM25 drops it) counts as the least informative of the others."""
    known = [w for w in word_idf.values() if w is not None]
    low = min(known) if known else 1.0
    out: dict[str, float] = {}
    for word, w in word_idf.items():
        stem = stemmer().stemWord(word)
        out[stem] = max(out.get(stem, 0.0), low if w is None else w)
    return out


def context_overlap(question: str, sentences: list[Sentence], previous: list[Sentence | None],
                    weights: dict[str, float] | None = None) -> np.ndarray:
    """Word overlap of each sentence with the question (each word weighted by `weights`, its idf,
    where given), counting part of what the sentence before it adds: all of it for a sentence that
    leans back on it, half otherwise, as questions name the subject the paragraph has already
    introduced (docs/bi-encoder-answerer.md, "Sentence context")."""
    asked = content_stems(question)
    stems = [content_stems(s.text) for s in sentences]
    out = np.array([stem_overlap(asked, st, weights) for st in stems])
    for j, prev in enumerate(previous):
        if prev is None:
            continue
        prev_stems = stems[j - 1] if j and prev is sentences[j - 1] else content_stems(prev.text)  # else a lead
        gain = stem_overlap(asked, prev_stems | stems[j], weights) - out[j]
        if gain > 0:
            out[j] += gain * (1.0 if leans_back(sentences[j].text) else W_CONTEXT)
    return out


def token_maxes(q_tokens: np.ndarray, texts: list[np.ndarray | None]) -> list[np.ndarray | None]:
    """For each text's token vectors (unit rows), each question token's best cosine with any of
    them (pure): ColBERT's MaxSim before the average. None for a text without tokens (or None)."""
    shown = [i for i, t in enumerate(texts) if t is not None and len(t)]
    out: list[np.ndarray | None] = [None] * len(texts)
    if not shown or not len(q_tokens):
        return out
    sims = q_tokens @ np.concatenate([texts[i] for i in shown]).T
    starts = np.cumsum([0] + [len(texts[i]) for i in shown[:-1]])
    for i, best in zip(shown, np.maximum.reduceat(sims, starts, axis=1).T):
        out[i] = best
    return out


def token_match(q_tokens: np.ndarray, s_tokens: np.ndarray) -> float:
    """ColBERT's MaxSim, averaged: for each of the question's content tokens, its best cosine with
    any token of the sentence, in context (pure; unit rows). 0 when either side has none."""
    best = token_maxes(q_tokens, [s_tokens])[0]
    return 0.0 if best is None else float(best.mean())


def score_sentences(question: str, sentences: list[Sentence], q_vec: np.ndarray, s_vecs: np.ndarray,
                    previous: list[Sentence | None] | None = None, asked: str | None = None,
                    q_tokens: list[np.ndarray] | None = None, s_tokens: list[np.ndarray] | None = None,
                    prev_tokens: list[np.ndarray | None] | None = None, weights: dict[str, float] | None = None) -> np.ndarray:
    """The extractive score of each sentence (pure: vectors are given); `previous[j]` is the sentence
    before sentence j, where known. `question` is the query retrieval ran (a follow-up with what it
    carries from the conversation); `asked`, the follow-up as typed: a sentence's word overlap is the
    better of the two, so the carried names do not outweigh what the follow-up itself asks about.
    `q_tokens` (the content tokens of the question and of `asked`) and `s_tokens` (each sentence's
    tokens; `prev_tokens`, those of the sentence before it, where known) add the token match, the
    better of the two questions' likewise; without them it is 0. `weights` (stem -> idf, for the
    words of both questions) weigh the word overlap; without them every word counts the same."""
    if not sentences:
        return np.zeros(0)
    dense = s_vecs @ q_vec
    qtype = question_type(question)
    previous = previous or [None] * len(sentences)
    lexical = context_overlap(question, sentences, previous, weights)
    if asked and asked != question:
        lexical = np.maximum(lexical, context_overlap(asked, sentences, previous, weights))
    typed = np.array([type_match(qtype, s.text, question) for s in sentences])
    tokens = np.zeros(len(sentences))
    if q_tokens and s_tokens is not None:
        tokens = context_token_match(q_tokens, sentences, s_tokens, prev_tokens or [None] * len(sentences))
    return W_DENSE * dense + W_LEXICAL * lexical + W_TYPE * typed + W_TOKEN * tokens


def context_token_match(q_tokens: list[np.ndarray], sentences: list[Sentence], s_tokens: list[np.ndarray],
                        prev_tokens: list[np.ndarray | None]) -> np.ndarray:
    """Each sentence's token match (the better over `q_tokens`), counting what the sentence before
    it (`prev_tokens`, where known) adds as `context_overlap` does: all of it for a sentence that
    leans back, `W_CONTEXT` of it otherwise (pure)."""
    # each distinct token array once: a sentence's tokens are usually the next sentence's `prev`
    arrays = {id(t): t for t in [*s_tokens, *prev_tokens] if t is not None}
    row = {key: i for i, key in enumerate(arrays)}
    share = np.array([1.0 if leans_back(s.text) else W_CONTEXT for s in sentences])
    out = np.zeros(len(sentences))
    for q in q_tokens:
        if not len(q):
            continue
        maxes = np.stack([m if m is not None else np.full(len(q), -np.inf) for m in token_maxes(q, list(arrays.values()))])
        own = maxes[[row[id(t)] for t in s_tokens]]
        before = np.stack([maxes[row[id(t)]] if t is not None else np.full(len(q), -np.inf) for t in prev_tokens])
        alone = np.where(np.isfinite(own), own, 0.0).mean(axis=1)
        together = np.maximum(own, before)
        has_before = np.isfinite(before).any(axis=1)
        gain = np.where(np.isfinite(together), together, 0.0).mean(axis=1) - alone
        out = np.maximum(out, alone + np.where(has_before & (gain > 0), gain, 0.0) * share)
    return out


def fill(cache: dict, keys: list[str], make: Callable[[list[str]], dict], limit: int) -> dict:
    """`keys`' entries (those `make` has), from `cache` or made now for the ones it lacks; a cache
    about to pass `limit` entries is emptied first."""
    missing = [k for k in dict.fromkeys(keys) if k not in cache]
    if missing:
        if len(cache) + len(missing) > limit:
            cache.clear()
            missing = list(dict.fromkeys(keys))
        cache.update(make(missing))
    return {k: cache[k] for k in keys if k in cache}


def by_sentence(passages: list[Passage], stored: dict[str, list], usable: Callable[[object], object]) -> dict[tuple[str, int], object]:
    """Rows stored per chunk (one per sentence, in `split_sentences` order), keyed by (source, the
    sentence's start offset); a chunk whose row count differs (split by another splitter) and rows
    that are not `usable` are left out (pure)."""
    found: dict[tuple[str, int], object] = {}
    for p in passages:
        rows = stored.get(p.id)
        if rows is None:
            continue
        spans = split_sentences(p.text, midline=p.midline)
        if len(rows) == len(spans):
            for span, row in zip(spans, rows):
                if usable(row):
                    found[(p.source, p.start + span.start)] = row
    return found


@dataclass
class SentenceScorer:
    """Scores the sentences of retrieved passages, finding (or making) their vectors."""

    encode: Callable[[list[str]], np.ndarray]
    embed_query: Callable[[str], list[float]] | None = None  # the retriever's (cached) query embedding
    # Sentence vectors stored at indexing time (chunk id -> rows in `split_sentences` order), so
    # scoring embeds only the question; sentences without one are embedded here.
    stored: Callable[[list[str]], dict[str, np.ndarray]] | None = None
    # The token match: a question's token states (index.encoders.TokenStates), the sentences' token
    # vectors stored at indexing time (chunk id -> one array per sentence), and token states of
    # texts the index lacks them for. Without `query_tokens` there is no token match.
    query_tokens: Callable[[str], object] | None = None
    stored_tokens: Callable[[list[str]], dict[str, list[np.ndarray]]] | None = None
    encode_tokens: Callable[[list[str]], list] | None = None
    # Each word's idf over the index (None for a word it does not weigh), to weigh the word
    # overlap; without it every word counts the same.
    word_idf: Callable[[list[str]], dict[str, float | None]] | None = None
    cache_size: int = 50_000  # sentence vectors kept in memory: a corpus's sentences recur across questions

    def __post_init__(self):
        self._cache: dict[str, np.ndarray] = {}
        self._token_cache: dict[str, np.ndarray] = {}
        self._stored_tokens: dict[str, list[np.ndarray]] = {}  # by chunk id (a hash of its text: never stale)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, computing only those not seen before."""
        found = fill(self._cache, texts, lambda missing: dict(zip(missing, self.encode(missing))), self.cache_size)
        return np.stack([found[t] for t in texts])

    def sentence_vectors(self, sentences: list[Sentence], passages: list[Passage]) -> np.ndarray:
        """A vector per sentence: the stored one where the index has it, else embedded (cached)."""
        stored = self.stored([p.id for p in passages]) if self.stored else {}
        # zeros: the sentence lay past the model's token limit
        found = by_sentence(passages, stored, lambda row: bool(row.any()))
        keys = [(passages[s.passage].source, s.start) for s in sentences]
        missing = [s.text for s, k in zip(sentences, keys) if k not in found]
        embedded = iter(self.vectors(missing)) if missing else iter(())
        return np.stack([found[k] if k in found else next(embedded) for k in keys])

    def alone_tokens(self, texts: list[str]) -> list[np.ndarray]:
        """Token vectors of `texts`, each run alone (cached), words only, as stored ones are."""
        def make(missing: list[str]) -> dict[str, np.ndarray]:
            return {t: span_tokens(st, t, [(0, len(t))])[0] for t, st in zip(missing, self.encode_tokens(missing))}

        found = fill(self._token_cache, texts, make, self.cache_size)
        return [found[t] for t in texts]

    def sentence_tokens(self, sentences: list[Sentence], previous: list[Sentence | None],
                        passages: list[Passage]) -> tuple[list[np.ndarray], list[np.ndarray | None]] | None:
        """Each sentence's token vectors (the stored ones where the index has them, else run alone),
        and those of the sentence before it where it is in the passages or is a passage's stored
        lead; None when there is no token match (no question tokens, or nothing to make them with)."""
        if self.query_tokens is None or (self.stored_tokens is None and self.encode_tokens is None):
            return None
        wanted = [p.id for p in passages] + [p.lead_chunk for p in passages if p.lead_chunk]
        stored = self.cached_stored_tokens(wanted)
        found = by_sentence(passages, stored, len)  # none: the sentence lay past the model's token limit
        for p in passages:
            lead = stored.get(p.lead_chunk) if p.lead_chunk else None
            if lead is not None and p.lead_index is not None and p.lead_index < len(lead) and len(lead[p.lead_index]):
                found[(p.source, p.lead_start)] = lead[p.lead_index]
        keys = [(passages[s.passage].source, s.start) for s in sentences]
        missing = [s.text for s, k in zip(sentences, keys) if k not in found]
        if missing and self.encode_tokens is None:
            return None
        made = iter(self.alone_tokens(missing)) if missing else iter(())
        own = [found[k] if k in found else next(made) for k in keys]
        found.update(zip(keys, own))
        before = [None if prev is None else found.get((passages[prev.passage].source, prev.start)) for prev in previous]
        return own, before

    def cached_stored_tokens(self, ids: list[str], keep: int = 256) -> dict[str, list[np.ndarray]]:
        """The index's token vectors of these chunks, the last `keep` chunks' kept in memory (the
        answerer reads the chunks the reranker has just read)."""
        if self.stored_tokens is None:
            return {}
        return fill(self._stored_tokens, ids, self.stored_tokens, keep)

    def question_tokens(self, query: str, asked: str | None) -> list[np.ndarray] | None:
        """The content tokens of the query and, when it differs, of the question as typed."""
        if self.query_tokens is None:
            return None
        out = []
        for text in dict.fromkeys(t for t in (query, asked) if t):
            out.append(span_tokens(self.query_tokens(text), text, [(0, len(text))], content_only=True)[0])
        return out

    def score(self, query: str, passages: list[Passage], asked: str | None = None) -> tuple[list[Sentence], list[Sentence | None], np.ndarray]:
        """Every sentence of `passages`, the sentence before each (where known), and its score against
        `query` (and `asked`, the question as typed: see `score_sentences`)."""
        sentences = passage_sentences(passages)
        if not sentences:
            return [], [], np.zeros(0)
        q_vec = self.query_vector(query)
        s_vecs = self.sentence_vectors(sentences, passages)
        previous = previous_sentences(sentences, passages)
        tokens = self.sentence_tokens(sentences, previous, passages)
        s_tokens, prev_tokens = tokens if tokens is not None else (None, None)
        q_tokens = self.question_tokens(query, asked) if tokens is not None else None
        return sentences, previous, score_sentences(query, sentences, q_vec, s_vecs, previous, asked, q_tokens, s_tokens,
                                                    prev_tokens, self.weights(query, asked))

    def weights(self, query: str, asked: str | None) -> dict[str, float] | None:
        """The idf weights of the words of `query` and `asked` (0.1 ms: not cached), or None
        without `word_idf`."""
        if self.word_idf is None:
            return None
        return stem_weights(self.word_idf(list(dict.fromkeys(content_words(query) + content_words(asked or "")))))

    def query_vector(self, query: str) -> np.ndarray:
        return np.asarray(self.embed_query(query), dtype=np.float32) if self.embed_query else self.vectors([query])[0]

    def score_alone(self, query: str, sentence: Sentence, asked: str | None = None) -> float:
        """One sentence's score without its context (a passage's lead, cited beside the answer)."""
        q_tokens = self.question_tokens(query, asked) if self.encode_tokens else None
        s_tokens = self.alone_tokens([sentence.text]) if q_tokens is not None else None
        return float(score_sentences(query, [sentence], self.query_vector(query), self.vectors([sentence.text]), asked=asked,
                                     q_tokens=q_tokens, s_tokens=s_tokens, weights=self.weights(query, asked))[0])

    def best_per_passage(self, query: str, passages: list[Passage]) -> np.ndarray:
        """Each passage's best sentence score (0 for a passage without sentences)."""
        sentences, _, scores = self.score(query, passages)
        best = np.zeros(len(passages))
        for s, score in zip(sentences, scores):
            best[s.passage] = max(best[s.passage], score)
        return best
