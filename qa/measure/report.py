"""`qa eval --report`: the misses by kind and the abstention trade-off curve, drawn as an image."""
from __future__ import annotations

import collections
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.measure.evaluate import Record

def draw_curve(m: dict, dest: Path) -> Path:
    """The abstention trade-off as a PNG: unanswerable (and out-of-corpus) questions abstained on
    against answerable ones wrongly abstained on, one point per threshold, this run's marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = m["abstention"]["curve"]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    x = [p["abstain_answerable"] for p in curve]
    ax.plot(x, [p["abstain_unanswerable"] for p in curve], marker=".", label="unanswerable questions")
    if "out_of_corpus" in m:
        ax.plot(x, [p["abstained"] for p in m["out_of_corpus"]["curve"]], marker=".", label="questions about documents not indexed")
    ab = m["abstention"]
    ax.plot([ab["answerable_wrongly_abstained"]], [ab["unanswerable_abstained"]], "o", color="black", label="this run")
    ax.set_xlabel("answerable questions wrongly abstained on")
    ax.set_ylabel("abstained on")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Abstention trade-off, by threshold")
    fig.tight_layout()
    fig.savefig(dest)
    plt.close(fig)
    return dest


def report_markdown(m: dict, records: list[Record], dataset: str, per_kind: int = 5, image: str | None = None) -> str:
    r, a, c, ab = m["retrieval"], m["answers"], m["citations"], m["abstention"]
    lines = [
        f"# Evaluation: {dataset}", "",
        f"{m['questions']} questions ({m['answerable']} answerable, {m['unanswerable']} unanswerable), k={m['k']}.", "",
        "| metric | value |", "|---|---|",
        *[f"| retrieval {k} | {v:.3f} |" for k, v in r.items()],
        f"| answer containment | {a['containment']:.3f} |", f"| token F1 | {a['token_f1']:.3f} |",
        f"| answer span exact match / F1 | {m['span']['exact_match']:.3f} / {m['span']['f1']:.3f} |",
        f"| mean answer length (words) | {a['mean_words']:.1f} |",
        f"| citation validity | {c['validity']:.3f} ({c['count']} citations) |", f"| citation correctness | {c['correctness']:.3f} |",
        f"| unanswerable abstained | {ab['unanswerable_abstained']:.3f} |",
        f"| answerable wrongly abstained | {ab['answerable_wrongly_abstained']:.3f} |",
        f"| latency p50 / p95 (ms) | {m['latency_ms']['p50']:.0f} / {m['latency_ms']['p95']:.0f} |", "",
        "## Abstention threshold trade-off", "",
        *([f"![abstention trade-off]({image})", ""] if image else []),
        *([f"Out of corpus: abstained on {m['out_of_corpus']['abstained']:.3f} of {m['out_of_corpus']['questions']} "
           "questions whose documents are not indexed.", ""] if "out_of_corpus" in m else []),
        "Containment at each threshold counts the answers this run gave; below the run's own threshold "
        "it cannot count the questions the run abstained on, so it stays at the run's figure.", "",
        "| threshold | unanswerable abstained | answerable abstained | containment |", "|---|---|---|---|",
        *[f"| {p['threshold']:.3f} | {p['abstain_unanswerable']:.3f} | {p['abstain_answerable']:.3f} | {p['containment']:.3f} |" for p in ab["curve"]],
    ]
    if len(m.get("by_folder", {})) > 1:
        lines += ["", "## By folder", "",
                  "| folder | questions | hit@1 | hit@5 | containment | unanswerable abstained | answerable wrongly abstained |",
                  "|---|---|---|---|---|---|---|",
                  *[f"| {name} | {g['questions']} | {g['hit@1']:.3f} | {g['hit@5']:.3f} | {g['containment']:.3f} | "
                    f"{g['unanswerable_abstained']:.3f} | {g['answerable_wrongly_abstained']:.3f} |" for name, g in m["by_folder"].items()]]
    lines += ["", "## Failures"]
    by_kind = collections.defaultdict(list)
    for rec in records:
        if rec.failure:
            by_kind[rec.failure].append(rec)
    for kind in ("wrong passage", "right passage, answer missed", "wrong abstention"):
        lines += ["", f"### {kind} ({len(by_kind[kind])})", ""]
        for rec in by_kind[kind][:per_kind]:
            lines.append(f"- **Q:** {rec.example.question} — **gold:** {' | '.join(rec.example.answers[:3])}  ")
            lines.append(f"  **answer:** {rec.answer[:300]}")
    return "\n".join(lines) + "\n"


# -- the run (I/O) --------------------------------------------------------------------------------
