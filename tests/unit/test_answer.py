"""qa/answer.py and qa/table_answer.py: choosing the answer's sentences and marking its span."""
import numpy as np
from fest import fest

from index.split import is_markup
from qa.answer import (
    adds_nothing,
    answering_sentences,
    choose_sentences,
    echo_stems,
    introduction_first,
    quoted,
    statements,
    with_context,
)
from qa.cite import (
    Sentence,
    passage_sentences,
    previous_sentences,
)
from qa.question import (
    understand,
)
from qa.reader import Span
from qa.schema import Passage
from qa.table_answer import the_named_row, table_roles


def test_an_answer_that_leans_back_brings_its_antecedent():
    s, prev, _ = fest()
    scores = np.array([0.70, 0.80, 0.20])
    assert choose_sentences(s, prev, scores, [1, 0, 2], 2, 0.85) == [s[0], s[1]]  # reading order
    assert choose_sentences(s, prev, scores, [1, 0, 2], 1, 0.85) == [s[1]]  # no room for it
    # a best sentence that stands alone takes the next best only when it scores close to it
    assert choose_sentences(s, prev, np.array([0.8, 0.1, 0.7]), [0, 2, 1], 2, 0.85) == [s[0], s[2]]
    assert choose_sentences(s, prev, np.array([0.8, 0.1, 0.6]), [0, 2, 1], 2, 0.85) == [s[0]]
    # the antecedent can come from the chunk before, as the passage's lead
    s, prev, _ = fest(split_at=55)
    chosen = choose_sentences(s, prev, np.array([0.8, 0.2]), [0, 1], 2, 0.85)
    assert [c.text for c in chosen] == ["The Zorblatt festival is held every March in Kettleby.", "It was founded in 1911 by Ada Lumen."]
    s, prev, _ = fest(split_at=55, lead=False)
    assert choose_sentences(s, prev, np.array([0.8, 0.2]), [0, 1], 2, 0.85) == [s[0]]


def test_a_who_is_answer_leads_with_where_the_name_is_introduced():
    text = ["Liu's message, sent by Liu Jianchao, who heads the department, reached the ambassador.", "The meeting was their first.",
            "Liu said relations were good.", "Liu urged caution."]
    sentences = [Sentence(0, start, start + len(t), t) for start, t in zip([0, 60, 90, 120], text)]
    sources = ["a.txt"] * 4
    scores = np.array([0.90, 0.50, 1.00, 0.95])
    order = [2, 3, 0, 1]
    assert introduction_first("Liu", sentences, sources, scores, order, 0.85) == [0, 2, 3, 1]
    assert introduction_first(None, sentences, sources, scores, order, 0.85) == order  # not a "Who is" question
    # an introduction that scores well under the best is not promoted
    assert introduction_first("Liu", sentences, sources, np.array([0.80, 0.5, 1.0, 0.95]), order, 0.85) == order
    # nor one in another document than the best mention's
    assert introduction_first("Liu", sentences, ["b.txt", "a.txt", "a.txt", "a.txt"], scores, order, 0.85) == order
    assert introduction_first("Wang", sentences, sources, scores, order, 0.85) == order  # never mentioned


def test_headings_rules_and_fences_are_answered_with_last():
    """A heading matches the question it titles best and answers nothing ("## Installing Requests" for
    "How do I install requests?"): the statements under it come first."""
    assert is_markup("## Installing Requests") and is_markup("# filelock") and is_markup("```console")
    assert is_markup("------") and is_markup("~~~~~~") and is_markup("Parameters", "\n~~~~~~~~~~\n\n* iterable")
    assert is_markup("Installing", "\n==========") and is_markup("1. Copyright¶") and is_markup("2.11. Subclassing")
    assert not is_markup("$ python -m pip install requests") and not is_markup("Requests is available on PyPI:", "\n\n```")
    assert not is_markup("2.5 Million people live there.") and not is_markup("C# is a language.") and not is_markup("Version 2.0", "\n- a list item") and not is_markup("Sizes", " -- see")
    asked = echo_stems(understand("What is the license of kettle?"))
    assert adds_nothing("Name: kettle", asked) and adds_nothing("Kettle licenses.", asked) and adds_nothing("It is.", asked)
    assert not adds_nothing("License: MIT", asked) and not adds_nothing("Kettle is licensed under MIT.", asked)
    assert echo_stems(understand("Do prices include VAT?")) is None  # a yes-or-no question: the sentence that says it answers
    assert not adds_nothing("Prices include VAT.", None) and adds_nothing("Prices include VAT.", echo_stems(understand("What prices include VAT?")))
    assert statements([2, 0, 3, 1], [False, False, True, True]) == [0, 1]
    assert statements([2, 0, 3, 1], [False, False, True, False]) == [0, 3, 1]
    assert statements([2, 3], [False, False, True, True]) == [2, 3]  # nothing else: markup is still an answer


# -- the reader's answer: which sentences, and the span in them ------------------------------------

KETTLE = ("The K3 has five presets. It was launched in 2023.\n\n"
          "| Preset | Temperature | Typical use |\n| --- | --- | --- |\n"
          "| Delicate | 70 °C | white tea |\n| Boil | 100 °C | black tea |\n")


def kettle():
    passages = [Passage("k", "kettle.md", 0, len(KETTLE), KETTLE)]
    sentences = passage_sentences(passages)
    role = table_roles(sentences, passages)
    markup = [is_markup(s.text) or r in ("header", "separator") for s, r in zip(sentences, role)]
    return passages, sentences, role, markup


def span_of(text: str, passage: int = 0) -> Span:
    at = KETTLE.index(text)
    return Span(passage, at, at + len(text), text, 1.0)


def test_the_answer_holds_the_span_and_marks_it_at_its_offsets():
    passages, sentences, role, markup = kettle()
    assert [r for r in role if r] == ["header", "separator", "body", "body"]
    scores = np.zeros(len(sentences))
    holding, span, a, b = answering_sentences("When was the K3 launched?", span_of("2023"), sentences, passages, scores, role, markup)
    assert [sentences[i].text for i in holding] == ["It was launched in 2023."] and span.text == "2023"
    picked = with_context(holding, sentences, previous_sentences(sentences, passages), scores, role, markup, 2, 0.5)
    assert [s.text for s in picked] == ["The K3 has five presets.", "It was launched in 2023."]  # "It" leans back
    text, citations, marked = quoted(picked, sentences, role, passages, {}, span, a, b)
    assert text == "The K3 has five presets. [1] It was launched in 2023. [2]"
    assert (marked.n, KETTLE[marked.start:marked.end]) == (2, "2023")
    assert all(KETTLE[c.start:c.end] == c.quote for c in citations)


def test_a_table_row_the_question_names_answers_with_the_cell_under_the_column_it_asks_about():
    passages, sentences, role, markup = kettle()
    scores = np.zeros(len(sentences))
    # the reader marked the Boil row's temperature; the question names the Delicate row
    holding, span, a, b = answering_sentences("What temperature is the Delicate preset?", span_of("100 °C"), sentences, passages,
                                              scores, role, markup)
    assert sentences[holding[0]].text == "| Delicate | 70 °C | white tea |" and span.text == "70 °C" == KETTLE[a:b]
    text, _, marked = quoted(with_context(holding, sentences, previous_sentences(sentences, passages), scores, role, markup, 2, 0.5),
                             sentences, role, passages, {}, span, a, b)
    assert text == "Delicate: 70 °C, white tea [1]" and KETTLE[marked.start:marked.end] == "70 °C"  # a row answers alone


def test_a_row_named_by_its_key_wins_over_a_row_a_value_of_which_the_question_uses():
    # "When does the library close on Saturday?": the Saturday row by its key, the Sunday row by "closed"
    assert the_named_row({4: [], 5: [0], 6: [1, 2]}) == 5
    assert the_named_row({4: [], 5: [2]}) == 5  # "Which preset is used for white tea?": named by a value alone
    assert the_named_row({4: [0], 5: [0]}) is None and the_named_row({4: [1], 5: [2]}) is None  # several alike
    assert the_named_row({4: [], 5: []}) is None


def test_a_span_in_a_heading_gives_way_to_the_best_sentence_that_states_something():
    passages, sentences, role, markup = kettle()
    scores = np.array([0.2 if not m else 0.9 for m in markup])
    scores[1] = 0.6
    holding, span, _, _ = answering_sentences("Which column holds the temperature?", span_of("Temperature"), sentences, passages,
                                              scores, role, markup)
    assert span is None and sentences[holding[0]].text == "It was launched in 2023."
