"""The chain: {question, history} -> understand (qa/question.py) -> retrieve and rerank -> answer and cite.

A LangChain Runnable built by `build_chain(settings)`. `chain.stream(...)` yields Answer
snapshots (a generative answer's draft grows, then the checked answer comes last);
`chain.invoke(...)` returns the final Answer. `ask()` is the plain-Python entry point.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from index.embed import TokenEmbedder
from index.settings import Settings
from qa.answer import ExtractiveAnswerer, GenerativeAnswerer, ReaderAnswerer
from qa.cite import asked_words, spelling_suggestions
from qa.prompt import condense_messages
from qa.question import NO_DOCUMENTS, Question, understand
from qa.reader import build_reader
from qa.rerank import RerankedRetriever, SentenceReranker
from qa.retrieve import HybridRetriever, to_passage
from qa.schema import Answer, Passage
from qa.score import SentenceScorer


def sentence_scorer(store) -> SentenceScorer:
    """Scores sentences with the vectors the index stored for them and the retriever's cached query vector."""
    e = store.embeddings
    tokens = isinstance(e, TokenEmbedder)
    return SentenceScorer(e.encode, embed_query=e.embed_query, stored=store.sentence_vectors,
                          query_tokens=e.query_tokens if tokens else None, stored_tokens=store.sentence_tokens,
                          encode_tokens=e.encode_tokens if tokens else None, word_idf=store.word_idf)


def build_retriever(settings: Settings, store, scorer: SentenceScorer | None = None, k: int | None = None) -> BaseRetriever:
    """The top `k` (default `top_k`) passages: fused retrieval of `rerank_candidates`, reranked
    by their best sentence; plain fused retrieval when reranking is off."""
    k = k or settings.top_k
    if not settings.rerank_candidates:
        return HybridRetriever(store=store, k=k, fetch_k=max(settings.fetch_k, k), rrf_k=settings.rrf_k)
    n = max(settings.rerank_candidates, k)
    base = HybridRetriever(store=store, k=n, fetch_k=max(settings.fetch_k, n), rrf_k=settings.rrf_k)
    reranker = SentenceReranker(scorer=scorer or sentence_scorer(store), top_n=k, weight=settings.rerank_weight, rrf_k=settings.rrf_k)
    return RerankedRetriever(base=base, reranker=reranker)


@dataclass
class Turn:
    """What the chain carries from step to step: the question and what was found for it."""

    question: Question
    t0: float
    problem: str | None = None  # the question's own, or one found on the way (nothing indexed)
    passages: list[Passage] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # names the question asks about that no document has
    suggestions: dict[str, str] = field(default_factory=dict)  # asked word -> the documents' spelling
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Pipeline:
    """The chain's steps over a `Turn`: understand -> retrieve -> answer. `build_chain` makes one
    from settings and composes its steps as LangChain runnables."""

    store: object  # index.store.Store
    retriever: BaseRetriever
    answerer: object  # ReaderAnswerer | ExtractiveAnswerer | GenerativeAnswerer
    max_question_chars: int = 2000
    condense: Callable[[str, list[str]], str] | None = None  # a language model's follow-up rewrite

    def understand(self, inp: dict) -> Turn:
        t0 = time.perf_counter()
        question = understand(inp.get("question") or "", inp.get("history") or [], self.max_question_chars)
        if self.condense is not None and question.problem is None and question.history:
            question = question.searching(self.condense(question.text, list(question.history)) or question.plain)
        return Turn(question, t0, problem=question.problem, timings={"rewrite_ms": (time.perf_counter() - t0) * 1000})

    def retrieve(self, turn: Turn) -> Turn:
        if turn.problem:
            return turn
        t = time.perf_counter()
        q = turn.question
        passages = [to_passage(d) for d in self.retriever.invoke(q.query)]
        if not passages and not self.store.counts()[1]:  # retrieval finds nothing only in an empty index
            return replace(turn, problem=NO_DOCUMENTS)
        names = list(q.names)  # the question as asked, not what a follow-up carries
        unseen = self.store.unseen(names + [w for w in asked_words(q.plain) if w not in names])
        return replace(turn, passages=passages, unmatched=[w for w in unseen if w in names],
                       suggestions=spelling_suggestions(unseen, passages),
                       timings={**turn.timings, "retrieve_ms": (time.perf_counter() - t) * 1000})

    def answer(self, turns: Iterator[Turn]) -> Iterator[Answer]:
        turn = None
        for turn in turns:
            pass
        assert turn is not None
        if turn.problem:
            yield Answer(turn.problem, abstained=True, query=turn.question.query, answerer=self.answerer.name)
            return
        t = time.perf_counter()
        for ans in self.answerer.stream(turn.question, turn.passages):
            yield replace(ans, query=turn.question.query, unmatched=turn.unmatched, suggestions=turn.suggestions,
                          passages=ans.passages or turn.passages,  # the reader's passages carry its scores
                          timings={**turn.timings, "answer_ms": (time.perf_counter() - t) * 1000,
                                   "total_ms": (time.perf_counter() - turn.t0) * 1000})


def build_answerer(settings: Settings, scorer: SentenceScorer, llm=None, encode=None):
    """The answerer by settings: the trained reader (default), the bi-encoder (`QA_READER=none`), or a
    language model (`QA_ANSWERER=ollama:...|openai:...`)."""
    from qa.llm import backend_failure

    reader = build_reader(settings.reader) if llm is None else None
    if reader is not None:
        threshold = reader.threshold if settings.reader_threshold is None else settings.reader_threshold
        return ReaderAnswerer(reader, threshold, settings.max_answer_sentences, stop=settings.reader_stop)
    if llm is None:
        return ExtractiveAnswerer(scorer, settings.abstain_threshold, settings.max_answer_sentences)
    return GenerativeAnswerer(llm, encode, settings.support_threshold, name=settings.answerer,
                              failure=lambda e: backend_failure(settings, e))


def build_chain(settings: Settings, store=None, llm=None) -> Runnable:
    """Assemble the chain. `store` and `llm` may be given (tests); otherwise built from settings."""
    from index.store import open_store
    from qa.llm import backend_failure, build_chat_model

    store = store or open_store(settings)
    llm = llm if llm is not None else build_chat_model(settings)
    scorer = sentence_scorer(store)
    condense = None
    if llm is not None:
        def condense(question: str, history: list[str]) -> str:
            try:
                return str(llm.invoke(condense_messages(question, history)).content).strip()
            except Exception as e:
                raise backend_failure(settings, e) from e
    pipeline = Pipeline(store, build_retriever(settings, store, scorer), build_answerer(settings, scorer, llm, store.embeddings.encode),
                        settings.max_question_chars, condense)
    return RunnableLambda(pipeline.understand) | RunnableLambda(pipeline.retrieve) | RunnableGenerator(pipeline.answer)


def ask(chain: Runnable, question: str, history: list[str] | None = None) -> Answer:
    final = None
    for final in chain.stream({"question": question, "history": history or []}):
        pass
    assert final is not None
    return final
