"""The chain: {question, history} -> check -> take off a chat lead-in -> rewrite follow-up -> retrieve ->
rerank -> answer -> cite.

A LangChain Runnable built by `build_chain(settings)`. `chain.stream(...)` yields Answer
snapshots (a generative answer's draft grows, then the checked answer comes last);
`chain.invoke(...)` returns the final Answer. `ask()` is the plain-Python entry point.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator

from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from qa.answer import ExtractiveAnswerer, GenerativeAnswerer, ReaderAnswerer, rewrite_followup
from qa.cite import asked_words, content_words, spelling_suggestions
from qa.prompt import condense_messages
from qa.reader import build_reader
from qa.rerank import RerankedRetriever, SentenceReranker
from qa.retrieve import HybridRetriever, to_passage
from qa.schema import Answer
from qa.score import SentenceScorer
from qa.settings import Settings

EMPTY_QUESTION = "Please type a question about your documents."
OVERVIEW = ("I answer from the few passages that match a question, so I cannot summarise all your documents "
            "at once: ask about something in them (who, what, when, how many ...). The Library lists what is "
            "indexed (in a terminal: qa status).")
# A request with no words but these asks about the documents as a whole ("Summarize the documents",
# "What are these files about?"); one that names anything else ("Summarize what Liu said") is a question.
_OVERVIEW_CUES = frozenset("""summarize summarise summary summaries overview gist tl dr tldr
    documents document files file texts text corpus library everything""".split())
_OVERVIEW_WORDS = _OVERVIEW_CUES | frozenset("give tell main key points point topics topic contents content short brief briefly please all".split())
SMALL_TALK = "Ask me a question about your documents: I answer from them only, with a citation for each claim."
_SMALL_TALK_WORDS = frozenset("hi hello hey hiya thanks thank ok okay bye goodbye cheers".split())
NO_DOCUMENTS = ("No documents are indexed yet: add some with \"Add documents\" in the browser, or `qa index PATH` "
                "in a terminal, then ask again.")


def check_question(question: str, max_chars: int) -> str | None:
    """Why a question cannot be answered as asked, or None when it can (pure)."""
    if not question or not re.search(r"\w", question):
        return EMPTY_QUESTION
    if len(question) > max_chars:
        return (f"Your question is {len(question):,} characters long; please ask it in under "
                f"{max_chars:,} characters (put long text into a document and index it instead).")
    words = set(content_words(question))
    if words and words <= _OVERVIEW_WORDS and words & _OVERVIEW_CUES:
        return OVERVIEW
    if words and words <= _SMALL_TALK_WORDS:  # "hi", "thanks!", "ok": nothing to look up
        return SMALL_TALK
    return None


# How people lead into a question in a chat ("Can you tell me who Blinken is?", "I'd like to know
# ..."): none of it is what the documents are asked about, and the words weigh against the sentence
# that answers (idf makes a word the documents never use the heaviest of all), so it is taken off.
_LEAD_INS = [re.compile(p, re.I) for p in (
    r"(hi|hello|hey|ok|okay|so|well|and|also|now)\b[\s,!.:;-]+",
    r"please\b[\s,]*",
    r"(can|could|would|will)\s+you\s+(please\s+)?",
    r"(tell|show|give)\s+me\s+((all|everything|more|something|anything|a\s+bit|a\s+little)\s+)?((about|on|regarding|concerning)\s+)?",
    r"(explain|describe)\s+((to\s+me|for\s+me)\s+)?",
    r"(i\s+(want|wanna|need|would\s+like)\s+to\s+(know|find\s+out|learn|understand)|i\s*['’]d\s+like\s+to\s+know|"
    r"(do|does)\s+(you|anyone|the\s+documents?)\s+know|i\s+(wonder|was\s+wondering)|let\s+me\s+know)\s+((about|regarding)\s+)?",
    r"what\s+(do|does)\s+(you|the\s+documents?|it|they)\s+(know|say)\s+(about|of|on)\s+",
)]
_TRAILING = re.compile(r"(\s*,\s*(please|thanks|thank\s+you))+\s*([.!?]*)$", re.I)  # "..., please?" (not "as they please")


def plain_question(question: str) -> str:
    """The question without a chat lead-in or a trailing "please" (pure): "Can you tell me who
    Blinken is?" -> "who Blinken is?". A question that would be left with no words stays as asked."""
    plain = question.strip()
    changed = True
    while changed:
        changed = False
        for lead in _LEAD_INS:
            m = lead.match(plain)
            if m and m.end() < len(plain):
                plain, changed = plain[m.end():].lstrip(), True
    plain = _TRAILING.sub(r"\3", plain)
    return plain if plain != question.strip() and content_words(plain) else question


def question_names(question: str) -> list[str]:
    """The names a question asks about (pure): its capitalised words after the first, without a
    possessive ("Celeron's" -> "Celeron"); acronyms ("CCP") and initials ("U.S.") are left out, as
    documents often spell them out."""
    words = re.findall(r"[^\W\d_][\w-]*(?:['’][\w]+)?", question)
    out = []
    for w in words[1:]:
        name = re.sub(r"['’]s?$", "", w)
        if len(name) > 1 and name[:1].isupper() and not name.isupper() and name not in out:
            out.append(name)
    return out


def sentence_scorer(store) -> SentenceScorer:
    """Scores sentences with the vectors the index stored for them and the retriever's cached query vector."""
    e = store.embeddings
    return SentenceScorer(e.encode, embed_query=e.embed_query, stored=store.manifest.sentence_vectors,
                          query_tokens=getattr(e, "query_tokens", None), stored_tokens=store.manifest.sentence_tokens,
                          encode_tokens=getattr(e, "encode_tokens", None), word_idf=store.word_idf)


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


def build_chain(settings: Settings, store=None, llm=None) -> Runnable:
    """Assemble the chain. `store` and `llm` may be given (tests); otherwise built from settings."""
    from index.store import open_store
    from qa.llm import backend_failure, build_chat_model

    store = store or open_store(settings)
    llm = llm if llm is not None else build_chat_model(settings)
    encode = store.embeddings.encode
    scorer = sentence_scorer(store)
    retriever = build_retriever(settings, store, scorer)
    reader = build_reader(settings.reader) if llm is None else None
    if reader is not None:
        threshold = reader.threshold if settings.reader_threshold is None else settings.reader_threshold
        answerer = ReaderAnswerer(reader, threshold, settings.max_answer_sentences)
    elif llm is None:
        answerer = ExtractiveAnswerer(scorer, settings.abstain_threshold, settings.max_answer_sentences)
    else:
        answerer = GenerativeAnswerer(llm, encode, settings.support_threshold, name=settings.answerer,
                                      failure=lambda e: backend_failure(settings, e))

    def prepare(inp: dict) -> dict:
        t0 = time.perf_counter()
        question = inp.get("question") or ""
        history = [h for h in (inp.get("history") or []) if h and h.strip()]
        problem = check_question(question, settings.max_question_chars)
        query = plain = plain_question(question) if problem is None else question
        if problem is None and history:
            if llm is None:
                query = rewrite_followup(plain, history)
            else:
                try:
                    query = str(llm.invoke(condense_messages(question, history)).content).strip() or plain
                except Exception as e:
                    raise backend_failure(settings, e) from e
        # The extractive answerer scores sentences against the question without its lead-in; an LLM
        # reads the question as the person wrote it.
        asked = plain if llm is None else question
        return {"question": asked, "history": history, "query": query, "problem": problem,
                "timings": {"rewrite_ms": (time.perf_counter() - t0) * 1000}, "t0": t0}

    def retrieve(state: dict) -> dict:
        if state["problem"]:
            return {**state, "passages": [], "unmatched": [], "suggestions": {}}
        t = time.perf_counter()
        passages = [to_passage(d) for d in retriever.invoke(state["query"])]
        if not passages and not store.manifest.counts()[1]:  # retrieval finds nothing only in an empty index
            return {**state, "problem": NO_DOCUMENTS, "passages": [], "unmatched": [], "suggestions": {}}
        names = question_names(state["question"])  # the question as typed, not what it carries
        unseen = store.unseen(names + [w for w in asked_words(state["question"]) if w not in names])
        unmatched = [w for w in unseen if w in names]
        return {**state, "passages": passages, "unmatched": unmatched, "suggestions": spelling_suggestions(unseen, passages),
                "timings": {**state["timings"], "retrieve_ms": (time.perf_counter() - t) * 1000}}

    def answer(states: Iterator[dict]) -> Iterator[Answer]:
        state: dict = {}
        for s in states:
            state.update(s)
        if state["problem"]:
            yield Answer(state["problem"], abstained=True, query=state["query"], answerer=answerer.name)
            return
        t = time.perf_counter()
        for ans in answerer.stream(state["question"], state["query"], state["passages"]):
            ans.query, ans.unmatched = state["query"], state["unmatched"]
            ans.passages = ans.passages or state["passages"]  # the reader's passages carry its scores
            ans.suggestions = state["suggestions"]
            ans.timings = {**state["timings"], "answer_ms": (time.perf_counter() - t) * 1000,
                           "total_ms": (time.perf_counter() - state["t0"]) * 1000}
            yield ans

    return RunnableLambda(prepare) | RunnableLambda(retrieve) | RunnableGenerator(answer)


def ask(chain: Runnable, question: str, history: list[str] | None = None) -> Answer:
    final = None
    for final in chain.stream({"question": question, "history": history or []}):
        pass
    assert final is not None
    return final
