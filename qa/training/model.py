"""The reader as a torch model: MiniLM with a span head and an answerability head; encoding, batches, training, validation."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from qa.progress import eta
from qa.training.data import MAX_ANSWER_TOKENS, MAX_TOKENS, Example


def base_model_path() -> Path:
    from index.encoders import model_path

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


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16, AMX), where bf16 autocast pays; on an
    AVX2 CPU PyTorch emulates it, many times slower than fp32 (docs/reader.md)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def train(examples: list[Example], val: list[Example], out: Path, steps: int | None = None, minutes: float | None = None,
          batch: int = 32, lr: float = 1e-4, seed: int = 0, start_from: Path | None = None, val_every: int = 500,
          bf16: bool | None = None, threads: int | None = None, origin: dict | None = None) -> dict:
    """Fine-tune, checkpointing to `out/checkpoint.pt` (resumed from when there), then export.
    The run is `steps` long, or as many as `minutes` allows at the speed of its first steps; the
    learning rate decays linearly to 0 over it either way. `origin` (what it was continued from) is
    kept in the checkpoint, so a resumed run's card still says it."""
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    torch.set_num_threads(threads or os.cpu_count() or 2)
    if bf16 is None:
        bf16 = native_bf16()
    log(f"Training in {'bf16 autocast' if bf16 else 'fp32'} on {torch.get_num_threads()} threads "
        f"({'the CPU computes bf16 natively' if bf16 else 'this CPU has no native bf16, which PyTorch would emulate slowly'})")
    out.mkdir(parents=True, exist_ok=True)
    src = base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    model = make_model(src)
    if start_from is not None:  # continue from a trained reader (--from-shipped)
        from qa.training.export import (
            load_from_export,  # export.py builds on this module
        )

        load_from_export(model, start_from)
    enc = encode_all(tokenizer, examples)
    batches = length_batches([len(x) for x in enc["input_ids"]], batch, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    ckpt = out / "checkpoint.pt"
    state = {"step": 0, "steps": steps, "history": [], "origin": origin}
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        of = f"{state['steps']:,} steps" if state["steps"] else f"{minutes:g} minutes ({state.get('seconds', 0) / 60:.1f} done)"
        log(f"Resuming from {ckpt} at step {state['step']:,} of {of}")
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
    state["precision"] = "bf16 autocast" if bf16 else "fp32"
    torch.save(model.state_dict(), out / "weights.pt")
    return state
