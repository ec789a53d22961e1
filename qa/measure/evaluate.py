"""Evaluation: run the assistant over a labelled set, in an isolated index, and measure it.

Datasets: SQuAD 2.0 JSON (each paragraph becomes a document; its questions' gold passage is that
document) or JSONL lines `{"question", "answers": [...], "answerable": bool, "source"?}` over a
folder of documents. Metrics: retrieval hit@1/5/10, MRR, answer-recall@k; answer containment,
token F1, length; citation validity and correctness; abstention rates and the threshold curve;
latency. The scoring functions are pure; `run_eval` does the I/O.
"""
from __future__ import annotations

import collections
import json
import os
import re
import string
import tempfile
import textwrap
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np

from index.errors import UsageError
from index.settings import Settings
from qa.measure.report import (  # noqa: F401  (qa eval --report)
    draw_curve,
    report_markdown,
)
from qa.progress import progress as show_progress

THRESHOLDS = [round(x, 3) for x in np.arange(0.025, 0.976, 0.025)]


@dataclass
class Example:
    question: str
    answers: list[str]
    answerable: bool
    source: str | None = None  # the gold document, when known


# -- SQuAD-style normalisation and scores (pure) ---------------------------------------------------
def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def words(text: str) -> str:
    """`text` as lower-case words, every punctuation mark (Unicode's too) a word break except inside a
    number ("3.5", "1,000"), articles dropped: "Rollo's", "Adriatic—fell" and "Afrikaans-speaking"
    hold "Rollo", "Adriatic" and "Afrikaans", which SQuAD's normalisation (deleting ASCII marks only) misses."""
    text = re.sub(r"(?<=\d)[.,](?=\d)", "", text.lower())
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def contains_answer(text: str, answers: list[str]) -> bool:
    """A gold answer appears in `text` as whole words (containment, answer recall, correctness)."""
    t = f" {words(text)} "
    return any(f" {words(a)} " in t for a in answers if words(a))


def exact_match(prediction: str, answers: list[str]) -> bool:
    return any(normalize(prediction) == normalize(a) for a in answers)


def token_f1(prediction: str, answers: list[str]) -> float:
    pred = normalize(prediction).split()
    best = 0.0
    for a in answers:
        gold = normalize(a).split()
        common = collections.Counter(pred) & collections.Counter(gold)
        same = sum(common.values())
        if same:
            p, r = same / len(pred), same / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


# -- datasets -------------------------------------------------------------------------------------
JSONL_LINE = '{"question": "...", "answers": ["..."], "answerable": true, "source": "a file in --docs"}'


def read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            import gzip

            return gzip.decompress(path.read_bytes()).decode("utf-8")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path.name} is not UTF-8 text; save it as UTF-8") from None


def load_squad(path: Path, docs_dir: Path, wrap: int | None = None) -> list[Example]:
    """Write each paragraph of a SQuAD 2.0 file to `docs_dir` (hard-wrapped at `wrap` columns, as
    text files often are, when given) and return its questions; a file that is not SQuAD 2.0 is a
    UsageError saying where it parts from it."""
    from index.indexer import source_name
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise UsageError(f"{path.name} is not JSON ({e.msg}, line {e.lineno}); expected a SQuAD 2.0 file") from None
    if not (isinstance(data, dict) and isinstance(data.get("data"), list)):
        raise UsageError(f'{path.name} is not SQuAD 2.0 (no "data" list of articles)')
    examples = []
    where = "the file"
    try:
        for n, article in enumerate(data["data"], start=1):
            where = f"article {n}"
            slug = re.sub(r"\W+", "_", article["title"]).strip("_")[:60]
            for i, para in enumerate(article["paragraphs"]):
                where = f"article {n}, paragraph {i + 1}"
                doc = docs_dir / slug / f"{i:03d}.txt"
                doc.parent.mkdir(parents=True, exist_ok=True)
                context = para["context"]
                if wrap:
                    context = textwrap.fill(context, wrap, break_on_hyphens=False, break_long_words=False)
                doc.write_text(context, encoding="utf-8")
                for qa in para["qas"]:
                    answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    answerable = not qa.get("is_impossible", False) and bool(answers)
                    examples.append(Example(qa["question"], answers, answerable, source_name(doc)))
    except (KeyError, TypeError, AttributeError) as e:
        what = f"no {e}" if isinstance(e, KeyError) else "not shaped as SQuAD 2.0"
        raise UsageError(f"{path.name}, {where}: {what}; each article needs a title and paragraphs, "
                         "each paragraph a context and qas") from None
    return examples


def parse_line(d: object, where: str) -> Example:
    """One JSONL line's object -> an Example, its source as written (pure). A line that cannot be
    read as meant is a UsageError naming it (`where`), rather than figures that quietly mislead."""
    if not isinstance(d, dict):
        raise UsageError(f"{where}: not an object; each line is one object such as {JSONL_LINE}")
    question = d.get("question")
    if not isinstance(question, str) or not question.strip():
        raise UsageError(f'{where}: "question" must be a non-empty string')
    answers = d.get("answers", [])
    answers = [answers] if isinstance(answers, str) else answers  # one answer, given alone
    if not (isinstance(answers, list) and all(isinstance(a, str) and a.strip() for a in answers)):
        raise UsageError(f'{where}: "answers" must be a list of non-empty strings')
    answerable = d.get("answerable", bool(answers))  # as in SQuAD 2.0: no answers, unanswerable
    if not isinstance(answerable, bool):
        raise UsageError(f'{where}: "answerable" must be true or false, not {json.dumps(answerable)}')
    if answerable and not answers:
        raise UsageError(f'{where}: answerable but no "answers"; list the answer strings, or set "answerable": false')
    source = d.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise UsageError(f'{where}: "source" must be a file name, relative to --docs')
    return Example(question, list(dict.fromkeys(answers)), answerable, source)


def load_jsonl(path: Path, docs_dir: Path) -> list[Example]:
    from index.indexer import source_name  # gold sources named as the index names them

    if not docs_dir.is_dir():
        raise UsageError(f"--docs {docs_dir} is not a folder; give the folder of documents the questions are about")
    out = []
    for n, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            ex = parse_line(json.loads(line), where)
        except json.JSONDecodeError as e:
            raise UsageError(f"{where}: not JSON ({e.msg}); each line is one object such as {JSONL_LINE}") from None
        if ex.source is not None:
            if not (docs_dir / ex.source).is_file():
                raise UsageError(f'{where}: source "{ex.source}" is not a file in {docs_dir}; give its path relative to --docs')
            ex.source = source_name(docs_dir / ex.source)
        out.append(ex)
    return out


# -- metrics (pure) -----------------------------------------------------------------------------
@dataclass
class Record:
    example: Example
    sources: list[str]  # retrieved sources, best first (up to 10)
    chunks: list[str]  # retrieved chunk texts, best first
    answer: str
    abstained: bool
    top_score: float
    citations: list[dict]
    citation_valid: list[bool]
    first_cited_passage: str | None
    latency_ms: float
    failure: str | None = field(default=None)
    span: str | None = None  # the reader's answer span, when it marked one
    span_valid: bool | None = None  # its text is the document's at its offsets
    # what the confidence is made of (qa/reader.py, Abstention): the best answerability the reader read
    # and the best dense similarity of the passages; calibration fits their weights
    reader_best: float | None = None
    dense_best: float | None = None


def metrics(records: list[Record], k: int) -> dict:
    ans = [r for r in records if r.example.answerable]
    unans = [r for r in records if not r.example.answerable]
    with_gold = [r for r in ans if r.example.source]

    def hit(r: Record, n: int) -> bool:
        return r.example.source in r.sources[:n]

    def rr(r: Record) -> float:
        return 1.0 / (r.sources.index(r.example.source) + 1) if r.example.source in r.sources else 0.0

    def mean(xs) -> float:
        return float(np.mean(xs)) if len(xs) else 0.0

    answered = [r for r in ans if not r.abstained]
    spans = [None if r.abstained else r.span for r in ans]
    all_cites = [v for r in records for v in r.citation_valid]
    curve = [
        {"threshold": t, "abstain_unanswerable": mean([r.top_score < t for r in unans]),
         "abstain_answerable": mean([r.top_score < t for r in ans]),
         "containment": mean([(r.top_score >= t) and contains_answer(r.answer, r.example.answers) for r in ans])}
        for t in THRESHOLDS
    ]
    lat = [r.latency_ms for r in records]
    return {
        "questions": len(records), "answerable": len(ans), "unanswerable": len(unans), "k": k,
        "retrieval": {
            "hit@1": mean([hit(r, 1) for r in with_gold]), "hit@5": mean([hit(r, 5) for r in with_gold]),
            "hit@10": mean([hit(r, 10) for r in with_gold]), "mrr": mean([rr(r) for r in with_gold]),
            f"answer_recall@{k}": mean([contains_answer(" ".join(r.chunks[:k]), r.example.answers) for r in ans]),
        },
        "answers": {
            "containment": mean([(not r.abstained) and contains_answer(r.answer, r.example.answers) for r in ans]),
            "token_f1": mean([0.0 if r.abstained else token_f1(r.answer, r.example.answers) for r in ans]),
            "mean_words": mean([len(r.answer.split()) for r in answered]),
        },
        # The marked span against the gold answers, SQuAD-normalised; an abstention or no span scores 0.
        "span": {
            "exact_match": mean([s is not None and exact_match(s, r.example.answers) for s, r in zip(spans, ans)]),
            "f1": mean([0.0 if s is None else token_f1(s, r.example.answers) for s, r in zip(spans, ans)]),
            "marked": mean([s is not None for s in spans]),
            "validity": mean([r.span_valid for r in records if r.span_valid is not None]) if any(r.span_valid is not None for r in records) else 1.0,
        },
        "citations": {
            "validity": mean(all_cites) if all_cites else 1.0,
            "count": len(all_cites),
            "correctness": mean([r.first_cited_passage is not None and contains_answer(r.first_cited_passage, r.example.answers) for r in answered]),
        },
        "abstention": {
            "unanswerable_abstained": mean([r.abstained for r in unans]),
            "answerable_wrongly_abstained": mean([r.abstained for r in ans]),
            "curve": curve,
        },
        "latency_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95)},
    }


def by_folder(records: list[Record], k: int) -> dict[str, dict]:
    """The headline figures per folder of the gold source (for SQuAD, per article), so a change can be
    seen to help across the corpus rather than in one part of it."""
    folders = {r.example.source: PurePath(r.example.source).parent for r in records if r.example.source}
    try:  # named from where they part: `Normans`, not `/tmp/qa-eval-x/docs/Normans`
        common = PurePath(os.path.commonpath([str(f) for f in folders.values()])) if folders else None
    except ValueError:  # absolute and relative paths mixed
        common = None
    groups: dict[str, list[Record]] = collections.defaultdict(list)
    for r in records:
        folder = folders.get(r.example.source)
        name = "(no source)" if folder is None else str(folder.relative_to(common) if common else folder)
        groups[name].append(r)
    out = {}
    for name, recs in sorted(groups.items()):
        m = metrics(recs, k)
        out[name] = {"questions": m["questions"], "hit@1": m["retrieval"]["hit@1"], "hit@5": m["retrieval"]["hit@5"],
                     "containment": m["answers"]["containment"], **{key: v for key, v in m["abstention"].items() if key != "curve"}}
    return out


def classify_failure(r: Record) -> str | None:
    ex = r.example
    if not ex.answerable:
        return None
    if r.abstained:
        return "wrong abstention"
    if ex.source and ex.source not in r.sources[:5]:
        return "wrong passage"
    if not contains_answer(r.answer, ex.answers):
        return "right passage, answer missed"
    return None


def run_eval(dataset: Path, settings: Settings, docs: Path | None = None, limit: int | None = None,
             work_dir: Path | None = None, progress: bool = True, wrap: int | None = None,
             out_of_corpus: Path | None = None) -> tuple[dict, list[Record]]:
    """Evaluate in `work_dir`, or else in a temporary folder removed when done (its index can take
    hundreds of MB). `wrap`: hard-wrap a SQuAD file's paragraphs at that many columns.
    `out_of_corpus`: a SQuAD or JSONL file whose answerable questions are asked of this index, which
    lacks their documents: each should be abstained on."""
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
            return run_eval(dataset, settings, docs, limit, Path(tmp), progress, wrap, out_of_corpus)
    from index.indexer import index_paths
    from index.store import open_store
    from qa.chain import build_chain

    work = Path(work_dir)
    docs_dir = work / "docs"
    if dataset.suffix == ".jsonl":
        if docs is None:
            raise UsageError("a JSONL dataset needs --docs FOLDER (the documents its questions are about)")
        if wrap:
            raise UsageError("--wrap wraps a SQuAD file's paragraphs; a JSONL dataset's documents are yours as they are")
        examples, corpus = load_jsonl(dataset, docs), docs
    else:
        try:
            examples, corpus = load_squad(dataset, docs_dir, wrap), docs_dir
        except UsageError as e:
            raise UsageError(f"{e} (questions of your own go in a .jsonl, one object a line, with --docs)") from None
    if not examples:
        raise UsageError(f"{dataset.name} holds no questions")
    if limit:
        examples = _spread(examples, limit)
    # An isolated index: never the user's data directory.
    s = settings.model_copy(update={"data_dir": work / "index", "chroma_url": None})
    store = open_store(s)
    index_paths([corpus], s, store=store, progress=progress)
    k = s.top_k
    chain = build_chain(s, store=store)
    from qa.chain import ask, build_retriever
    from qa.retrieve import to_passage

    wide = build_retriever(s, store, k=max(10, k))  # the chain's retrieval, ten deep for hit@10
    texts: dict[str, str] = {}
    records = []
    for ex in show_progress(examples, len(examples), "evaluating", enabled=progress):
        t0 = time.perf_counter()
        answer = ask(chain, ex.question)
        latency = (time.perf_counter() - t0) * 1000
        ranked = [to_passage(d) for d in wide.invoke(ex.question)]
        valid = []
        for c in answer.citations:
            if c.source not in texts:
                texts[c.source] = store.document_text(c.source) or ""
            valid.append(texts[c.source][c.start : c.end] == c.quote)
        scores = [c.score for c in answer.citations + answer.nearest]
        first = answer.citations[0] if answer.citations else None
        first_passage = next((p.text for p in answer.passages if first and p.id == first.passage_id), None)
        # with a reader, abstention compares its confidence with the threshold; without, the best sentence score
        top = answer.confidence if answer.confidence is not None else max(scores) if scores else 0.0
        span_valid = None
        if answer.span is not None:
            sp = answer.span
            span_valid = texts.setdefault(sp.source, store.document_text(sp.source) or "")[sp.start:sp.end] == sp.text
        rec = Record(ex, [p.source for p in ranked], [p.text for p in ranked], answer.text, answer.abstained,
                     top, [c.to_dict() for c in answer.citations], valid, first_passage, latency,
                     span=answer.span.text if answer.span else None, span_valid=span_valid,
                     reader_best=max((p.reader_score for p in answer.passages if p.reader_score is not None), default=None),
                     dense_best=max((p.dense_score for p in answer.passages if p.dense_score is not None), default=None))
        rec.failure = classify_failure(rec)
        records.append(rec)
    result = {**metrics(records, k), "by_folder": by_folder(records, k)}
    if out_of_corpus is not None:
        result["out_of_corpus"] = run_out_of_corpus(out_of_corpus, chain, work / "ooc-docs", limit, progress)
    return result, records


def run_out_of_corpus(path: Path, chain, docs_dir: Path, limit: int | None, progress: bool) -> dict:
    """Ask `path`'s answerable questions of an index without their documents: the share abstained
    on (all of them should be), and at each threshold of the confidence the answerer reports."""
    from qa.chain import ask

    if path.suffix == ".jsonl":
        questions = [parse_line(json.loads(line), f"{path.name} line {n}")
                     for n, line in enumerate(read_text(path).splitlines(), start=1) if line.strip()]
    else:
        questions = load_squad(path, docs_dir)  # written beside, never indexed
    questions = [q for q in questions if q.answerable]
    if limit:
        questions = _spread(questions, limit)
    abstained, tops = [], []
    for ex in show_progress(questions, len(questions), "out-of-corpus", enabled=progress):
        answer = ask(chain, ex.question)
        abstained.append(answer.abstained)
        scores = [c.score for c in answer.citations + answer.nearest]
        tops.append(answer.confidence if answer.confidence is not None else max(scores, default=0.0))
    mean = (lambda xs: float(np.mean(xs)) if xs else 0.0)
    return {"questions": len(questions), "abstained": mean(abstained),
            "curve": [{"threshold": t, "abstained": mean([x < t for x in tops])} for t in THRESHOLDS]}


def _spread(examples: list[Example], limit: int) -> list[Example]:
    """An evenly spread subset, so a small --limit still covers every article."""
    if limit >= len(examples):
        return examples
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]
