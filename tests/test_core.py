"""Pure parts of answering: fusion, markers, the abstention rule, question types, follow-ups; and
how a bad setting is told."""
import numpy as np
import pytest
from conftest import bag_encode

from index.split import is_markup
from qa.answer import (adds_nothing, choose_sentences, definition_subject, echo_stems, introduction_first, rewrite_followup,
                       should_abstain, statements)
from qa.chain import EMPTY_QUESTION, OVERVIEW, SMALL_TALK, check_question, plain_question
from qa.cite import (Sentence, check_generated, missing_specifics, parse_markers, passage_sentences, previous_sentences,
                     specifics, word_overlap)
from qa.render import chat_markdown, md_escape
from qa.retrieve import rrf_fuse
from qa.schema import Answer, Citation, Passage
from qa.score import (context_overlap, context_token_match, leans_back, question_type, score_sentences, stem_weights,
                      token_match, token_maxes, type_match)


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
    # a verb's forms meet, "-e" verbs included (a suffix-stripper made "describ" of one, "describe" of the other)
    assert word_overlap("What did Blinken describe?", "Blinken described his visit") == 1.0
    assert word_overlap("Who proposes peace talks?", "China proposed talking about peace") == 1.0
    assert word_overlap("What is China's desire?", "as part of China’s desire to play a greater role") == 1.0


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


def test_specifics_are_a_sentences_names_and_numbers():
    assert specifics("The Chinese Communist Party’s department met Irit Ben-Abba on 12 August, 2022; 1,000 came.") == [
        "chinese", "communist", "party", "irit", "ben-abba", "12", "august", "2022", "1000"]
    assert specifics("Liu said so.") == []  # the first word is capitalised as the sentence's start


def test_a_claim_may_not_add_names_or_numbers_to_what_it_cites():
    passage = "The message from Liu Jianchao, who heads the Chinese Communist Party's international affairs department, came in 2022."
    assert missing_specifics("Liu Jianchao heads the Chinese Communist Party's international affairs department.", passage) == []
    assert missing_specifics("The department is the Chinese Nationalist Party's Foreign Affairs Division.", passage) == [
        "nationalist", "foreign", "division"]  # "Affairs" is there, in lower case
    assert missing_specifics("The message came in 2021.", passage) == ["2021"]
    assert missing_specifics("The message came in 2022 from the Chinese.", passage) == []
    # forms of one name meet: "Palestine" and "Palestinian", a stem, accents
    assert missing_specifics("Palestinians met Céloron.", "Palestine and Celoron") == []


def test_check_generated_flags_a_claim_that_names_what_its_passage_does_not():
    passages = [_passage(0, "Liu Jianchao heads the international department of the party.")]
    _, cites, unsupported = check_generated("Liu Jianchao heads the international department of the Nationalist party [1].",
                                            passages, bag_encode, 0.45)
    assert cites == [] and unsupported == ["Liu Jianchao heads the international department of the Nationalist party."]


def test_abstention_rule_and_question_checks():
    assert should_abstain(0.2, 0.4) and not should_abstain(0.5, 0.4)
    assert check_question("   ", 2000) == EMPTY_QUESTION
    assert "10,000 characters" in check_question("x" * 10_000, 2000)
    assert check_question("Who is Liu?", 2000) is None
    assert check_question(" ? ", 2000) == EMPTY_QUESTION
    # a request about the documents as a whole gets why not, and what to ask instead
    for q in ("Summarize the documents", "What are these files about?", "tl;dr", "Give me an overview"):
        assert check_question(q, 2000) == OVERVIEW, q
    for q in ("Summarize what Liu said about Xinjiang", "What documents did Israel sign?", "What is the summary of the report?"):
        assert check_question(q, 2000) is None, q
    assert check_question("Hi!", 2000) == check_question("thanks, ok", 2000) == SMALL_TALK
    assert check_question("Hi, who is Liu?", 2000) is None


def test_question_types():
    assert question_type("How many people live there?") == "number"
    assert question_type("When did it happen?") == "date"
    assert question_type("Who heads the department?") == "person"
    assert question_type("Why?") is None
    assert type_match("date", "It began in 1973.", "When did it begin?") == 1.0
    assert type_match("date", "It began long ago.", "When did it begin?") == 0.0


FEST = "The Zorblatt festival is held every March in Kettleby. It was founded in 1911 by Ada Lumen. Tickets cost 12 pounds."
Q_FOUNDED = "Who founded the Zorblatt festival?"


def fest(split_at: int | None = None, lead: bool = True) -> tuple[list[Sentence], list[Sentence | None], list[Passage]]:
    """FEST as one passage, or as two chunks split before character `split_at` (the second one
    carrying the first's last sentence as its lead, as the retriever sets it, unless `lead` is False)."""
    if split_at is None:
        passages = [Passage("a", "fest.md", 0, len(FEST), FEST)]
    else:
        first = FEST[:split_at].rstrip()
        last = passage_sentences([Passage("x", "fest.md", 0, len(first), first)])[-1]
        passages = [Passage("b", "fest.md", split_at, len(FEST), FEST[split_at:],
                            lead_start=last.start if lead else None, lead_text=last.text if lead else None)]
    sentences = passage_sentences(passages)
    return sentences, previous_sentences(sentences, passages), passages


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


def test_a_chunks_first_sentence_leans_back_on_the_chunk_before():
    sentences, previous, _ = fest(split_at=55)  # the chunk starts at "It was founded ..."
    assert sentences[0].text.startswith("It was founded") and previous[0].text.startswith("The Zorblatt festival")
    assert FEST[previous[0].start : previous[0].end] == previous[0].text
    assert context_overlap(Q_FOUNDED, sentences, previous)[0] == 1.0
    sentences, previous, _ = fest(split_at=55, lead=False)  # no chunk before: the sentence stands alone
    assert previous[0] is None and context_overlap(Q_FOUNDED, sentences, previous)[0] == word_overlap(Q_FOUNDED, sentences[0].text)


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


@pytest.mark.parametrize("question,name", [
    ("Who is Liu?", "Liu"), ("who was Genghis Khan", "Genghis Khan"), ("What is the Scottish Parliament?", "Scottish Parliament"),
    ("who Blinken is?", "Blinken"),
    ("Who is the Israeli ambassador?", None), ("Who heads the department?", None), ("What is Liu's role?", None)])
def test_definition_questions_name_their_subject(question, name):
    assert definition_subject(question) == name


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
    asked = echo_stems("What is the license of kettle?")
    assert adds_nothing("Name: kettle", asked) and adds_nothing("Kettle licenses.", asked) and adds_nothing("It is.", asked)
    assert not adds_nothing("License: MIT", asked) and not adds_nothing("Kettle is licensed under MIT.", asked)
    assert echo_stems("Do prices include VAT?") is None  # a yes-or-no question: the sentence that says it answers
    assert not adds_nothing("Prices include VAT.", None) and adds_nothing("Prices include VAT.", echo_stems("What prices include VAT?"))
    assert statements([2, 0, 3, 1], [False, False, True, True]) == [0, 1]
    assert statements([2, 0, 3, 1], [False, False, True, False]) == [0, 3, 1]
    assert statements([2, 3], [False, False, True, True]) == [2, 3]  # nothing else: markup is still an answer


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


def test_followups_carry_the_previous_question():
    assert rewrite_followup("What did she tell them?", ["Who is Irit Ben-Abba?"]) == "What did she tell them? (Irit Ben-Abba)"
    assert rewrite_followup("Why did they clash?", ["what about israel and china"]) == "Why did they clash? (israel china)"
    assert rewrite_followup("Who is Wang Yi?", ["Who is Irit Ben-Abba?"]) == "Who is Wang Yi?"
    assert rewrite_followup("What did she tell them?", []) == "What did she tell them?"
    # a question that goes on from a follow-up carries what that one carried
    history = ["Who is Wang Yi?", "What did he say about civilians?"]
    assert rewrite_followup("And about the two-state solution?", history) == "And about the two-state solution? (Wang Yi)"
    assert rewrite_followup("about the UN?", history) == "about the UN? (Wang Yi)"  # "And" taken off as a lead-in
    assert rewrite_followup("When was that?", history + ["What about Israel?"]) == "When was that? (Israel Wang Yi)"


@pytest.mark.parametrize("asked, plain", [
    ("Can you tell me who Blinken is?", "who Blinken is?"),
    ("Hi, could you please tell me what China opposes, please?", "what China opposes?"),
    ("I'd like to know about the two-state solution.", "the two-state solution."),
    ("Tell me everything about Wang Yi", "Wang Yi"),
    ("Do you know who Liu Jianchao is?", "who Liu Jianchao is?"),
    ("What do the documents say about Xinjiang?", "Xinjiang?"),
    ("Explain the two-state solution", "the two-state solution"),
    # left as asked: no lead-in, a lead-in only at the start, or nothing left after it
    ("What did Blinken describe?", "What did Blinken describe?"),
    ("Who can tell me about Xinjiang?", "Who can tell me about Xinjiang?"),
    ("Name the governor", "Name the governor"),
    ("What issues may members vote on as they please?", "What issues may members vote on as they please?"),
    ("Tell me", "Tell me"),
    ("So what?", "So what?"),
])
def test_a_chat_lead_in_is_taken_off_the_question(asked, plain):
    assert plain_question(asked) == plain


def test_question_names_are_its_capitalised_words_after_the_first():
    from qa.chain import question_names

    assert question_names("What did Wang Yi say about Ukraine?") == ["Wang", "Yi", "Ukraine"]
    assert question_names("What was Old Briton’s response to Celeron's men?") == ["Old", "Briton", "Celeron"]
    assert question_names("Who heads the CCP's department in the U.S.?") == []  # acronyms, letters
    assert question_names("Blinken?") == [] and question_names("who is blinken") == []


def test_a_name_no_document_has_is_said_beside_the_answer():
    from qa.render import cli_text, export_markdown, unmatched_note

    quote = Citation(1, "d.txt", 0, 20, "Wang Yi said things.", 0.8)
    answered = Answer("Wang Yi said things. [1]", citations=[quote], unmatched=["Ukraine"])
    assert "No indexed document mentions “Ukraine”: the passages cited are the closest matches" in cli_text(answered)
    assert chat_markdown(answered).startswith("⚠️ No indexed document mentions “Ukraine”")
    assert "No indexed document mentions “Ukraine”" in export_markdown([("q", answered)])
    abstained = Answer("I could not find this in the indexed documents.", abstained=True, unmatched=["Ukraine", "Tokyo"])
    assert unmatched_note(abstained) == "No indexed document mentions “Ukraine” or “Tokyo”."
    assert "mentions “Ukraine” or “Tokyo”" in chat_markdown(abstained)
    assert unmatched_note(Answer("x [1]", citations=[quote])) is None and "Note:" not in cli_text(Answer("x"))
    assert answered.to_dict()["unmatched"] == ["Ukraine"]


def test_a_misspelt_word_gets_the_retrieved_word_spelt_nearly_so():
    from qa.cite import asked_words, spelling_suggestions
    from qa.render import unmatched_note

    assert asked_words("Wat did Wang Yi say about civilans and civilans?") == ["Wang", "civilans"]  # short words and stopwords aside
    passages = [Passage("c1", "d.txt", 0, 27, "Wang Yi spoke of civilians.", lead_text="Blinken called.")]
    assert spelling_suggestions(["civilans", "Blinkin", "Ukraine", "Wat"], passages) == {"civilans": "civilians", "Blinkin": "Blinken"}
    abstained = Answer("I could not find this in the indexed documents.", abstained=True, unmatched=["Blinkin"],
                       suggestions={"Blinkin": "Blinken", "civilans": "civilians"})
    assert unmatched_note(abstained) == ("No indexed document mentions “Blinkin”. No indexed document has “civilans”. "
                                         "Did you mean “Blinken”, “civilians”?")
    assert abstained.to_dict()["suggestions"] == {"Blinkin": "Blinken", "civilans": "civilians"}


def test_sentences_the_check_did_not_pass_are_told_once_and_counted():
    from qa.render import cli_text

    quote = Citation(1, "d.txt", 0, 5, "Liu.", 0.9)
    one = Answer("Liu heads it. [1] He is an astronaut. (not supported by the documents)", citations=[quote],
                 unsupported=["He is an astronaut."])
    assert chat_markdown(one).count("⚠️ 1 sentence is not supported by the documents: it is marked and not cited.") == 1
    assert "Note: 1 sentence is not supported" in cli_text(one)
    two = Answer("a", citations=[quote], unsupported=["x.", "y."])
    assert "2 sentences are not supported by the documents: they are marked and not cited." in chat_markdown(two)
    none = Answer("x. (not supported by the documents)", abstained=True, unsupported=["x."])
    assert "Nothing in this answer is supported by the documents" in chat_markdown(none)
    assert "not supported" not in chat_markdown(Answer("Liu heads it. [1]", citations=[quote]))


def test_document_text_renders_inert():
    evil = '<script>alert(1)</script> ![x](http://evil.example/a.png) [link](http://evil.example)'
    md = chat_markdown(Answer("x [1]", citations=[Citation(1, "d.txt", 0, len(evil), evil, 0.9)]))
    assert "<script>" not in md and "](http" not in md and "![" not in md
    assert md_escape("a*b_c") == "a\\*b\\_c"


@pytest.mark.parametrize("env, argv, says", [
    ({"QA_TOP_K": "abc"}, ["status"], "QA_TOP_K='abc': input should be a valid integer"),
    ({"QA_EMBED_DTYPE": "int4"}, ["status"], "QA_EMBED_DTYPE='int4': input should be 'auto'"),
    ({}, ["ask", "Who?", "--k", "0"], "--k 0: input should be greater than or equal to 1"),
    ({}, ["serve", "--port", "99999"], "--port 99999: input should be less than or equal to 65535"),
])
def test_a_bad_setting_is_one_line_naming_it(monkeypatch, capsys, tmp_path, env, argv, says):
    from conftest import run_cli

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {says}") and err.count("\n") == 1
    assert ("unset it for the default" in err) == bool(env)  # a flag is fixed where it was typed
