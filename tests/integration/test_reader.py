"""The reader: pure parts (windows, combining logits, training examples, near-miss swaps) with
made-up logits and texts; the shipped reader on the seeds; and `qa train-reader` end to end on a
tiny subset (train a few steps, export to int8 ONNX, load, score, continue from the export)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, cli_json, int8_weights_range, run_cli

from qa.cite import Sentence
from qa.schema import Passage


# -- the shipped reader ---------------------------------------------------------------------------
@pytest.mark.integration
def test_the_shipped_reader_is_committed_with_its_card_and_threshold():
    from qa.reader import SHIPPED, build_reader

    card = json.loads((SHIPPED / "reader.json").read_text())
    assert 0 < card["threshold"] < 1 and card["steps"] > 0
    assert (SHIPPED / "reader.onnx").stat().st_size < 30_000_000
    assert int8_weights_range(SHIPPED / "reader.onnx") == (-64, 64)  # 7 bits: no CPU's int8 products overflow
    assert (SHIPPED / "README.md").read_text().count("CC BY-SA") >= 1
    assert build_reader("shipped").threshold == card["threshold"]
    # its confidence weighs the answerability with the passages' nearness, both counting for an answer
    model = build_reader("shipped").abstention
    assert model.head > 0 and model.dense > 0 and (model.head, model.dense) == (card["abstention"]["head"], card["abstention"]["dense"])
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


@pytest.mark.integration
def test_a_window_scores_the_same_alone_as_among_others_and_in_its_place():
    """Windows run side by side, one a core: each comes back in its own place, with the scores it
    gets alone (int8 activations are scaled per pass, so batch-mates would change them)."""
    import numpy as np

    from qa.reader import build_reader

    reader = build_reader("shipped")
    text = (ROOT / "seeds" / "000_85dd2a9e8a7d58fd.txt").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.split()) > 8][:6]
    contexts = [" ".join(p.split()[:n]) for p, n in zip(paragraphs, (110, 15, 60, 110, 30, 80))]
    question = "Who heads the Chinese Communist Party's international affairs department?"
    together = reader.logits(question, contexts)
    assert len(together) == len(contexts) >= 4
    for context, (start, end, has, offsets, _) in zip(contexts, together):
        a_start, a_end, a_has, a_offsets, _ = reader.logits(question, [context])[0]
        assert offsets == a_offsets and has == a_has
        np.testing.assert_array_equal(start, a_start)
        np.testing.assert_array_equal(end, a_end)
    assert len({round(t[2], 4) for t in together}) > 1  # different windows, different scores


@pytest.mark.integration
def test_reading_stops_once_a_passage_answers_surely_and_abstains_as_before(real_settings):
    """A core's worth of passages at a time: once one answers surely enough to pass the threshold, the rest
    are left unread (the inspector says so); what is abstained on stays as reading them all."""
    from index.store import open_store
    from qa.chain import ask, build_chain
    from qa.reader import build_reader

    reader = build_reader("shipped")
    store = open_store(real_settings)
    everything = build_chain(real_settings.model_copy(update={"reader_stop": 1.0}), store=store)
    early = build_chain(real_settings.model_copy(update={"reader_stop": 0.0}), store=store)
    stopped = 0
    for q in ["Which region was Blinken visiting at the time of the call?",
              "Who heads the Chinese Communist Party's international affairs department?",
              "Which journalist reported Liu's message to Israel?",
              "What is the boiling point of mercury at sea level?"]:
        full, quick = ask(everything, q), ask(early, q)
        assert quick.abstained == full.abstained and all(p.reader_score is not None for p in full.passages)
        read = {p.id: p.reader_score for p in quick.passages if p.reader_score is not None}
        assert read == {p.id: p.reader_score for p in full.passages if p.id in read}  # the same scores, as far as it read
        assert read and quick.passages[0].id in read  # a core's worth of windows first: a long passage may be two
        if len(read) < len(quick.passages):
            stopped += 1
            # it stops at the answerability that reaches the threshold at these passages' nearness
            dense = max((p.dense_score for p in quick.passages if p.dense_score is not None), default=None)
            assert not quick.abstained and max(read.values()) >= reader.abstention.needed(reader.threshold, dense) - 1e-4
            assert quick.confidence >= reader.threshold
    if reader.workers < 5:  # two cores: a sure answer in the first two passages leaves three unread
        assert stopped >= 1


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
    from qa.training.model import native_bf16  # bf16 only where the CPU has it: emulated, it is many times slower

    assert card["precision"] == ("bf16 autocast" if native_bf16() else "fp32")
    assert card["precision"] in (out / "README.md").read_text()
    c = card["calibration"]
    assert c["answerable"] == 4 and c["unanswerable"] == 1 and 0 <= card["threshold"] <= 1
    assert card["abstention"] == {"head": 1.0, "dense": 0.0, "bias": 0.0}  # one unanswerable question: nothing to fit
    assert c["answerable_abstained"] <= 0.25  # the threshold sits at the 8th percentile of the answerable ones
    assert (out / "calibration.png").stat().st_size > 10_000 and "| threshold |" in (out / "README.md").read_text()
    assert 0.9 <= card["int8_agreement"]["has_answer_corr"] <= 1.0
    for name in ("reader.onnx", "tokenizer.json", "reader.json", "weights-map.json"):
        assert (out / name).is_file()
    assert int8_weights_range(out / "reader.onnx") == (-64, 64)
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
    from qa.training.export import load_from_export
    from qa.training.model import base_model_path, make_model

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
    weights = {"head": 0.5, "dense": 3.0, "bias": -2.0}  # as if the "shipped" one had been calibrated
    (first / "reader.json").write_text(json.dumps({**json.loads((first / "reader.json").read_text()), "abstention": weights}))
    second = tmp_path / "second"
    card = cli_json(capsys, "train-reader", "--data", str(data), "--out", str(second), "--steps", "2", "--from-shipped", "--json")
    assert card["steps"] == 2
    # calibrated on answerable questions only, it keeps the weights of the reader it continued from
    card = cli_json(capsys, "train-reader", "--out", str(second), "--calibrate-only", "--calibrate", str(data), "--json")
    assert card["abstention"] == weights and card["abstention_kept"] and card["calibration"]["unanswerable"] == 0
    assert "kept" in (second / "README.md").read_text()
    # a finished run's checkpoint is resumed from: asked again, it trains no further step, and its card
    # still says what the run it resumed was continued from
    card = cli_json(capsys, "train-reader", "--data", str(data), "--out", str(second), "--steps", "2", "--json")
    assert card["steps"] == 2 and card["from_shipped"] and card["continued_from"] is not None
    # the mean of the two readers' weights is a reader too, exported, calibrated and carded
    cal = json.loads(data.read_text())
    cal["data"][0]["paragraphs"][0]["qas"].append({"question": "When did Tesla move to Paris?", "is_impossible": True, "answers": []})
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    soup = tmp_path / "soup"
    card = cli_json(capsys, "train-reader", "--average", str(first), str(second), "--out", str(soup),
                    "--calibrate", str(tmp_path / "cal.json"), "--json")
    assert [a["steps"] for a in card["averaged"]] == [2, 2] and 0 <= card["threshold"] <= 1
    a, b = (torch.load(d / "weights.pt", weights_only=True) for d in (first, second))
    mean = torch.load(soup / "weights.pt", weights_only=True)
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(a[key], b[key]) and torch.allclose(mean[key], (a[key] + b[key]) / 2)
    assert str(second) in (soup / "README.md").read_text() and card["calibration"]["answerable"] == 4
    code, _, err = run_cli(capsys, "train-reader", "--average", str(first), "--out", str(soup))
    assert code == 2 and "two readers or more" in err


@pytest.mark.integration
def test_export_only_exports_the_shipped_reader_again_to_the_same_int8_weights(tmp_path, capsys):
    """How the shipped reader got its 7-bit weights (2026-12-08): its weights read back from the export
    and quantised again. Done to a 7-bit export it gives back the very same integers, and a new threshold."""
    import onnx
    from onnx import numpy_helper

    from qa.reader import SHIPPED

    data = _tiny_squad(tmp_path / "tiny.json")
    cal = json.loads(data.read_text())
    cal["data"][0]["paragraphs"][0]["qas"].append({"question": "When did Tesla move to Paris?", "is_impossible": True, "answers": []})
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    code, _, err = run_cli(capsys, "train-reader", "--export-only", "--out", str(tmp_path / "x"))
    assert code == 2 and "--from-shipped" in err
    out = tmp_path / "again"
    card = cli_json(capsys, "train-reader", "--from-shipped", "--export-only", "--out", str(out),
                    "--calibrate", str(tmp_path / "cal.json"), "--json")
    shipped = json.loads((SHIPPED / "reader.json").read_text())
    assert "--export-only" in card["exported"]["command"] and card["steps"] == shipped["steps"]
    assert card["calibration"]["questions"] == 5 and 0 <= card["threshold"] <= 1
    assert "Exported again" in (out / "README.md").read_text()

    def ints(path):
        return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer if i.name.endswith("_quantized")}

    a, b = ints(SHIPPED / "reader.onnx"), ints(out / "reader.onnx")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert card["int8_agreement"]["has_answer_corr"] > 0.99


@pytest.mark.integration
def test_a_run_of_minutes_resumes_from_its_checkpoint(tmp_path, capsys):
    """A `--minutes` run has no step count until it ends: its checkpoint still resumes (it once
    failed formatting the missing count) and counts the time already spent."""
    data = _tiny_squad(tmp_path / "tiny.json")
    out = tmp_path / "timed"
    first = cli_json(capsys, "train-reader", "--data", str(data), "--out", str(out), "--minutes", "0.02", "--json")
    assert first["steps"] >= 1
    code, printed, err = run_cli(capsys, "train-reader", "--data", str(data), "--out", str(out), "--minutes", "0.02", "--json")
    assert code == 0 and "Resuming from" in err and "minutes" in err
    assert json.loads(printed.strip().splitlines()[-1])["steps"] == first["steps"]  # its time was spent: no further step


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
