"""qa/question.py: checks, types, lead-ins, follow-ups, names."""
import pytest

from qa.answer import (
    should_abstain,
)
from qa.question import (
    EMPTY_QUESTION,
    OVERVIEW,
    SMALL_TALK,
    check_question,
    definition_subject,
    plain_question,
    question_type,
    rewrite_followup,
    understand,
)
from qa.score import (
    type_match,
)


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


@pytest.mark.parametrize("question,name", [
    ("Who is Liu?", "Liu"), ("who was Genghis Khan", "Genghis Khan"), ("What is the Scottish Parliament?", "Scottish Parliament"),
    ("who Blinken is?", "Blinken"),
    ("Who is the Israeli ambassador?", None), ("Who heads the department?", None), ("What is Liu's role?", None)])
def test_definition_questions_name_their_subject(question, name):
    assert definition_subject(question) == name


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
    from qa.question import question_names

    assert question_names("What did Wang Yi say about Ukraine?") == ["Wang", "Yi", "Ukraine"]
    assert question_names("What was Old Briton’s response to Celeron's men?") == ["Old", "Briton", "Celeron"]
    assert question_names("Who heads the CCP's department in the U.S.?") == []  # acronyms, letters
    assert question_names("Blinken?") == [] and question_names("who is blinken") == []


def test_a_question_is_understood_once_into_what_every_stage_reads():
    q = understand("Can you tell me who Irit Ben-Abba is?")
    assert (q.plain, q.query, q.problem) == ("who Irit Ben-Abba is?", "who Irit Ben-Abba is?", None)
    assert q.names == ("Irit", "Ben-Abba") and q.kind == "person" and q.subject == "Irit Ben-Abba" and not q.yes_no
    follow = understand("And when did she arrive?", ["Who is Irit Ben-Abba?", ""])
    assert follow.history == ("Who is Irit Ben-Abba?",)  # blank turns are no history
    assert follow.query == "when did she arrive? (Irit Ben-Abba)" and follow.kind == "date" and follow.names == ()
    assert understand("Do prices include VAT?").yes_no and understand("hello").problem == SMALL_TALK
    assert understand("x" * 50, max_chars=10).problem.startswith("Your question is 50 characters long")
    condensed = follow.searching("When did Irit Ben-Abba arrive in Beijing?")
    assert condensed.query.startswith("When did Irit") and condensed.plain == follow.plain and condensed.kind == "date"
