"""`qa eval` on a spread subset of SQuAD 2.0 (tests/data, CC BY-SA 4.0), real model, isolated index."""
import json
import re
from pathlib import Path

import pytest
from conftest import cli_json, run_cli

from qa.measure.evaluate import (
    load_squad,
)

DATA = Path(__file__).parents[1] / "data" / "squad2-dev-a.json"


@pytest.mark.integration
def test_qa_eval_json_on_a_subset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    monkeypatch.setenv("QA_READER", "shipped")
    report = tmp_path / "report.md"
    other = tmp_path / "elsewhere.jsonl"  # questions about documents this index does not hold
    other.write_text('{"question": "How many moons does Jupiter have?", "answers": ["95"]}\n'
                     '{"question": "Who painted the Mona Lisa?", "answers": ["Leonardo da Vinci"]}\n')
    code, out, err = run_cli(capsys, "eval", str(DATA), "--json", "--limit", "60", "--report", str(report),
                             "--out-of-corpus", str(other))
    assert code == 0, err
    m = json.loads(out.strip().splitlines()[-1])
    assert re.search(r"evaluating: \d+/60 q \(\d+%\), ETA (\?|\d+m\d\ds)", err)  # progress, also when not a terminal
    assert m["questions"] == 60 and m["answerable"] > 10 and m["unanswerable"] > 10
    assert set(m["span"]) == {"exact_match", "f1", "marked", "validity"} and m["span"]["validity"] == 1.0
    assert m["span"]["f1"] >= m["span"]["exact_match"] > 0.2 and m["span"]["marked"] > 0.5
    assert m["out_of_corpus"]["questions"] == 2 and 0 <= m["out_of_corpus"]["abstained"] <= 1
    assert report.with_suffix(".png").stat().st_size > 10_000 and "![abstention trade-off](report.png)" in report.read_text()
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
def test_qa_eval_answers_as_well_when_the_paragraphs_are_hard_wrapped(tmp_path, capsys, monkeypatch):
    """`--wrap` writes each paragraph wrapped at that width, as text files and PDFs are: the answers
    must not fall to sentence fragments (they did: a newline ended a sentence), and retrieval must
    find the same passages (it did not: chunk boundaries moved with the line breaks)."""
    import json

    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    data = json.loads(DATA.read_text(encoding="utf-8"))
    subset = tmp_path / "two-articles.json"
    subset.write_text(json.dumps({"version": "v2.0", "data": data["data"][:2]}), encoding="utf-8")
    flat = cli_json(capsys, "eval", str(subset), "--json", "--limit", "80")
    wrapped = cli_json(capsys, "eval", str(subset), "--json", "--limit", "80", "--wrap", "50")
    assert flat["answerable"] > 30 and wrapped["citations"]["validity"] == 1.0
    assert wrapped["answers"]["containment"] >= flat["answers"]["containment"] - 0.05
    assert {k: round(v, 6) for k, v in wrapped["retrieval"].items()} == {k: round(v, 6) for k, v in flat["retrieval"].items()}
    assert wrapped["answers"]["mean_words"] >= 0.85 * flat["answers"]["mean_words"]
    docs = tmp_path / "docs"
    load_squad(subset, docs, wrap=50)
    assert all(max(map(len, f.read_text().splitlines())) <= 50 for f in docs.rglob("*.txt") if " " in f.read_text())


@pytest.mark.integration
def test_qa_eval_on_a_jsonl_over_a_folder(capsys, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = Path(__file__).parents[1] / "data" / "seeds-questions.jsonl"
    m = cli_json(capsys, "eval", str(data), "--docs", "seeds", "--json")
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (3, 2, 1)
    assert m["retrieval"]["hit@1"] == 1.0 and m["answers"]["containment"] == 1.0
    assert m["abstention"]["unanswerable_abstained"] == 1.0 and m["citations"]["validity"] == 1.0
    # The isolated index was in a temporary folder, and is gone.
    assert list(tmp_path.iterdir()) == []
