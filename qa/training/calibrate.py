"""The abstention threshold, calibrated by running the whole assistant over validation questions; and the model card."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.reader import Abstention, logit
from qa.training.data import Article, held_out, load_squad
from qa.training.model import log


def validation_articles(shared: Path, share: float = 0.25) -> list[Article]:
    """What the shipped reader's threshold is calibrated on: the part of the SQuAD 2.0 article kept out
    of training (its last 22 paragraphs, 96 unanswerable questions and the rest), and the first `share` of the paragraphs
    of each of the 13 SQuAD 1.1 dev articles that SQuAD 2.0 dev (`../shared/eval/`) does not hold."""
    held = held_out(load_squad(shared / "squad2-train-first10.json.gz"))
    dev = [Article(a.title, a.paragraphs[: max(1, int(len(a.paragraphs) * share))])
           for a in load_squad(shared / "squad1.1-dev-extra13.json.gz")]
    return held + dev


def fit_abstention(reader_best: list[float], dense_best: list[float | None], answerable: list[bool],
                   min_each: int = 20, prior: Abstention = Abstention()) -> Abstention:
    """The weights of the confidence (qa/reader.py, Abstention): a logistic regression of answerable
    against unanswerable questions on the logit of the reader's best answerability and the passages'
    best dense similarity, both classes weighed alike. Without `min_each` questions of each kind there
    is nothing to fit: `prior`, the weights of the reader it was continued from (or the answerability alone)."""
    from sklearn.linear_model import LogisticRegression

    y = np.array(answerable, dtype=int)
    if min(int(y.sum()), int(len(y) - y.sum())) < min_each:
        return prior
    x = np.array([[logit(h), d or 0.0] for h, d in zip(reader_best, dense_best)])
    fit = LogisticRegression(class_weight="balanced", max_iter=1000).fit(x, y)
    head, dense = (float(v) for v in fit.coef_[0])
    if head <= 0:  # the answerability must count for answering, or nothing the reader says matters
        return Abstention()
    return Abstention(head, dense, float(fit.intercept_[0]))


def prior_abstention(card: dict) -> Abstention:
    """The confidence's weights to keep where the validation questions cannot fit new ones: the reader's
    own, else those of the shipped reader it was continued from, else the answerability alone."""
    if card.get("abstention"):
        return Abstention(**card["abstention"])
    if card.get("from_shipped"):
        from qa.reader import shipped_dir

        shipped = shipped_dir() / "reader.json"
        if shipped.is_file() and (a := json.loads(shipped.read_text()).get("abstention")):
            return Abstention(**a)
    return Abstention()


def calibrate(folder: Path, articles: list[Article], settings, max_wrong: float = 0.08, progress: bool = True) -> dict:
    """Run the assistant with the reader in `folder` over `articles` (retrieval included, as
    `qa eval` does) and set its abstention threshold where `max_wrong` of the answerable questions
    fall under it; the card records the threshold, its curve and what it gave."""
    import tempfile

    from qa.measure.evaluate import metrics, run_eval
    from qa.measure.report import draw_curve

    with tempfile.TemporaryDirectory(prefix="qa-calibrate-") as tmp:
        path = Path(tmp) / "validation.json"
        path.write_text(json.dumps({"version": "v2.0", "data": [{"title": a.title, "paragraphs": a.paragraphs} for a in articles]}))
        s = settings.model_copy(update={"reader": str(folder), "reader_threshold": 0.0})
        m, records = run_eval(path, s, progress=progress)
    card = json.loads((folder / "reader.json").read_text()) if (folder / "reader.json").exists() else {}
    prior = prior_abstention(card)
    model = fit_abstention([r.reader_best or 0.0 for r in records], [r.dense_best for r in records],
                           [r.example.answerable for r in records], prior=prior)
    for r in records:  # the confidence the answerer will compute with these weights
        r.top_score = model.confidence(r.reader_best or 0.0, r.dense_best)
    m = {**m, **metrics(records, settings.top_k)}
    ans = np.array([r.top_score for r in records if r.example.answerable])
    unans = np.array([r.top_score for r in records if not r.example.answerable])
    threshold = float(np.quantile(ans, max_wrong)) if len(ans) else 0.5
    draw_curve(m, folder / "calibration.png")
    card["threshold"] = round(threshold, 4)
    card["abstention"] = {k: round(v, 4) for k, v in asdict(model).items()}
    card["abstention_kept"] = model is prior and prior != Abstention()  # too few unanswerable questions to fit
    card["calibration"] = {
        "date": time.strftime("%Y-%m-%d"), "questions": len(records), "answerable": int(len(ans)), "unanswerable": int(len(unans)), "max_wrong": max_wrong,
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
  questions of `The_Legend_of_Zelda:_Twilight_Princess` (its other questions are SQuAD 1.1's), and the
  questions of the first 21 paragraphs of `Spectre_(2015_film)` (92 unanswerable, 161 answerable);
- TyDi QA GoldP, English train (Clark et al., 2020), Apache-2.0;
- COVID-QA (Moller et al., 2020), Apache-2.0.
Validated and calibrated on SQuAD 1.1 dev (the 13 articles not in SQuAD 2.0 dev) and the other 22
paragraphs of `Spectre_(2015_film)` (96 unanswerable questions), CC BY-SA 4.0. Never on `../shared/eval/`.
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
        "(qa/reader.py runs it; qa/training/ made it).", "",
        f"- Base: {card.get('base')}, all 6 layers, with a span head (2 logits a token) and an answerability head on `[CLS]`.",
        "- Files: `reader.onnx` (int8 weights in 7 bits, per channel), `tokenizer.json`, `reader.json` (this card's figures and the threshold),",
        "  `weights-map.json` (which ONNX initializer holds each torch parameter: `--from-shipped` starts from it).",
        *([f"- Made {card.get('date')} by `{command}`: the mean, parameter by parameter, of the weights of these readers,",
           "  each continued from the same one (a model soup, Wortsman et al., 2022):",
           *[f"  - `{a.get('folder')}`: made {a.get('date')} by `{a.get('command')}` ({a.get('steps') or 0:,} steps)"
             for a in card["averaged"]]] if card.get("averaged") else [
          f"- Made {card.get('date')} by `{command}`: {card.get('steps', 0):,} steps of {card.get('batch', 32)} examples "
          f"(seed {card.get('seed', 0)}, at most {card.get('max_tokens')} tokens, AdamW, {card.get('precision') or 'bf16 autocast'} on the CPU).",
          f"  `qa train-reader --steps {card.get('steps', 0)}` repeats as many steps (its rate then decays by step rather than by time)."]),
        *([f"- Continued (`--from-shipped`) from the reader shipped before it, made {prev.get('date')} by `{prev.get('command')}` "
           f"({prev.get('steps', 0):,} steps{', itself continued from an earlier one' if prev.get('continued_from') else ''}); "
           "that reader is in the project's history."] if (prev := card.get("continued_from")) else []),
        *([f"- Exported again {ex.get('date')} by `{ex.get('command')}`: the same weights, read back from its earlier int8 export,",
           "  quantised as today's export does (7 bits, so that no CPU's int8 products overflow: docs/reader.md), then calibrated again."]
          if (ex := card.get("exported")) else []),
        *(["- Examples by kind: " + ", ".join(f"{k} {n:,}" for k, n in sorted(card["examples"].items())) + "."]
          if card.get("examples") else []), "",
        ATTRIBUTION if card.get("data") == DEFAULT_DATA else
        "Trained on: " + ", ".join(f"`{d}`" for d in card.get("data", [])) +
        (" (continued from the shipped reader: its card lists its data, licences and attribution)." if card.get("from_shipped") else "."),
        "",
        "## Validation", "",
        "Windows of held-out articles (span against the gold answer; AUC: answerable windows against windows with no answer):",
        f"span exact match {v.get('em', float('nan')):.3f}, F1 {v.get('f1', float('nan')):.3f}; no-answer AUC "
        f"{v.get('auc_head', float('nan')):.3f} (answerability head), {v.get('auc_margin', float('nan')):.3f} (span over null).", "",
        f"int8 export against the torch model on 200 validation windows: same best span {a.get('same_span', float('nan')):.3f}, "
        f"answerability logit correlation {a.get('has_answer_corr', float('nan')):.4f}.", "",
    ]
    if c:
        lines += [
            "## Abstention threshold", "",
            f"Calibrated{' ' + c['date'] if c.get('date') else ''} by running the whole assistant (retrieval, then the reader) over {c['questions']:,} validation questions "
            f"({c['answerable']:,} answerable, {c['unanswerable']} unanswerable): the threshold {card['threshold']:.4f} is where "
            f"{c['max_wrong']:.0%} of answerable questions fall under the reader's confidence. There it abstains on "
            + (f"{c['unanswerable_abstained']:.3f} of unanswerable and " if c.get("unanswerable_abstained") is not None else "")
            + f"{c['answerable_abstained']:.3f} of answerable ones; "
            f"span exact match {c['span_exact_match']:.3f} and F1 {c['span_f1']:.3f} without abstention.", "",
            *([f"The confidence is sigmoid({ab['head']:.4f} x logit(the reader's best answerability) + {ab['dense']:.4f} x "
               f"(the passages' best dense similarity) {'-' if ab['bias'] < 0 else '+'} {abs(ab['bias']):.4f}): a logistic "
               + ("regression fitted for the reader it was continued from, kept: these validation questions hold too few "
                  "unanswerable ones to fit it" if card.get("abstention_kept") else "regression fitted on the same questions")
               + " (qa/reader.py, `Abstention`; docs/reader.md).", ""]
              if (ab := card.get("abstention")) and ab.get("dense") else []),
            "![abstention trade-off](calibration.png)", "",
            "| threshold | answerable abstained | unanswerable abstained |", "|---|---|---|",
            *[f"| {p['threshold']:.3f} | {p['answerable_abstained']:.3f} | {p['unanswerable_abstained']:.3f} |" for p in c["curve"][::2]],
        ]
    return "\n".join(lines) + "\n"
