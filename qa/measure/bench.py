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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "squad2-dev-a.json"


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
    """Run one of workers.py's measurements in a fresh process; its last line is its JSON."""
    cmd = [sys.executable, "-m", "qa.measure.workers", name, *map(str, args)]
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
