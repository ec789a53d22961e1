"""Reranking fused candidates by their best sentence: the pure order, the compressor, the chain's wiring,
and, with the real model, that it puts the gold passage first more often than fusion alone."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import bag_encode
from langchain_core.documents import Document

from qa.rerank import SentenceReranker, rerank_order
from qa.score import SentenceScorer

DATA = Path(__file__).parent / "data" / "squad2-dev-a.json"


def test_rerank_order_blends_retrieval_and_sentence_order():
    ids = ["a", "b", "c", "d"]
    scores = [0.1, 0.2, 0.9, 0.3]  # by sentence: c, d, b, a
    assert rerank_order(ids, scores, weight=0.0) == [0, 1, 2, 3]  # no weight: retrieval's order
    assert rerank_order(ids, scores, weight=100.0) == [2, 3, 1, 0]  # all weight: the sentences' order
    # Equal weights: c (retrieved 3rd, best sentence) overtakes a (retrieved 1st, worst sentence).
    assert rerank_order(ids, scores, weight=1.0)[0] == 2


def _doc(i, text):
    return Document(page_content=text, id=f"c{i}", metadata={"id": f"c{i}", "source": f"d{i}.txt", "start": 0, "end": len(text)})


def test_the_reranker_lifts_the_passage_whose_sentence_answers():
    question = "When was the castle of Caen built?"
    docs = [
        _doc(0, "Castles were common in Normandy. Many castles stood near rivers and towns."),
        _doc(1, "Markets were held weekly. The castle of Caen was built in 1060 by William."),
        _doc(2, "The weather in Normandy is mild and wet."),
    ]
    reranker = SentenceReranker(scorer=SentenceScorer(bag_encode), top_n=2, weight=2.0)
    out = reranker.compress_documents(docs, question)
    assert [d.id for d in out] == ["c1", "c0"]  # the answering passage first, the top_n kept
    assert out[0].metadata["sentence_score"] > out[1].metadata["sentence_score"]
    assert out[0].metadata["source"] == "d1.txt"  # retrieval's metadata is kept
    assert reranker.compress_documents([], question) == []


def test_the_chain_reranks_unless_turned_off(tmp_path, settings):
    from index.indexer import index_paths
    from index.store import open_store
    from qa.chain import ask, build_chain, build_retriever
    from qa.retrieve import HybridRetriever

    for i in range(12):
        (tmp_path / f"n{i}.txt").write_text(f"Note {i} is about the river number {i}. It flows north past village {i}.")
    index_paths([tmp_path], settings, progress=False)
    store = open_store(settings)
    query = "Which river flows past village 7?"
    fused = [d.id for d in HybridRetriever(store=store, k=settings.top_k).invoke(query)]

    off = settings.model_copy(update={"rerank_candidates": 0})
    assert [d.id for d in build_retriever(off, store).invoke(query)] == fused
    assert [p.id for p in ask(build_chain(off, store=store), query).passages] == fused

    reranked = build_retriever(settings, store).invoke(query)
    candidates = [d.id for d in HybridRetriever(store=store, k=settings.rerank_candidates).invoke(query)]
    assert len(reranked) == settings.top_k and {d.id for d in reranked} <= set(candidates)
    assert all(d.metadata["sentence_score"] is not None for d in reranked)
    answer = ask(build_chain(settings, store=store), query)
    assert [p.id for p in answer.passages] == [d.id for d in reranked]
    assert answer.passages[0].sentence_score is not None and answer.passages[0].fused_rank >= 1


@pytest.mark.integration
def test_reranking_puts_the_gold_passage_first_more_often(tmp_path):
    """Real MiniLM, real Chroma: over a spread subset of SQuAD 2.0, reranked hit@1 beats fusion's."""
    from index.indexer import index_paths
    from index.store import open_store
    from qa.chain import build_retriever
    from qa.measure.evaluate import _spread, load_squad
    from qa.settings import Settings

    s = Settings(data_dir=tmp_path / "idx", embedding="minilm")
    docs = tmp_path / "docs"
    examples = [e for e in _spread(load_squad(DATA, docs), 400) if e.answerable]
    index_paths([docs], s, progress=False)
    store = open_store(s)

    def hit_at_1(settings):
        retriever = build_retriever(settings, store)
        return np.mean([retriever.invoke(e.question)[0].metadata["source"] == e.source for e in examples])

    fused, reranked = hit_at_1(s.model_copy(update={"rerank_candidates": 0})), hit_at_1(s)
    assert len(examples) > 150
    assert reranked > fused + 0.02, (fused, reranked)
