"""The reader: pure parts (windows, combining logits, training examples, near-miss swaps) with
made-up logits and texts; the shipped reader on the seeds; and `qa train-reader` end to end on a
tiny subset (train a few steps, export to int8 ONNX, load, score, continue from the export)."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import run_cli

from qa.cite import Sentence
from qa.reader import Reader, Reading, Span, read, sigmoid, span_scores, windows
from qa.schema import Passage
from qa.training.data import Article, answer_span, build_examples, negate, opposite, swap, window
from qa.training.model import auc, length_batches

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


def test_a_passage_further_down_retrieval_must_be_likelier_by_the_rank_prior_to_answer():
    spans = [Span(0, 0, 3, "first", 1.0), Span(1, 0, 3, "second", 1.0), Span(2, 0, 3, "third", 1.0)]
    # third: logit 2.0 - 2 x 0.5 = 1.0 against the first's 0.85: a little likelier and two places down, it answers
    assert Reading([0.7, 0.1, sigmoid(2.0)], spans).best().text == "third"
    # the second: logit 1.0 - 0.5 = 0.5 against the first's 0.85: likelier alone, but not by its place
    assert Reading([0.7, sigmoid(1.0), 0.1], spans).best().text == "first"


class _ScriptedReader(Reader):
    """The reader's passage loop over made-up logits: each window answers with the probability its
    text's first word names, and every window read is recorded."""

    def __init__(self, cores: int):
        self.cores, self.seen = cores, []

    @property
    def workers(self) -> int:
        return self.cores

    def logits(self, question, contexts):
        self.seen.append(list(contexts))
        out = []
        for c in contexts:
            p = float(c.split()[0])
            offsets, seq = [(0, 0), (0, 1), (0, 0), (0, len(c.split()[0])), (len(c.split()[0]) + 1, len(c))], [None, 0, None, 1, 1]
            out.append(_logits(offsets, seq, 4, 4, has=float(np.log(p / (1 - p)))))
        return out


def _passages(probabilities):
    texts = [f"{p} is what passage {i} says." for i, p in enumerate(probabilities)]
    passages = [Passage(id=str(i), source=f"{i}.txt", start=0, end=len(t), text=t) for i, t in enumerate(texts)]
    return passages, [Sentence(i, 0, len(t), t) for i, t in enumerate(texts)]


def test_reading_stops_after_the_round_where_a_passage_answers_surely_enough():
    passages, sents = _passages([0.3, 0.95, 0.99, 0.2, 0.1])
    reader = _ScriptedReader(cores=2)
    reading = reader.read("q?", passages, sents, stop=0.9)
    assert [len(r) for r in reader.seen] == [2]  # a core's worth, in the passages' order, then stop
    assert reading.unread == {2, 3, 4} and reading.answerable == pytest.approx(0.95) and reading.best().passage == 1
    reader = _ScriptedReader(cores=2)
    reading = reader.read("q?", passages, sents, stop=0.97)
    assert [len(r) for r in reader.seen] == [2, 2] and reading.unread == {4} and reading.best().passage == 2
    reader = _ScriptedReader(cores=2)  # nothing sure enough: every passage is read, as without `stop`
    full = reader.read("q?", passages, sents, stop=0.999)
    assert [len(r) for r in reader.seen] == [2, 2, 1] and not full.unread
    assert full.has_answer == pytest.approx(_ScriptedReader(cores=2).read("q?", passages, sents).has_answer)


def test_reading_goes_on_past_a_sure_passage_that_is_not_preferred():
    passages, sents = _passages([0.99, 0.3, 0.95, 0.2])
    reader = _ScriptedReader(cores=2)
    reading = reader.read("q?", passages, sents, stop=0.9, preferred=[False, True, True, True])
    assert [len(r) for r in reader.seen] == [2, 2] and reading.best([False, True, True, True], 0.5).passage == 2


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


def test_an_opposite_turns_a_word_the_paragraph_never_uses_and_leaves_names_alone():
    assert opposite("What is the largest city in Poland?", "Warsaw is the largest city.") == "What is the smallest city in Poland?"
    assert opposite("What is the largest city?", "The smallest is Sopot, the largest Warsaw.") is None  # it says both
    assert opposite("Who ran the First Year of Studies?", "Its dean ran it.") is None  # part of a name
    assert opposite("First, who came?", "They came.") == "Last, who came?"


def test_a_negation_goes_on_the_auxiliary_and_only_where_the_paragraph_negates_nothing():
    assert negate("When did Beyonce leave Destiny's Child?", "She left in 2005.") == "When didn't Beyonce leave Destiny's Child?"
    assert negate("How many people were killed?", "Five were killed.") == "How many people weren't killed?"
    assert negate("When did she leave?", "She did not leave until 2005.") is None
    assert negate("Name the city.", "It is Paris.") is None  # no question word and auxiliary


def test_real_unanswerable_questions_are_read_against_their_plausible_answer():
    filler = " ".join(f"Sentence {n} says nothing at all about the matter here." for n in range(30))
    text = f"{filler} The tower was painted red in 1901."
    qa = {"question": "When was the bridge painted red?", "is_impossible": True, "answers": [],
          "plausible_answers": [{"text": "1901", "answer_start": text.index("1901")}]}
    for seed in range(5):
        [e] = build_examples([Article("t", [{"context": text, "qas": [qa]}])], random.Random(seed))
        assert e.kind == "unanswerable" and "painted red in 1901" in e.context


def test_examples_hold_the_answer_window_and_windows_with_no_answer():
    early = " ".join(f"In year {n} of his youth he read many books about physics and about electricity." for n in range(8))
    paras = [{"context": f"{early} He moved to New York in 1884.",
              "qas": [{"question": "When did Tesla move to New York?", "answers": [{"text": "1884", "answer_start": len(early) + 24}]},
                      {"question": "When did Tesla move to Paris?", "is_impossible": True, "answers": []}]},
             {"context": "Edison opened a laboratory in Menlo Park in 1876. It became famous.",
              "qas": [{"question": "Where did Edison open a laboratory?", "answers": [{"text": "Menlo Park", "answer_start": 30}]}]}]
    examples = [e for seed in range(5) for e in build_examples([Article("t", paras)], random.Random(seed), p_retrieved=1.0,
                                                               p_same=1.0, p_swap=1.0, p_opposite=1.0, p_negate=1.0)]
    kinds = {e.kind for e in examples}
    assert {"answer", "retrieved", "same-paragraph", "unanswerable", "negated"} <= kinds
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


def test_abstention_weighs_answerability_with_nearness():
    from qa.reader import Abstention

    alone = Abstention()  # an older card: the answerability is the confidence
    assert alone.confidence(0.7, 0.9) == pytest.approx(0.7) and alone.needed(0.58, None) == pytest.approx(0.58)
    model = Abstention(head=0.6, dense=9.0, bias=-5.0)
    # the same answerability is surer about passages near the question than about far ones
    assert model.confidence(0.9, 0.7) > 0.5 > model.confidence(0.9, 0.3)
    assert model.confidence(0.9, None) == model.confidence(0.9, 0.0)
    # needed() is the answerability at which the confidence reaches the threshold
    for dense in (0.3, 0.5, 0.7):
        level = model.needed(0.6, dense)
        assert model.confidence(level, dense) == pytest.approx(0.6, abs=1e-6)
        assert model.confidence(min(level + 0.01, 1.0), dense) >= 0.6 - 1e-9


def test_fit_abstention_learns_both_signals_and_needs_both_kinds():
    from qa.reader import Abstention
    from qa.training.calibrate import fit_abstention

    rng = np.random.default_rng(0)
    # answerable questions: the reader is sure and the passages are near; unanswerable ones: near but the
    # reader doubts (a near miss), or far from every passage (out of corpus) though the reader is fooled
    ans = [(float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.5, 0.8))) for _ in range(200)]
    near_miss = [(float(rng.uniform(0.0, 0.6)), float(rng.uniform(0.5, 0.8))) for _ in range(60)]
    far = [(float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.0, 0.3))) for _ in range(60)]
    rows = ans + near_miss + far
    model = fit_abstention([h for h, _ in rows], [d for _, d in rows], [True] * 200 + [False] * 120)
    assert model.head > 0 and model.dense > 0
    assert model.confidence(0.9, 0.7) > model.confidence(0.9, 0.1)
    assert model.confidence(0.9, 0.7) > model.confidence(0.2, 0.7)
    # no unanswerable questions to learn from (a user's own labelled set): the weights it continues from,
    # else the answerability alone
    assert fit_abstention([h for h, _ in ans], [d for _, d in ans], [True] * 200) == Abstention()
    assert fit_abstention([h for h, _ in ans], [d for _, d in ans], [True] * 200, prior=model) == model


def test_prior_abstention_is_the_readers_own_then_the_shipped_one(tmp_path):
    from qa.reader import Abstention, shipped_dir
    from qa.training.calibrate import prior_abstention

    shipped = Abstention(**json.loads((shipped_dir() / "reader.json").read_text())["abstention"])
    assert shipped != Abstention()
    assert prior_abstention({"abstention": {"head": 2.0, "dense": 1.0, "bias": -1.0}}) == Abstention(2.0, 1.0, -1.0)
    assert prior_abstention({"from_shipped": True}) == shipped
    assert prior_abstention({}) == Abstention()
