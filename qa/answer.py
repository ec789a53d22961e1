"""Answering: (question, passages) -> Answer, by the trained reader (default), by the bi-encoder's
sentence score (`QA_READER=none`), or by an LLM.

Every extractive answer quotes whole sentences verbatim with their markers, so each citation is exact
by construction, and under a calibrated score it abstains and lists the nearest passages instead.
The reader's (`ReaderAnswerer`): the sentence holding the span the reader marked, then the sentence it
leans back on or the reader's next best one. The bi-encoder's (`ExtractiveAnswerer`): the best-scoring
sentence with its rules (headings, echoes, "Who is X?"), kept as the measured baseline. Generative: the
LLM answers from numbered passages, then `cite.check_generated` keeps only what the passages support.
Leaves out: retrieval and reranking (retrieve.py, rerank.py), reading (reader.py), sentence scoring
(score.py), table rows (table_answer.py) and the chain's wiring (chain.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from index.settings import Settings
from index.split import field_value, is_markup
from index.tables import row_prose
from index.text import as_prose, content_stems, fold
from qa.cite import (
    Sentence,
    check_generated,
    make_citation,
    passage_sentences,
    previous_sentences,
)
from qa.prompt import NOT_FOUND, answer_messages
from qa.question import Question
from qa.reader import Span
from qa.schema import Answer, AnswerSpan, Citation, Passage
from qa.score import SentenceScorer, leans_back
from qa.table_answer import table_answer, table_roles

NOT_FOUND_TEXT = "I could not find this in the indexed documents."


def should_abstain(best_score: float, threshold: float) -> bool:
    """The abstention rule: nothing retrieved supports an answer well enough."""
    return best_score < threshold




def echo_stems(q: Question) -> set[str] | None:
    """The stems a sentence must go beyond to answer the question's query (`adds_nothing`), or None
    for a question that asks yes or no ("Do prices include VAT?"), which a sentence that only says
    it answers ("Prices include VAT.")."""
    return None if q.yes_no else content_stems(q.query)


def adds_nothing(sentence: str, question_stems: set[str] | None) -> bool:
    """Whether a sentence says no more than the question does (pure): its content words, or a
    field's value ("Name: kettle"), are all the question's own (`echo_stems`). Such a sentence
    matches the question as well as anything can, and answers nothing."""
    if question_stems is None:
        return False
    value = field_value(sentence)
    return content_stems(sentence if value is None else value) <= question_stems


def statements(order: list[int], empty: list[bool]) -> list[int]:
    """`order` without the sentences that state nothing (`empty[i]`: headings, rules, code fences,
    the question's own words), unless nothing else was retrieved (pure): "## Installing Requests"
    matches "How do I install requests?" best and answers nothing; the command under it does."""
    return [i for i in order if not empty[i]] or order


def choose_sentences(sentences: list[Sentence], previous: list[Sentence | None], scores: np.ndarray, order: list[int],
                     max_sentences: int, second_ratio: float) -> list[Sentence]:
    """The answer's sentences: the best one, preceded by the sentence it leans back on ("It was
    founded ...") so the answer reads on its own, else followed by the next best when that scores
    at least `second_ratio` of it (pure). `previous[j]` is the sentence before sentence j."""
    best = order[0]
    before = previous[best]
    if max_sentences >= 2 and before is not None and leans_back(sentences[best].text):
        return [before, sentences[best]]
    chosen = [sentences[best]]
    for i in order[1:]:
        if len(chosen) >= max_sentences or scores[i] < second_ratio * scores[best]:
            break
        if sentences[i].text != sentences[best].text:
            chosen.append(sentences[i])
    return chosen


def mentions(sentence: str, name: str) -> bool:
    """Whether every word of `name` is a word of `sentence`, case and accents aside (pure)."""
    words = set(re.findall(r"[\w-]+", fold(sentence).lower()))  # "Liu's" holds "liu"
    return all(w in words for w in re.findall(r"[\w-]+", fold(name).lower()))


def introduction_first(name: str | None, sentences: list[Sentence], sources: list[str], scores: np.ndarray,
                       order: list[int], ratio: float) -> list[int]:
    """`order` with the sentence that introduces `name` moved to the front (pure): of the sentences
    that mention it and score at least `ratio` of the best, the earliest in the document of the best
    of them. Writers say who someone is where they first name them ("Liu Jianchao, who heads ..."),
    and later call them by a short name ("Liu said ..."), which a "Who is Liu?" matches as well."""
    if not name or not order:
        return order
    near = [i for i in order if scores[i] >= ratio * scores[order[0]] and mentions(sentences[i].text, name)]
    if not near:
        return order
    source = sources[near[0]]
    first = min((i for i in near if sources[i] == source), key=lambda i: sentences[i].start)
    return [first] + [i for i in order if i != first]


def nearest_citations(sentences: list[Sentence], scores: np.ndarray, passages: list[Passage], n: int = 3) -> list[Citation]:
    """What an abstention shows: the best-scoring sentence of each of the first `n` passages to hold one (pure)."""
    best_per_passage: dict[int, int] = {}
    for i in np.argsort(-scores):
        best_per_passage.setdefault(sentences[i].passage, int(i))
    out = []
    for i in list(best_per_passage.values())[:n]:
        s = sentences[i]
        out.append(make_citation(len(out) + 1, passages[s.passage], s.start, s.end, s.text, scores[i]))
    return out


@dataclass
class ExtractiveAnswerer:
    scorer: SentenceScorer
    threshold: float = Settings.model_fields["abstain_threshold"].default  # one calibrated value, kept in Settings
    max_sentences: int = Settings.model_fields["max_answer_sentences"].default
    second_ratio: float = 0.85  # a second sentence must score at least this share of the first (docs/bi-encoder-answerer.md, "Second sentences")
    name: str = "extractive"

    def nearest(self, sentences: list[Sentence], scores: np.ndarray, passages: list[Passage], n: int = 3) -> list[Citation]:
        return nearest_citations(sentences, scores, passages, n)

    def answer(self, q: Question, passages: list[Passage]) -> Answer:
        question, query = q.plain, q.query
        sentences, previous, scores = self.scorer.score(query, passages, asked=question)
        if not sentences:
            return Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
        asked = echo_stems(q)

        def after(s: Sentence) -> str:  # the text just after a sentence in its passage: an underline shows a heading
            p = passages[s.passage]
            return p.text[s.end - p.start : s.end - p.start + 80]

        empty = [is_markup(s.text, after(s)) or adds_nothing(s.text, asked) for s in sentences]
        order = statements([int(i) for i in np.argsort(-scores)], empty)
        if should_abstain(float(scores[order[0]]), self.threshold):
            return Answer(NOT_FOUND_TEXT, abstained=True, nearest=self.nearest(sentences, scores, passages), answerer=self.name)
        sources = [passages[x.passage].source for x in sentences]
        order = introduction_first(q.subject, sentences, sources, scores, order, self.second_ratio)
        antecedents = [None if p is not None and is_markup(p.text) else p for p in previous]  # "Abstract¶" is no subject
        chosen = choose_sentences(sentences, antecedents, scores, order, self.max_sentences, self.second_ratio)
        scored = {(s.passage, s.start): float(x) for s, x in zip(sentences, scores)}
        citations, parts = [], []
        for n, s in enumerate(chosen, start=1):
            score = scored.get((s.passage, s.start))
            score = self.scorer.score_alone(query, s, question) if score is None else score  # a lead from the chunk before
            citations.append(make_citation(n, passages[s.passage], s.start, s.end, s.text, score))
            parts.append(f"{as_prose(s.text)} [{n}]")  # wrapped across lines or marked up, it reads as prose
        return Answer(" ".join(parts), citations=citations, answerer=self.name)

    def stream(self, q: Question, passages: list[Passage]) -> Iterator[Answer]:
        yield self.answer(q, passages)


@dataclass
class ReaderAnswerer:
    """The trained reader answers (qa/reader.py): it reads the question against each passage, the
    sentence holding its best answer span is quoted verbatim with the span marked, and it abstains
    when its confidence that any passage answers is under `threshold` (calibrated on validation
    data: models/reader/README.md)."""

    reader: object  # qa.reader.Reader
    threshold: float
    max_sentences: int = 2
    # A second sentence is added when the reader finds an answer in it nearly as likely (docs/reader.md).
    second_score: float = 0.5
    # Reading stops once a passage answers at least this surely (qa/reader.py; None or 1: read all).
    stop: float | None = None
    name: str = "extractive"

    def nearest(self, sentences: list[Sentence], scores: np.ndarray, passages: list[Passage], n: int = 3) -> list[Citation]:
        return nearest_citations(sentences, scores, passages, n)

    def answer(self, q: Question, passages: list[Passage]) -> Answer:
        sentences = passage_sentences(passages)
        if not sentences:
            return Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
        # a reference list or a table's residue answers only when no prose passage does
        prose = [p.kind is None for p in passages]
        # the confidence weighs the reader's answerability with how near the passages are to the question;
        # `level` is the answerability that answers at this nearness (the threshold itself without weights)
        dense = max((p.dense_score for p in passages if p.dense_score is not None), default=None)
        model = self.reader.abstention
        level = model.needed(self.threshold, dense)
        stop = None if self.stop is None or self.stop >= 1 else max(self.stop, level)
        reading = self.reader.read(q.query, passages, sentences, stop, prose)
        scored = [replace(p, reader_score=None if i in reading.unread else round(h, 4))
                  for i, (p, h) in enumerate(zip(passages, reading.has_answer))]
        scores = np.array([reading.sentence_scores.get((s.passage, s.start), 0.0) for s in sentences])
        confidence = model.confidence(reading.answerable, dense)
        span = reading.best(prose, level)
        if confidence < self.threshold or span is None:
            return Answer(NOT_FOUND_TEXT, abstained=True, nearest=self.nearest(sentences, scores, passages),
                          answerer=self.name, passages=scored, confidence=confidence)
        role = table_roles(sentences, passages)
        # a table's header and separator rows name columns and answer nothing, as a heading
        markup = [is_markup(s.text) or role[i] in ("header", "separator") for i, s in enumerate(sentences)]
        holding, span, a, b = answering_sentences(q.plain, span, sentences, passages, scores, role, markup)
        picked = with_context(holding[: self.max_sentences], sentences, previous_sentences(sentences, passages),
                              scores, role, markup, self.max_sentences, self.second_score)
        text, citations, answer_span = quoted(picked, sentences, role, passages, reading.sentence_scores, span, a, b)
        return Answer(text, citations=citations, answerer=self.name, passages=scored, span=answer_span,
                      confidence=confidence)

    def stream(self, q: Question, passages: list[Passage]) -> Iterator[Answer]:
        yield self.answer(q, passages)


def answering_sentences(question: str, span: Span, sentences: list[Sentence], passages: list[Passage], scores: np.ndarray,
                        role: list[str | None], markup: list[bool]) -> tuple[list[int], Span | None, int, int]:
    """The sentences that hold the reader's span, and the span with its start and end in the source
    (pure). A table row the question names answers instead (qa/table_answer.py); a span in a heading
    gives way to the best sentence that states something, nothing marked."""
    p = passages[span.passage]
    a, b = p.start + span.start, p.start + span.end
    holding = [i for i, s in enumerate(sentences) if s.passage == span.passage and s.start < b and s.end > a and not markup[i]]
    if holding:
        holding, span, a, b = table_answer(question, holding, sentences, passages, role, span, a, b)
    if not holding:
        stating = [i for i in range(len(sentences)) if not markup[i]]
        return [max(stating, key=lambda i: scores[i], default=int(np.argmax(scores)))], None, a, b
    return holding, span, a, b


def with_context(chosen: list[int], sentences: list[Sentence], previous: list[Sentence | None], scores: np.ndarray,
                 role: list[str | None], markup: list[bool], max_sentences: int, second_score: float) -> list[Sentence]:
    """The answer's sentences around the ones that hold it (pure): the sentence it leans back on ("It was
    founded ...") first, or else, for prose, the reader's next best sentence when it finds an answer there
    at least `second_score` likely and half as likely as in the first (a table's row answers alone)."""
    first = sentences[chosen[0]]
    lead = previous[chosen[0]]
    picked = [sentences[i] for i in chosen]
    if len(picked) >= max_sentences:
        return picked
    if lead is not None and leans_back(first.text) and not is_markup(lead.text):
        return [lead] + picked
    if role[chosen[0]] != "body":
        best = chosen[0]
        others = [i for i in np.argsort(-scores) if i not in chosen and not markup[i] and sentences[i].text != first.text]
        if others and scores[others[0]] >= second_score and scores[others[0]] >= 0.5 * scores[best]:
            picked.append(sentences[others[0]])
    return picked


def quoted(picked: list[Sentence], sentences: list[Sentence], role: list[str | None], passages: list[Passage],
           sentence_scores: dict[tuple[int, int], float], span: Span | None, a: int, b: int) -> tuple[str, list[Citation], AnswerSpan | None]:
    """The answer's text, each sentence verbatim with its marker, its citations, and the span marked in
    the sentence that holds it (pure). A table row reads as prose ("Delicate: 70 °C, white tea")."""
    rows = {(s.passage, s.start) for s, r in zip(sentences, role) if r == "body"}
    citations, parts, answer_span = [], [], None
    for n, s in enumerate(picked, start=1):
        citations.append(make_citation(n, passages[s.passage], s.start, s.end, s.text, sentence_scores.get((s.passage, s.start), 0.0)))
        parts.append(f"{row_prose(s.text) if (s.passage, s.start) in rows else as_prose(s.text)} [{n}]")
        if span is not None and answer_span is None and s.passage == span.passage and s.start <= a < s.end:
            answer_span = AnswerSpan(span.text, passages[span.passage].source, a, b, n)
    return " ".join(parts), citations, answer_span


@dataclass
class GenerativeAnswerer:
    llm: object  # a LangChain BaseChatModel
    encode: Callable[[list[str]], np.ndarray]
    support_threshold: float = 0.45
    name: str = "generative"
    failure: Callable[[Exception], Exception] | None = None  # what the model's own errors become (llm.backend_failure)

    def stream(self, q: Question, passages: list[Passage]) -> Iterator[Answer]:
        question = q.text  # a language model reads the question as the person wrote it
        if not passages:
            yield Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
            return
        text = ""
        try:
            for chunk in self.llm.stream(answer_messages(question, passages)):
                text += chunk.content if isinstance(chunk.content, str) else ""
                if NOT_FOUND not in text:
                    yield Answer(text, answerer=self.name)  # a draft: citations come after the check
        except Exception as e:
            if self.failure is None:
                raise
            raise self.failure(e) from e
        if NOT_FOUND in text or not text.strip():
            yield Answer(NOT_FOUND_TEXT, abstained=True, answerer=self.name)
            return
        checked, citations, unsupported = check_generated(text, passages, self.encode, self.support_threshold)
        yield Answer(checked, citations=citations, unsupported=unsupported, answerer=self.name,
                     abstained=not citations)
