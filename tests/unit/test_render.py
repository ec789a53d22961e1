"""qa/render.py: what the chat and the terminal show."""

from qa.render import chat_markdown, md_escape
from qa.schema import Answer, Citation


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


def test_the_inspector_tells_a_passage_left_unread_from_one_without_a_reader():
    from qa.render import inspector_md
    from qa.schema import Passage

    read = Passage(id="a", source="a.txt", start=0, end=5, text="Liu.", fused_score=0.03, reader_score=0.98)
    unread = Passage(id="b", source="b.txt", start=0, end=5, text="Wang.", fused_score=0.02)
    rows = inspector_md(Answer("Liu. [1]", passages=[read, unread], confidence=0.98)).splitlines()[-2:]
    assert "| 0.980 |" in rows[0] and "| not read |" in rows[1]
    no_reader = inspector_md(Answer("Liu. [1]", passages=[unread])).splitlines()[-1]
    assert "not read" not in no_reader and "| – |" in no_reader
