"""Load script: N concurrent gradio_client sessions x M questions against a running app.

    python tests/load.py http://127.0.0.1:7860/ --sessions 32 --questions 10 [--pid SERVER_PID]

Every request must come back answered or told "busy"; none may error, and the app must still
answer afterwards. Prints the counts, p50/p95 latency and the server's peak RSS (from /proc).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

QUESTIONS = [
    "Who heads the Chinese Communist Party's international affairs department?",
    "What did Wang Yi say about the two-state solution?",
    "What is the capital of Australia?",
    "When did Wang Yi call Blinken?",
    "What did Israel sign at the UN Human Rights Council?",
]


def peak_rss_mb(pid: int | None) -> float | None:
    if not pid:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def run(url: str, sessions: int, questions: int, pid: int | None = None) -> dict:
    from gradio_client import Client

    results: list[tuple[str, float]] = []
    lock = threading.Lock()

    def session(i: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as e:  # could not even connect: counts as an error for every question
            with lock:
                results.extend([(f"error: {e}", 0.0)] * questions)
            return
        for j in range(questions):
            t0 = time.perf_counter()
            try:
                out = client.predict(QUESTIONS[(i + j) % len(QUESTIONS)], [], api_name="/ask")
                kind = "busy" if out.get("busy") else ("error" if out.get("error") else "answered")
            except Exception as e:
                kind = f"error: {type(e).__name__}: {e}"
            with lock:
                results.append((kind, (time.perf_counter() - t0) * 1000))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    answered = [ms for k, ms in results if k == "answered"]
    after = Client(url, verbose=False).predict(QUESTIONS[0], [], api_name="/ask")
    q = statistics.quantiles(answered, n=20) if len(answered) >= 2 else [0.0] * 19
    return {
        "requests": len(results), "answered": len(answered), "busy": sum(k == "busy" for k, _ in results),
        "errors": [k for k, _ in results if k.startswith("error")], "wall_s": round(wall, 2),
        "p50_ms": round(statistics.median(answered), 1) if answered else None, "p95_ms": round(q[18], 1),
        "peak_rss_mb": peak_rss_mb(pid), "still_up": "Liu Jianchao" in after.get("answer", ""),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("--sessions", type=int, default=32)
    p.add_argument("--questions", type=int, default=10)
    p.add_argument("--pid", type=int, help="server process id, for its peak RSS")
    args = p.parse_args()
    out = run(args.url, args.sessions, args.questions, args.pid)
    print(json.dumps(out))
    return 0 if not out["errors"] and out["still_up"] else 1


if __name__ == "__main__":
    sys.exit(main())
