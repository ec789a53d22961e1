"""The reader: pure parts (windows, combining logits, training examples, near-miss swaps) with
made-up logits and texts; the shipped reader on the seeds; and `qa train-reader` end to end on a
tiny subset (train a few steps, export to int8 ONNX, load, score, continue from the export)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from qa.cite import Sentence
from qa.reader import Reading, Span, read, span_scores, windows
from qa.schema import Passage
from qa.train_reader import Article, answer_span, auc, build_examples, length_batches, swap, window

from conftest import ROOT, cli_json, run_cli

TEXT = "Tesla was born in 1856. He moved to America in 1884. He died in New York in 1943."


def test_windows_cover_every_sentence_once_in_runs_of_at_most_the_word_limit():
    spans = [(0, 23), (24, 52), (53, 82)]
    assert windows(spans, TEXT, words=100) == [(0, 82)]
    assert windows(spans, TEXT, words=11) == [(0, 52), (53, 82)]
    assert windows(spans, TEXT, words=3) == [(0, 23), (24, 52), (53, 82)]  # a long sentence stands alone


def test_span_scores_keep_spans_inside_the_context_and_in_order():
    start = np.array([5.0, 0.0, 3.0, 1.0])
    end = np.array([5.0, 0.0, 1.0, 4.0])
    context = np.array([False, False, True, True])
    s = span_scores(start, end, context)
    assert np.isneginf(s[0]).all() and np.isneginf(s[:, 0]).all()  # the [CLS] is no answer span
    assert s[2, 3] == 7.0 and s[2, 2] == 4.0 and np.isneginf(s[3, 2])  # an end before its start is none


def _logits(offsets, seq, start_at, end_at, null=0.0, has=2.0):
    n = len(offsets)
    start, end = np.full(n, -5.0), np.full(n, -5.0)
    start[0] = end[0] = null / 2
    start[start_at] = end[end_at] = 4.0
    return start, end, has, offsets, seq


def test_read_turns_window_logits_into_the_passage_span_and_sentence_scores():
    p = Passage(id="a", source="t.txt", start=100, end=100 + len(TEXT), text=TEXT)
    sents = [Sentence(0, 100, 123, TEXT[:23]), Sentence(0, 124, 152, TEXT[24:52]), Sentence(0, 153, 182, TEXT[53:])]
    # tokens: [CLS] q [SEP], then words of the window; the answer "1884" is token 7
    words = [(TEXT.find(w), TEXT.find(w) + len(w)) for w in ("Tesla", "was", "born", "He moved", "1884")]
    offsets = [(0, 0), (0, 4), (0, 0)] + words
    seq = [None, 0, None, 1, 1, 1, 1, 1]
    reading = read([(0, 0, TEXT, sents)], [_logits(offsets, seq, 7, 7)], [p], 1)
    span = reading.best()
    assert span.text == "1884" and TEXT[span.start:span.end] == "1884"
    assert reading.answerable == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert reading.sentence_scores[(0, 124)] > 0.9 > reading.sentence_scores[(0, 100)]


def test_a_span_never_runs_across_a_sentence_end():
    p = Passage(id="a", source="t.txt", start=0, end=len(TEXT), text=TEXT)
    sents = [Sentence(0, 0, 23, TEXT[:23]), Sentence(0, 24, 52, TEXT[24:52])]
    offsets = [(0, 0), (0, 4), (0, 0), (10, 14), (18, 23), (24, 26), (47, 51)]  # born 1856. | He 1884
    seq = [None, 0, None, 1, 1, 1, 1]
    start, end, has, _, _ = _logits(offsets, seq, 4, 6)  # the best start in one sentence, the best end in the next
    start[3], end[5] = 3.0, 3.0
    reading = read([(0, 0, TEXT, sents)], [(start, end, has, offsets, seq)], [p], 1)
    span = reading.best()
    assert span.text in ("1856.", "born in 1856.", "He moved to America in 1884", "He", "1884")
    assert not (span.start < 23 < span.end)


def test_the_best_span_comes_from_the_passage_most_likely_to_answer():
    reading = Reading([0.2, 0.9], [Span(0, 0, 3, "abc", 5.0), Span(1, 4, 8, "defg", 1.0)])
    assert reading.best().text == "defg" and reading.answerable == 0.9
    assert Reading([], []).best() is None and Reading([], []).answerable == 0.0


def test_answer_span_falls_back_to_the_text_when_its_offset_is_wrong():
    assert answer_span("born in 1856 and", {"text": "1856", "answer_start": 8}) == (8, 12)
    assert answer_span("born in 1856 and", {"text": "1856", "answer_start": 0}) == (8, 12)
    assert answer_span("born in 1856 and", {"text": "1943", "answer_start": 0}) is None


def test_a_window_holds_its_sentence_and_stays_within_the_word_limit():
    spans = [(0, 23), (24, 52), (53, 82)]
    for seed in range(10):
        a, b = window(spans, 1, 11, random.Random(seed), TEXT)
        assert a <= 24 and b >= 52 and len(TEXT[a:b].split()) <= 11


def test_a_swap_replaces_a_name_the_paragraph_holds_with_one_it_does_not():
    q = "When did Nikola Tesla move to America?"
    para = "Nikola Tesla moved to America in 1884."
    out = swap(q, para, {"Thomas Edison", "Nikola Tesla", "New York"}, set(), random.Random(0))
    assert out in ("When did Thomas Edison move to America?", "When did New York move to America?")
    assert swap("When was it built in 1884?", "It was built in 1884.", set(), {"1884", "1901"}, random.Random(0)) == \
        "When was it built in 1901?"
    assert swap("Who built it?", "It was built.", {"Edison"}, set(), random.Random(0)) is None  # nothing to swap


def test_examples_hold_the_answer_window_and_windows_with_no_answer():
    early = " ".join(f"In year {n} of his youth he read many books about physics and about electricity." for n in range(8))
    paras = [{"context": f"{early} He moved to New York in 1884.",
              "qas": [{"question": "When did Tesla move to New York?", "answers": [{"text": "1884", "answer_start": len(early) + 24}]},
                      {"question": "When did Tesla move to Paris?", "is_impossible": True, "answers": []}]},
             {"context": "Edison opened a laboratory in Menlo Park in 1876. It became famous.",
              "qas": [{"question": "Where did Edison open a laboratory?", "answers": [{"text": "Menlo Park", "answer_start": 30}]}]}]
    examples = [e for seed in range(5) for e in build_examples([Article("t", paras)], random.Random(seed), p_retrieved=1.0,
                                                               p_same=1.0, p_swap=1.0)]
    kinds = {e.kind for e in examples}
    assert {"answer", "retrieved", "same-paragraph", "unanswerable"} <= kinds
    gold = {"When did Tesla move to New York?": "1884", "Where did Edison open a laboratory?": "Menlo Park"}
    for e in examples:
        if e.kind == "answer":
            assert e.context[e.start:e.end] == gold[e.question]
        else:
            assert e.start is None
            if e.kind in ("retrieved", "same-paragraph"):
                assert gold[e.question] not in e.context


def test_length_batches_cover_every_example_once_with_similar_lengths():
    lengths = [random.Random(i).randint(10, 200) for i in range(1000)]
    batches = length_batches(lengths, 32, seed=0, pool=8)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    assert spread < 60  # random batches of 32 would span about 180


def test_auc():
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0 and auc([0.1], [0.9]) == 0.0 and auc([0.5], [0.5]) == 0.5


# -- the shipped reader ---------------------------------------------------------------------------
@pytest.mark.integration
def test_the_shipped_reader_is_committed_with_its_card_and_threshold():
    from qa.reader import SHIPPED, build_reader

    card = json.loads((SHIPPED / "reader.json").read_text())
    assert 0 < card["threshold"] < 1 and card["steps"] > 0
    assert (SHIPPED / "reader.onnx").stat().st_size < 30_000_000
    assert (SHIPPED / "README.md").read_text().count("CC BY-SA") >= 1
    assert build_reader("shipped").threshold == card["threshold"]
    assert build_reader("none") is None


@pytest.mark.integration
@pytest.mark.parametrize("question, answer", [
    ("Which region was Blinken visiting at the time of the call?", "Middle East"),  # abstained on with QA_READER=none
    ("Who heads the Chinese Communist Party's international affairs department?", "Liu Jianchao"),
])
def test_the_reader_marks_the_answer_inside_its_exact_quote(real_env, capsys, question, answer):
    out = cli_json(capsys, "ask", question, "--json")
    assert not out["abstained"] and answer in out["answer"]
    span = out["answer_span"]
    text = (ROOT / span["source"]).read_text(encoding="utf-8")
    assert text[span["start"]:span["end"]] == span["text"] and answer in span["text"]
    c = out["citations"][0]
    assert text[c["start"]:c["end"]] == c["quote"] and c["start"] <= span["start"] < span["end"] <= c["end"]


@pytest.mark.integration
def test_the_cli_marks_the_span_in_bold_and_none_reader_marks_nothing(real_env, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, "ask", "Which journalist reported Liu's message to Israel?")
    assert code == 0 and "**" in out.splitlines()[0]
    monkeypatch.setenv("QA_READER", "none")
    out = cli_json(capsys, "ask", "Which journalist reported Liu's message to Israel?", "--json")
    assert out["answer_span"] is None and out["confidence"] is None


@pytest.mark.integration
def test_a_question_no_document_answers_is_abstained_on(real_env, capsys):
    out = cli_json(capsys, "ask", "What is the boiling point of mercury at sea level?", "--json")
    assert out["abstained"] and out["answer_span"] is None and out["confidence"] < json.loads(
        (ROOT / "models" / "reader" / "reader.json").read_text())["threshold"]


# -- training, end to end ---------------------------------------------------------------------------
def _tiny_squad(path: Path) -> Path:
    paras = [{"context": "Tesla was born in 1856 in Smiljan. He studied in Graz. He moved to New York in 1884.",
              "qas": [{"question": "When did Tesla move to New York?", "answers": [{"text": "1884", "answer_start": 80}]},
                      {"question": "Where was Tesla born?", "answers": [{"text": "Smiljan", "answer_start": 26}]}]},
             {"context": "Edison opened a laboratory in Menlo Park in 1876. It became famous for the phonograph.",
              "qas": [{"question": "Where did Edison open a laboratory?", "answers": [{"text": "Menlo Park", "answer_start": 30}]},
                      {"question": "What was the laboratory famous for?", "answers": [{"text": "the phonograph", "answer_start": 71}]}]}]
    path.write_text(json.dumps({"data": [{"title": "Inventors", "paragraphs": paras}]}))
    return path


@pytest.mark.integration
def test_train_reader_trains_exports_and_the_export_reads(tmp_path, capsys):
    data = _tiny_squad(tmp_path / "tiny.json")
    out = tmp_path / "reader"
    cal = json.loads(data.read_text())
    cal["data"][0]["paragraphs"][0]["qas"].append({"question": "When did Tesla move to Paris?", "is_impossible": True, "answers": []})
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    card = cli_json(capsys, "train-reader", "--data", str(data), "--out", str(out), "--steps", "3", "--json",
                    "--calibrate", str(tmp_path / "cal.json"))
    assert card["steps"] == 3 and card["examples"]["answer"] == 4
    c = card["calibration"]
    assert c["answerable"] == 4 and c["unanswerable"] == 1 and 0 <= card["threshold"] <= 1
    assert c["answerable_abstained"] <= 0.25  # the threshold sits at the 8th percentile of the answerable ones
    assert (out / "calibration.png").stat().st_size > 10_000 and "| threshold |" in (out / "README.md").read_text()
    assert 0.9 <= card["int8_agreement"]["has_answer_corr"] <= 1.0
    for name in ("reader.onnx", "tokenizer.json", "reader.json", "weights-map.json"):
        assert (out / name).is_file()
    from qa.reader import Reader

    reader = Reader(out)
    text = "Edison opened a laboratory in Menlo Park in 1876."
    p = Passage(id="x", source="e.txt", start=0, end=len(text), text=text)
    reading = reader.read("Where did Edison open a laboratory?", [p], [Sentence(0, 0, len(text), text)])
    span = reading.best()
    assert 0 <= reading.answerable <= 1 and text[span.start:span.end] == span.text


@pytest.mark.integration
def test_train_reader_continues_from_an_export_and_resumes_from_its_checkpoint(tmp_path, capsys, monkeypatch):
    import torch

    from qa import reader as reader_mod
    from qa.train_reader import load_from_export, make_model, base_model_path

    data = _tiny_squad(tmp_path / "tiny.json")
    first = tmp_path / "first"
    cli_json(capsys, "train-reader", "--data", str(data), "--out", str(first), "--steps", "2", "--json")
    model = make_model(base_model_path())
    trained = torch.load(first / "weights.pt", weights_only=True)
    load_from_export(model, first)  # the int8 export, dequantized, is the trained model to within its rounding
    got = model.state_dict()
    worst = max(float((got[k] - trained[k]).abs().max()) for k in trained if "pooler" not in k)
    assert worst < 0.1
    monkeypatch.setattr(reader_mod, "SHIPPED", first)
    second = tmp_path / "second"
    card = cli_json(capsys, "train-reader", "--data", str(data), "--out", str(second), "--steps", "2", "--from-shipped", "--json")
    assert card["steps"] == 2
    # a finished run's checkpoint is resumed from: asked again, it trains no further step
    card = cli_json(capsys, "train-reader", "--data", str(data), "--out", str(second), "--steps", "2", "--json")
    assert card["steps"] == 2


def test_train_reader_usage_errors_are_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train-reader", "--data", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "train-reader", "--docs", str(tmp_path))
    assert code == 2 and "--docs goes with --data" in err
    code, _, err = run_cli(capsys, "train-reader", "--minutes", "0")
    assert code == 2 and "positive" in err


def test_the_span_is_bold_in_the_chat_and_the_terminal_and_only_in_its_own_sentence():
    from qa.render import chat_markdown, cli_text
    from qa.schema import Answer, AnswerSpan, Citation

    c1 = Citation(1, "a.txt", 0, 20, "He moved in 1884.", 0.9)
    c2 = Citation(2, "a.txt", 21, 40, "It was 1884 again.", 0.8)
    ans = Answer("He moved in 1884. [1] It was 1884 again. [2]", citations=[c1, c2],
                 span=AnswerSpan("1884", "a.txt", 28, 32, n=2))
    assert cli_text(ans).splitlines()[0] == "He moved in 1884. [1] It was **1884** again. [2]"
    assert chat_markdown(ans).startswith("He moved in 1884. [\\[1\\]](#cite-1) It was **1884** again. [\\[2\\]](#cite-2)")
    ans.span = None
    assert "**" not in cli_text(ans).splitlines()[0]


@pytest.mark.integration
def test_train_reader_reads_your_own_questions_over_your_documents(tmp_path, capsys):
    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "kettle.md").write_text("# Kettle\n\nThe Delicate preset heats water to 70 degrees. The Boil preset heats it to 100 degrees.\n")
    qs = tmp_path / "my-questions.jsonl"
    qs.write_text("\n".join(json.dumps(d) for d in [
        {"question": "What temperature is the Delicate preset?", "answers": ["70 degrees"], "source": "kettle.md"},
        {"question": "What temperature is the Boil preset?", "answers": ["100 degrees"], "source": "kettle.md"},
        {"question": "How much does the kettle weigh?", "answerable": False, "source": "kettle.md"}]))
    out = tmp_path / "mine"
    card = cli_json(capsys, "train-reader", "--data", str(qs), "--docs", str(docs), "--out", str(out), "--steps", "2", "--json")
    assert card["examples"]["answer"] == 2 and card["examples"]["unanswerable"] == 1
    assert "my-questions.jsonl" in (out / "README.md").read_text()
    code, _, err = run_cli(capsys, "train-reader", "--data", str(qs), "--out", str(out))
    assert code == 2 and "--docs" in err

