"""qa/chain.py: the chain's steps over a typed Turn, with a fake store, retriever and answerer."""
from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from qa.chain import Pipeline, Turn
from qa.question import NO_DOCUMENTS, SMALL_TALK, Question
from qa.schema import Answer, Passage

TEXT = "Liu Jianchao heads the Chinese Communist Party's international affairs department."


class Retriever(BaseRetriever):
    docs: list[Document] = []
    asked: list[str] = []

    def _get_relevant_documents(self, query, *, run_manager):
        self.asked.append(query)
        return self.docs


class Store:
    def __init__(self, chunks: int):
        self.chunks = chunks

    def counts(self):
        return (1 if self.chunks else 0, self.chunks)

    def unseen(self, words):
        return [w for w in words if w.lower() not in TEXT.lower()]


class Echo:
    """An answerer that quotes the first passage and says what it was asked."""

    name = "echo"

    def stream(self, q: Question, passages: list[Passage]):
        yield Answer(f"{q.plain} -> {passages[0].text}", passages=[])


def doc() -> Document:
    md = {"id": "c1", "source": "a.txt", "start": 0, "end": len(TEXT), "fused_score": 0.5, "fused_rank": 1}
    return Document(page_content=TEXT, metadata=md, id="c1")


def run(pipeline: Pipeline, question: str, history=()) -> list[Answer]:
    turn = pipeline.retrieve(pipeline.understand({"question": question, "history": list(history)}))
    assert isinstance(turn, Turn)
    return list(pipeline.answer(iter([turn])))


def test_the_steps_carry_a_typed_turn_and_the_answer_gets_what_was_found():
    retriever = Retriever(docs=[doc()], asked=[])
    [answer] = run(Pipeline(Store(1), retriever, Echo()), "Can you tell me what Liu and Tokyo have in common?")
    assert retriever.asked == ["what Liu and Tokyo have in common?"]  # the lead-in is not searched for
    assert answer.text == f"what Liu and Tokyo have in common? -> {TEXT}"
    assert answer.query == retriever.asked[0] and answer.unmatched == ["Tokyo"]
    assert [p.id for p in answer.passages] == ["c1"]  # the retrieved passages, where the answerer kept none
    assert {"rewrite_ms", "retrieve_ms", "answer_ms", "total_ms"} <= set(answer.timings)


def test_a_question_with_a_problem_is_told_and_nothing_is_retrieved():
    retriever = Retriever(docs=[doc()], asked=[])
    [answer] = run(Pipeline(Store(1), retriever, Echo()), "thanks!")
    assert answer.abstained and answer.text == SMALL_TALK and retriever.asked == []


def test_an_empty_index_says_so():
    [answer] = run(Pipeline(Store(0), Retriever(docs=[], asked=[]), Echo()), "Who heads the department?")
    assert answer.abstained and answer.text == NO_DOCUMENTS


def test_a_language_models_condensed_follow_up_is_what_is_searched():
    retriever = Retriever(docs=[doc()], asked=[])
    condense = lambda q, history: f"{q} (about {history[-1]})"  # noqa: E731
    run(Pipeline(Store(1), retriever, Echo(), condense=condense), "What does he head?", ["Who is Liu?"])
    assert retriever.asked == ["What does he head? (about Who is Liu?)"]
