"""qa/score.py: the bi-encoder sentence score."""
import numpy as np
import pytest
from fest import Q_FOUNDED, fest

from index.text import word_overlap
from qa.cite import (
    passage_sentences,
    previous_sentences,
)
from qa.schema import Passage
from qa.score import (
    context_overlap,
    context_token_match,
    leans_back,
    score_sentences,
    stem_weights,
    token_match,
    token_maxes,
)


def test_a_sentence_counts_the_words_of_the_one_it_leans_back_on():
    assert leans_back("It was founded in 1911.") and leans_back("  They left.") and not leans_back("Items cost more.")
    sentences, previous, _ = fest()
    assert previous[0] is None and previous[1] == sentences[0] and previous[2] == sentences[1]
    alone = [word_overlap(Q_FOUNDED, s.text) for s in sentences]
    ctx = context_overlap(Q_FOUNDED, sentences, previous)
    assert ctx[0] == alone[0]  # nothing before it
    assert alone[1] < alone[0] and ctx[1] == 1.0 > ctx[0]  # "It" is the festival: all three words
    assert alone[2] < ctx[2] < 1.0  # not leaning back: half of what the sentence before adds


def test_a_follow_ups_own_words_outweigh_the_names_it_carries():
    text = "China opposes all acts that harm civilians. Wang Yi spoke to Blinken."
    passages = [Passage("a", "w.md", 0, len(text), text)]
    sentences = passage_sentences(passages)
    flat = np.zeros((2, 4)), np.zeros(4)  # no dense signal: word overlap decides
    query = "What did he say about civilians? (Wang Yi)"  # rewrite_followup's query
    carried = score_sentences(query, sentences, flat[1], flat[0], previous_sentences(sentences, passages))
    assert carried[1] > carried[0]  # the carried name alone picks the wrong sentence
    both = score_sentences(query, sentences, flat[1], flat[0], previous_sentences(sentences, passages),
                           asked="What did he say about civilians?")
    assert both[0] > both[1] and both[1] == carried[1]


def test_idf_weights_make_the_rare_word_of_a_question_count_most():
    weights = stem_weights({"castle": 3.0, "built": 0.5, "u": None})
    assert weights == {"castl": 3.0, "built": 0.5, "u": 0.5}  # stemmed; a word the index drops counts least
    text = "The castle stood on a hill. The bridge was built in 1911."
    passages = [Passage("a", "c.md", 0, len(text), text)]
    sentences = passage_sentences(passages)
    previous = [None, None]  # each sentence alone
    q = "When was the castle built?"
    assert list(context_overlap(q, sentences, previous)) == [0.5, 0.5]  # one word of two each
    weighted = context_overlap(q, sentences, previous, weights)
    assert weighted[0] == pytest.approx(3.0 / 3.5) and weighted[1] == pytest.approx(0.5 / 3.5)


def unit_rows(*rows: list[float]) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_the_token_match_is_each_question_tokens_best_cosine_averaged():
    q = unit_rows([1, 0, 0], [0, 1, 0])  # two question tokens
    s = unit_rows([1, 0, 0], [0, 0, 1])  # the sentence holds the first, not the second
    assert token_match(q, s) == pytest.approx(0.5)
    assert token_match(q, unit_rows([1, 1, 0])) == pytest.approx(2 ** -0.5)  # one token halfway to both
    assert token_match(q, np.zeros((0, 3))) == 0.0 and token_match(np.zeros((0, 3)), s) == 0.0
    maxes = token_maxes(q, [s, None, np.zeros((0, 3)), unit_rows([0, 1, 0])])
    assert np.allclose(maxes[0], [1, 0]) and maxes[1] is None and maxes[2] is None and np.allclose(maxes[3], [0, 1])


def test_the_token_match_counts_the_sentence_leaned_back_on():
    sentences, previous, _ = fest()  # festival. It was founded ... Ada Lumen. Tickets ...
    q = [unit_rows([1, 0, 0], [0, 1, 0])]  # "festival", "founded"
    own = [unit_rows([1, 0, 0]), unit_rows([0, 1, 0]), unit_rows([0, 0, 1])]
    before = [None, own[0], own[1]]
    alone = context_token_match(q, sentences, own, [None] * 3)
    assert np.allclose(alone, [0.5, 0.5, 0.0])
    ctx = context_token_match(q, sentences, own, before)
    assert ctx[0] == pytest.approx(0.5)  # nothing before it
    assert ctx[1] == pytest.approx(1.0)  # "It" is the festival: all of what the sentence before adds
    assert ctx[2] == pytest.approx(0.25)  # not leaning back: half of it
    # the better of the query's and the typed question's tokens, as for the word overlap
    assert np.allclose(context_token_match([q[0], unit_rows([0, 0, 1])], sentences, own, [None] * 3), [0.5, 0.5, 1.0])
    # in the sentence score, at its weight; without tokens there is none
    flat = np.zeros((3, 4)), np.zeros(4)
    with_tokens = score_sentences(Q_FOUNDED, sentences, flat[1], flat[0], previous, q_tokens=q, s_tokens=own, prev_tokens=before)
    without = score_sentences(Q_FOUNDED, sentences, flat[1], flat[0], previous)
    from qa.score import W_TOKEN
    assert np.allclose(with_tokens - without, W_TOKEN * ctx)
