"""Answering: (question, passages) -> Answer, by extraction (default, offline) or by an LLM.

Extractive: every retrieved sentence is scored against the question (embedding similarity, word
overlap, and whether it holds the kind of thing asked for: a name for "who", a date for "when",
a number for "how many"); the best one or two are returned verbatim with their markers, so each
citation is exact by construction. Below a calibrated score it abstains and lists the nearest
passages instead. Generative: the LLM answers from numbered passages, then `cite.check_generated`
keeps only what the passages support.
Leaves out: retrieval (retrieve.py) and the chain's wiring (chain.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from index.split import split_sentences
from qa.cite import Sentence, check_generated, content_words, make_citation, passage_sentences, word_overlap
from qa.prompt import NOT_FOUND, answer_messages
from qa.schema import Answer, Citation, Passage

NOT_FOUND_TEXT = "I could not find this in the indexed documents."
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}(st|nd|rd|th)\s+century\b|\bcentur(y|ies)\b", re.I)
_MONTH = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b", re.I)
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")

# Weights of the sentence score; calibrated on SQuAD 2.0 paragraphs (see README, "Calibration").
W_DENSE, W_LEXICAL, W_TYPE = 0.55, 0.35, 0.10


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


def score_sentences(question: str, sentences: list[Sentence], q_vec: np.ndarray, s_vecs: np.ndarray) -> np.ndarray:
    """The extractive score of each sentence (pure: vectors are given)."""
    if not sentences:
        return np.zeros(0)
    dense = s_vecs @ q_vec
    qtype = question_type(question)
    lexical = np.array([word_overlap(question, s.text) for s in sentences])
    typed = np.array([type_match(qtype, s.text, question) for s in sentences])
    return W_DENSE * dense + W_LEXICAL * lexical + W_TYPE * typed


def should_abstain(best_score: float, threshold: float) -> bool:
    """The abstention rule: nothing retrieved supports an answer well enough."""
    return best_score < threshold


@dataclass
class ExtractiveAnswerer:
    encode: Callable[[list[str]], np.ndarray]
    threshold: float = 0.40
    max_sentences: int = 2
    second_ratio: float = 0.85  # a second sentence must score at least this share of the first (see README)
    name: str = "extractive"
    cache_size: int = 50_000  # sentence vectors kept in memory: a corpus's sentences recur across questions
    embed_query: Callable[[str], list[float]] | None = None  # the retriever's (cached) query embedding
    # Sentence vectors stored at indexing time (chunk id -> rows in `split_sentences` order), so
    # answering embeds only the question; sentences without one are embedded here.
    stored: Callable[[list[str]], dict[str, np.ndarray]] | None = None

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

    def nearest(self, sentences: list[Sentence], scores: np.ndarray, passages: list[Passage], n: int = 3) -> list[Citation]:
        best_per_passage: dict[int, int] = {}
        for i in np.argsort(-scores):
            best_per_passage.setdefault(sentences[i].passage, int(i))
        out = []
        for i in list(best_per_passage.values())[:n]:
            s = sentences[i]
            out.append(make_citation(len(out) + 1, passages[s.passage], s.start, s.end, s.text, scores[i]))
        return out

    def answer(self, question: str, query: str, passages: list[Passage]) -> Answer:
        sentences = passage_sentences(passages)
        if not sentences:
            return Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
        q_vec = np.asarray(self.embed_query(query), dtype=np.float32) if self.embed_query else self.vectors([query])[0]
        scores = score_sentences(query, sentences, q_vec, self.sentence_vectors(sentences, passages))
        order = [int(i) for i in np.argsort(-scores)]
        if should_abstain(float(scores[order[0]]), self.threshold):
            return Answer(NOT_FOUND_TEXT, abstained=True, nearest=self.nearest(sentences, scores, passages), answerer=self.name)
        chosen = [order[0]]
        for i in order[1:]:
            if len(chosen) >= self.max_sentences or scores[i] < self.second_ratio * scores[order[0]]:
                break
            if sentences[i].text != sentences[chosen[0]].text:
                chosen.append(i)
        citations, parts = [], []
        for n, i in enumerate(chosen, start=1):
            s = sentences[i]
            citations.append(make_citation(n, passages[s.passage], s.start, s.end, s.text, scores[i]))
            parts.append(f"{s.text} [{n}]")
        return Answer(" ".join(parts), citations=citations, answerer=self.name)

    def stream(self, question: str, query: str, passages: list[Passage]) -> Iterator[Answer]:
        yield self.answer(question, query, passages)


@dataclass
class GenerativeAnswerer:
    llm: object  # a LangChain BaseChatModel
    encode: Callable[[list[str]], np.ndarray]
    support_threshold: float = 0.45
    name: str = "generative"

    def stream(self, question: str, query: str, passages: list[Passage]) -> Iterator[Answer]:
        if not passages:
            yield Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
            return
        text = ""
        for chunk in self.llm.stream(answer_messages(question, passages)):
            text += chunk.content if isinstance(chunk.content, str) else ""
            if NOT_FOUND not in text:
                yield Answer(text, answerer=self.name)  # a draft: citations come after the check
        if NOT_FOUND in text or not text.strip():
            yield Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
            return
        checked, citations, unsupported = check_generated(text, passages, self.encode, self.support_threshold)
        yield Answer(checked, citations=citations, unsupported=unsupported, answerer=self.name,
                     abstained=not citations)


def is_followup(question: str) -> bool:
    """A question that leans on the conversation: pronoun-led or without content of its own."""
    words = re.findall(r"[a-z']+", question.lower())
    pronouns = {"he", "she", "it", "they", "them", "his", "her", "hers", "its", "their", "him", "this",
                "that", "these", "those", "there", "then"}
    return any(w in pronouns for w in words) or len(content_words(question)) <= 1


def rewrite_followup(question: str, history: list[str]) -> str:
    """Extractive mode's follow-up resolution: carry what the previous question was about (its
    names, else its content words) into the query, after the new question so its type still leads."""
    if not (history and is_followup(question)):
        return question
    previous = history[-1]
    names = re.findall(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*", previous)
    names = [n for n in names if n.lower() not in {"who", "what", "when", "where", "why", "how", "which", "is", "did", "does", "the"}]
    carried = " ".join(names) if names else " ".join(content_words(previous))
    return f"{question} ({carried})" if carried else question
