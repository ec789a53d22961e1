"""`qa eval` on a spread subset of SQuAD 2.0 (tests/data, CC BY-SA 4.0), real model, isolated index."""
import re
from pathlib import Path

import pytest
from conftest import run_cli

from index.errors import UsageError
from qa.measure.evaluate import (
    Example,
    Record,
    by_folder,
    contains_answer,
    exact_match,
    load_jsonl,
    load_squad,
    metrics,
    normalize,
    token_f1,
)
from qa.measure.report import report_markdown

DATA = Path(__file__).parents[1] / "data" / "squad2-dev-a.json"
SEEDS = Path(__file__).parents[2] / "seeds"
GOOD = '{"question": "Who heads the department?", "answers": ["Liu Jianchao"], "source": "000_85dd2a9e8a7d58fd.txt"}'


def test_squad_normalisation_and_scores():
    assert normalize("The  Normans!") == "normans"
    assert contains_answer("They were from the 10th and 11th centuries.", ["10th and 11th centuries"])
    assert not contains_answer("In 1100.", ["10th century"])
    assert token_f1("the 10th century", ["10th century"]) == 1.0
    assert token_f1("in the 10th century", ["10th century"]) == pytest.approx(0.8)
    assert token_f1("nothing", ["10th century"]) == 0.0



def test_containment_breaks_words_at_every_punctuation_mark():
    # SQuAD's normalisation deletes ASCII marks only, so these held their answer and were counted as misses
    assert contains_answer("Before Rollo's arrival, its population", ["Rollo"])
    assert contains_answer("Dyrrachium—one of the naval bases of the Adriatic—fell again.", ["the Adriatic"])
    assert contains_answer("today mostly Afrikaans-speaking", ["Afrikaans"])
    assert contains_answer("in Switzerland and the Netherlands.[citation needed]", ["Switzerland and the Netherlands."])
    assert contains_answer("the war of 1754–1763", ["1754"])
    # but a number stays one word, and a word is never matched inside another
    assert not contains_answer("It grew 3.5 times.", ["5"])
    assert not contains_answer("It cost 1,000 pounds.", ["000"])
    assert contains_answer("It cost 1,000 pounds.", ["1000"])
    assert not contains_answer("the twenty-fourth film", ["four"])
    # span exact match keeps SQuAD's own normalisation, comparable with published figures
    assert normalize("Afrikaans-speaking") == "afrikaansspeaking"

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
    assert m["span"] == {"exact_match": 0.0, "f1": 0.0, "marked": 0.0, "validity": 1.0}  # no span marked
    recs[0].span, recs[0].span_valid = "France", True
    assert metrics(recs, k=5)["span"] == {"exact_match": 1.0, "f1": 1.0, "marked": 1.0, "validity": 1.0}
    recs[0].span = "in France"
    assert metrics(recs, k=5)["span"]["f1"] == pytest.approx(2 * 0.5 / 1.5) and not exact_match("in France", ["France"])


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


@pytest.mark.parametrize("line, says", [
    ("not json", "not JSON"),
    ('["Who?"]', "not an object"),
    ('{"answers": ["x"]}', '"question" must be'),
    ('{"question": "Who?", "answers": [""]}', '"answers" must be'),
    ('{"question": "Who?", "answers": ["x"], "answerable": "false"}', '"answerable" must be true or false'),
    ('{"question": "Who?", "answerable": true}', 'answerable but no "answers"'),
    ('{"question": "Who?", "answers": ["x"], "source": "missing.txt"}', 'source "missing.txt" is not a file'),
])
def test_a_jsonl_line_that_cannot_be_read_as_meant_is_named(tmp_path, line, says):
    data = tmp_path / "q.jsonl"
    data.write_text(f"{GOOD}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(UsageError) as e:
        load_jsonl(data, SEEDS)
    assert str(e.value).startswith("q.jsonl line 3: ") and says in str(e.value) and "\n" not in str(e.value)


def test_jsonl_takes_one_answer_alone_and_reads_no_answers_as_unanswerable(tmp_path):
    data = tmp_path / "q.jsonl"
    data.write_text(f'{GOOD}\n{{"question": "Who?", "answers": "Blinken"}}\n{{"question": "Capital of Peru?"}}\n', encoding="utf-8")
    a, b, c = load_jsonl(data, SEEDS)
    assert a.answerable and a.source.endswith("seeds/000_85dd2a9e8a7d58fd.txt")
    assert (b.answers, b.answerable, b.source) == (["Blinken"], True, None)
    assert (c.answers, c.answerable) == ([], False)


@pytest.mark.parametrize("content, says", [
    ('{"question": "Who?"}\n{"question": "When?"}', "is not JSON (Extra data, line 2)"),
    ("[1, 2]", 'no "data" list'),
    ('{"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}', "article 1, paragraph 1: no 'context'"),
])
def test_a_file_that_is_not_squad_says_where(tmp_path, content, says):
    data = tmp_path / "set.json"
    data.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=re.escape(says)):
        load_squad(data, tmp_path / "docs")


def test_qa_eval_on_a_bad_dataset_is_one_line_and_exit_2(tmp_path, capsys):

    data = tmp_path / "q.jsonl"
    data.write_text(f'{GOOD}\n{{"question": "Who?", "answers": ["x"], "answerable": "no"}}\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "eval", str(data), "--docs", str(SEEDS))
    assert code == 2 and out == ""
    assert err.startswith('error: q.jsonl line 2: "answerable" must be true or false') and err.count("\n") == 1
    code, _, err = run_cli(capsys, "eval", str(DATA), "--limit", "0")
    assert code == 2 and "--limit" in err
    code, _, err = run_cli(capsys, "eval", str(DATA), "--wrap", "5")
    assert code == 2 and "--wrap must be 20 columns or more" in err
    code, _, err = run_cli(capsys, "eval", str(SEEDS.parent / "tests" / "data" / "seeds-questions.jsonl"), "--docs", str(SEEDS), "--wrap", "60")
    assert code == 2 and "--wrap wraps a SQuAD file's paragraphs" in err and err.count("\n") == 1
    named_json = tmp_path / "q.json"  # questions one a line, in a file named as SQuAD's
    named_json.write_text(f"{GOOD}\n{GOOD}\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "eval", str(named_json))
    assert code == 2 and "is not JSON (Extra data, line 2)" in err and "a .jsonl" in err and err.count("\n") == 1


def test_jsonl_without_docs_is_a_usage_error(capsys):

    code, _, err = run_cli(capsys, "eval", str(Path(__file__).parents[1] / "data" / "seeds-questions.jsonl"))
    assert code == 2 and "--docs" in err
