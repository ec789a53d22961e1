"""Reranking fused candidates by their best sentence: the pure order, the compressor, the chain's wiring,
and, with the real model, that it puts the gold passage first more often than fusion alone."""
from __future__ import annotations

from conftest import bag_encode
from langchain_core.documents import Document

from qa.rerank import SentenceReranker, rerank_order
from qa.score import SentenceScorer


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
