"""Retrieval: a query -> the top-k passages, dense + BM25 fused by reciprocal rank fusion.

`rrf_fuse` is pure. `HybridRetriever` is a LangChain `BaseRetriever` over a `index.store.Store`;
its Documents carry every score and rank in metadata, and `to_passage` turns one into a Passage.
Leaves out: choosing sentences or answering (answer.py).
"""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.schema import Passage


def rrf_fuse(rankings: list[list[str]], k: int = 60, weights: list[float] | None = None) -> dict[str, float]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks starting at 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + w / (k + rank)
    return scores


def to_passage(doc: Document) -> Passage:
    md = doc.metadata
    return Passage(
        id=md["id"], source=md["source"], start=int(md["start"]), end=int(md["end"]), text=doc.page_content,
        date=md.get("date"), page=md.get("page"), section=md.get("section"), kind=md.get("kind"), table_head=md.get("table_head"), dense_score=md.get("dense_score"), dense_rank=md.get("dense_rank"),
        bm25_score=md.get("bm25_score"), bm25_rank=md.get("bm25_rank"), fused_score=md.get("fused_score", 0.0),
        fused_rank=md.get("fused_rank"), sentence_score=md.get("sentence_score"),
        lead_start=md.get("lead_start"), lead_text=md.get("lead_text"), lead_chunk=md.get("lead_chunk"),
        lead_index=md.get("lead_index"), midline=bool(md.get("midline")),
    )


class HybridRetriever(BaseRetriever):
    """Dense (Chroma, cosine) and BM25 candidates, `fetch_k` each, fused with RRF, top `k` kept."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    k: int = 5
    fetch_k: int = 20
    rrf_k: int = 60

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        dense = self.store.dense(query, self.fetch_k)
        sparse = self.store.keyword(query, self.fetch_k)
        fused = rrf_fuse([[i for i, _ in dense], [i for i, _ in sparse]], k=self.rrf_k)
        top = sorted(fused, key=lambda i: -fused[i])[: self.k]
        records = self.store.chunks(top)
        leads = self.store.leads(list(records.values()))
        dense_info = {i: (s, r) for r, (i, s) in enumerate(dense, start=1)}
        sparse_info = {i: (s, r) for r, (i, s) in enumerate(sparse, start=1)}
        docs = []
        for rank, chunk_id in enumerate(top, start=1):
            rec = records.get(chunk_id)
            if rec is None:  # in Chroma but not (yet) recorded: an index update is in flight
                continue
            ds, dr = dense_info.get(chunk_id, (None, None))
            bs, br = sparse_info.get(chunk_id, (None, None))
            md = {
                "id": chunk_id, "source": rec.source, "start": rec.start, "end": rec.end, "date": rec.date,
                "page": rec.page, "section": rec.section, "kind": rec.kind, "table_head": rec.table_head, "dense_score": ds, "dense_rank": dr, "bm25_score": bs, "bm25_rank": br,
                "fused_score": fused[chunk_id], "fused_rank": rank, "midline": rec.midline,
            }
            if chunk_id in leads:
                md["lead_start"], md["lead_text"], md["lead_chunk"], md["lead_index"] = leads[chunk_id]
            docs.append(Document(page_content=rec.text, metadata=md, id=chunk_id))
        return docs
