"""`qa eval` on a spread subset of SQuAD 2.0 (tests/data, CC BY-SA 4.0), real model, isolated index."""
from pathlib import Path

import pytest

from conftest import cli_json
from qa.evaluate import Example, Record, by_folder, contains_answer, metrics, normalize, report_markdown, token_f1

DATA = Path(__file__).parent / "data" / "squad2-dev-a.json"


def test_squad_normalisation_and_scores():
    assert normalize("The  Normans!") == "normans"
    assert contains_answer("They were from the 10th and 11th centuries.", ["10th and 11th centuries"])
    assert not contains_answer("In 1100.", ["10th century"])
    assert token_f1("the 10th century", ["10th century"]) == 1.0
    assert token_f1("in the 10th century", ["10th century"]) == pytest.approx(0.8)
    assert token_f1("nothing", ["10th century"]) == 0.0


def test_metrics_on_known_records():
    ex_a = Example("q1", ["France"], True, "a.txt")
    ex_u = Example("q2", [], False, "b.txt")
    recs = [
        Record(ex_a, ["b.txt", "a.txt"], ["x", "in France"], "Normandy is in France. [1]", False, 0.8,
               [{"n": 1}], [True], "Normandy is in France.", 10.0),
        Record(ex_u, ["b.txt"], ["y"], "I could not find this.", True, 0.2, [], [], None, 30.0),
    ]
    m = metrics(recs, k=5)
    assert m["retrieval"]["hit@1"] == 0.0 and m["retrieval"]["hit@5"] == 1.0 and m["retrieval"]["mrr"] == 0.5
    assert m["answers"]["containment"] == 1.0 and m["citations"]["validity"] == 1.0
    assert m["abstention"]["unanswerable_abstained"] == 1.0 and m["abstention"]["answerable_wrongly_abstained"] == 0.0
    assert m["latency_ms"]["p50"] == 20.0


def test_figures_per_folder_of_the_gold_source():
    def rec(q, source, retrieved, answerable=True):
        return Record(Example(q, ["France"] if answerable else [], answerable, source), retrieved, ["in France"],
                      "In France. [1]", not answerable, 0.8, [{"n": 1}], [True], "In France.", 5.0)

    recs = [rec("q1", "Normans/000.txt", ["Normans/000.txt"]), rec("q2", "Normans/001.txt", ["Oil/000.txt", "Normans/001.txt"]),
            rec("q3", "Oil/000.txt", ["Normans/000.txt"]), rec("q4", "Oil/001.txt", ["Oil/001.txt"], answerable=False)]
    groups = by_folder(recs, k=5)
    assert list(groups) == ["Normans", "Oil"]
    assert groups["Normans"]["questions"] == 2 and groups["Normans"]["hit@1"] == 0.5 and groups["Normans"]["hit@5"] == 1.0
    assert groups["Oil"]["hit@5"] == 0.0 and groups["Oil"]["unanswerable_abstained"] == 1.0
    assert "## By folder" in report_markdown({**metrics(recs, 5), "by_folder": groups}, recs, "x.json")


@pytest.mark.integration
def test_qa_eval_json_on_a_subset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    report = tmp_path / "report.md"
    m = cli_json(capsys, "eval", str(DATA), "--json", "--limit", "60", "--report", str(report))
    assert m["questions"] == 60 and m["answerable"] > 10 and m["unanswerable"] > 10
    assert set(m["retrieval"]) == {"hit@1", "hit@5", "hit@10", "mrr", "answer_recall@5"}
    assert set(m["answers"]) == {"containment", "token_f1", "mean_words"}
    assert m["citations"]["validity"] == 1.0 and m["citations"]["count"] > 0
    assert set(m["abstention"]) == {"unanswerable_abstained", "answerable_wrongly_abstained", "curve"}
    assert set(m["latency_ms"]) == {"p50", "p95"}
    assert m["retrieval"]["hit@10"] > 0.5  # a real retriever, not noise
    text = report.read_text()
    assert "| citation validity | 1.000" in text and "## Abstention threshold trade-off" in text
    # The user's own index was never touched.
    assert not (tmp_path / "qa-data").exists()


@pytest.mark.integration
def test_qa_eval_on_a_jsonl_over_a_folder(capsys, monkeypatch):
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    data = Path(__file__).parent / "data" / "seeds-questions.jsonl"
    m = cli_json(capsys, "eval", str(data), "--docs", "seeds", "--json")
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (3, 2, 1)
    assert m["retrieval"]["hit@1"] == 1.0 and m["answers"]["containment"] == 1.0
    assert m["abstention"]["unanswerable_abstained"] == 1.0 and m["citations"]["validity"] == 1.0


def test_jsonl_without_docs_is_a_usage_error(capsys):
    from conftest import run_cli

    code, _, err = run_cli(capsys, "eval", str(Path(__file__).parent / "data" / "seeds-questions.jsonl"))
    assert code == 2 and "--docs" in err
