"""Pure parts of answering: fusion, markers, the abstention rule, question types, follow-ups."""
import numpy as np
import pytest
from conftest import bag_encode

from qa.answer import choose_sentences, rewrite_followup, should_abstain
from qa.chain import EMPTY_QUESTION, check_question
from qa.cite import Sentence, check_generated, parse_markers, word_overlap
from qa.render import chat_markdown, md_escape
from qa.retrieve import rrf_fuse
from qa.schema import Answer, Citation, Passage
from qa.score import context_overlap, leans_back, question_type, type_match


def test_rrf_fuse_rewards_agreement():
    fused = rrf_fuse([["a", "b", "c"], ["b", "d"]], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert max(fused, key=fused.get) == "b"
    assert set(fused) == {"a", "b", "c", "d"}


def test_parse_markers_attaches_markers_to_sentences():
    got = parse_markers("Liu heads it [1]. He met Ben-Abba [2, 3]. No source here.")
    assert got == [("Liu heads it.", [1]), ("He met Ben-Abba.", [2, 3]), ("No source here.", [])]


def test_word_overlap():
    assert word_overlap("Liu Jianchao heads the department", "The department is headed by Liu Jianchao") == 1.0
    assert word_overlap("capital of Australia", "Liu Jianchao heads it") == 0.0


def _passage(i, text, source="doc.txt", start=0):
    return Passage(id=f"p{i}", source=source, start=start, end=start + len(text), text=text)


def test_check_generated_drops_markers_to_passages_not_retrieved():
    passages = [_passage(0, "Liu Jianchao heads the international department."), _passage(1, "Wang Yi is foreign minister.", start=100)]
    text, cites, unsupported = check_generated(
        "Liu Jianchao heads the international department [1]. Wang Yi is foreign minister [7].", passages, bag_encode, 0.45)
    assert [c.n for c in cites] == [1]
    assert cites[0].quote == "Liu Jianchao heads the international department."
    assert unsupported == ["Wang Yi is foreign minister."]
    assert "[7]" not in text and "(not supported by the documents)" in text


def test_check_generated_flags_a_claim_its_passage_does_not_support():
    passages = [_passage(0, "Liu Jianchao heads the international department.")]
    _, cites, unsupported = check_generated("The capital of Australia is Canberra [1].", passages, bag_encode, 0.45)
    assert cites == [] and unsupported == ["The capital of Australia is Canberra."]


def test_abstention_rule_and_question_checks():
    assert should_abstain(0.2, 0.4) and not should_abstain(0.5, 0.4)
    assert check_question("   ", 2000) == EMPTY_QUESTION
    assert "10,000 characters" in check_question("x" * 10_000, 2000)
    assert check_question("Who is Liu?", 2000) is None


def test_question_types():
    assert question_type("How many people live there?") == "number"
    assert question_type("When did it happen?") == "date"
    assert question_type("Who heads the department?") == "person"
    assert question_type("Why?") is None
    assert type_match("date", "It began in 1973.", "When did it begin?") == 1.0
    assert type_match("date", "It began long ago.", "When did it begin?") == 0.0


FEST = ["The Zorblatt festival is held every March in Kettleby.", "It was founded in 1911 by Ada Lumen.",
        "Tickets cost 12 pounds."]


def fest_sentences(passage_of_second: int = 0) -> list[Sentence]:
    starts = [0, 55, 92]
    return [Sentence(0 if i == 0 else passage_of_second if i == 1 else 0, s, s + len(t), t)
            for i, (s, t) in enumerate(zip(starts, FEST))]


def test_a_sentence_counts_the_words_of_the_one_it_leans_back_on():
    assert leans_back("It was founded in 1911.") and leans_back("  They left.") and not leans_back("Items cost more.")
    q = "Who founded the Zorblatt festival?"
    alone = [word_overlap(q, t) for t in FEST]
    ctx = context_overlap(q, fest_sentences())
    assert ctx[0] == alone[0]  # nothing before it
    assert alone[1] < alone[0] and ctx[1] == 1.0 > ctx[0]  # "It" is the festival: all three words
    assert alone[2] < ctx[2] < 1.0  # not leaning back: half of what the sentence before adds
    # a sentence of another passage is not its context
    assert context_overlap(q, fest_sentences(passage_of_second=1))[1] == alone[1]


def test_an_answer_that_leans_back_brings_its_antecedent():
    sents = fest_sentences()
    scores = np.array([0.70, 0.80, 0.20])
    assert choose_sentences(sents, scores, [1, 0, 2], 2, 0.85) == [0, 1]  # reading order
    assert choose_sentences(sents, scores, [1, 0, 2], 1, 0.85) == [1]  # no room for it
    # a best sentence that stands alone takes the next best only when it scores close to it
    assert choose_sentences(sents, np.array([0.8, 0.1, 0.7]), [0, 2, 1], 2, 0.85) == [0, 2]
    assert choose_sentences(sents, np.array([0.8, 0.1, 0.6]), [0, 2, 1], 2, 0.85) == [0]
    # the antecedent must be in the same passage
    assert choose_sentences(fest_sentences(passage_of_second=1), np.array([0.5, 0.8, 0.2]), [1, 0, 2], 2, 0.85) == [1]


def test_followups_carry_the_previous_question():
    assert rewrite_followup("What did she tell them?", ["Who is Irit Ben-Abba?"]) == "What did she tell them? (Irit Ben-Abba)"
    assert rewrite_followup("Why did they clash?", ["what about israel and china"]) == "Why did they clash? (israel china)"
    assert rewrite_followup("Who is Wang Yi?", ["Who is Irit Ben-Abba?"]) == "Who is Wang Yi?"
    assert rewrite_followup("What did she tell them?", []) == "What did she tell them?"


def test_document_text_renders_inert():
    evil = '<script>alert(1)</script> ![x](http://evil.example/a.png) [link](http://evil.example)'
    md = chat_markdown(Answer("x [1]", citations=[Citation(1, "d.txt", 0, len(evil), evil, 0.9)]))
    assert "<script>" not in md and "](http" not in md and "![" not in md
    assert md_escape("a*b_c") == "a\\*b\\_c"
