"""The question, understood once: what was typed -> a `Question` every later stage reads.

`understand` makes it (pure): whether it can be answered as asked (`problem`), the question without a
chat lead-in (`plain`), what retrieval searches (`query`: a follow-up carries what the conversation was
about), the names it asks about, the kind of thing it asks for, the name a "Who is X?" asks to
introduce, and whether it asks yes or no. All the patterns that read a question are in this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from index.text import content_words


@dataclass(frozen=True)
class Question:
    text: str  # as the person typed it
    plain: str  # without a chat lead-in: "Can you tell me who Blinken is?" -> "who Blinken is?"
    query: str  # what retrieval searches: `plain`, or a follow-up with what the conversation was about
    history: tuple[str, ...] = ()
    problem: str | None = None  # why it cannot be answered as asked (then nothing is retrieved)
    names: tuple[str, ...] = ()  # the names it asks about, as typed (`question_names`)
    kind: str | None = None  # what the query asks for: "number", "date", "person", "place" or None
    subject: str | None = None  # the name a "Who is X?" / "What is X?" asks about
    yes_no: bool = False  # the query asks yes or no ("Do prices include VAT?")

    def searching(self, query: str) -> Question:
        """The same question, searching for `query` instead (a language model's condensed follow-up)."""
        return replace(self, query=query, kind=question_type(query), yes_no=asks_yes_no(query))


def understand(text: str, history: list[str] | tuple[str, ...] = (), max_chars: int = 2000) -> Question:
    """The question as every stage reads it (pure). Follow-ups are resolved the extractive way
    (`rewrite_followup`); the chain asks a language model instead when one answers."""
    text = text or ""
    history = tuple(h for h in history if h and h.strip())
    problem = check_question(text, max_chars)
    plain = plain_question(text) if problem is None else text
    query = rewrite_followup(plain, list(history)) if problem is None and history else plain
    return Question(text=text, plain=plain, query=query, history=history, problem=problem,
                    names=tuple(question_names(plain)), kind=question_type(query), subject=definition_subject(plain),
                    yes_no=asks_yes_no(query))


EMPTY_QUESTION = "Please type a question about your documents."
OVERVIEW = ("I answer from the few passages that match a question, so I cannot summarise all your documents "
            "at once: ask about something in them (who, what, when, how many ...). The Library lists what is "
            "indexed (in a terminal: qa status).")
# A request with no words but these asks about the documents as a whole ("Summarize the documents",
# "What are these files about?"); one that names anything else ("Summarize what Liu said") is a question.
_OVERVIEW_CUES = frozenset("""summarize summarise summary summaries overview gist tl dr tldr
    documents document files file texts text corpus library everything""".split())
_OVERVIEW_WORDS = _OVERVIEW_CUES | frozenset("give tell main key points point topics topic contents content short brief briefly please all".split())
SMALL_TALK = "Ask me a question about your documents: I answer from them only, with a citation for each claim."
_SMALL_TALK_WORDS = frozenset("hi hello hey hiya thanks thank ok okay bye goodbye cheers".split())
NO_DOCUMENTS = ("No documents are indexed yet: add some with \"Add documents\" in the browser, or `qa index PATH` "
                "in a terminal, then ask again.")


def check_question(question: str, max_chars: int) -> str | None:
    """Why a question cannot be answered as asked, or None when it can (pure)."""
    if not question or not re.search(r"\w", question):
        return EMPTY_QUESTION
    if len(question) > max_chars:
        return (f"Your question is {len(question):,} characters long; please ask it in under "
                f"{max_chars:,} characters (put long text into a document and index it instead).")
    words = set(content_words(question))
    if words and words <= _OVERVIEW_WORDS and words & _OVERVIEW_CUES:
        return OVERVIEW
    if words and words <= _SMALL_TALK_WORDS:  # "hi", "thanks!", "ok": nothing to look up
        return SMALL_TALK
    return None


# How people lead into a question in a chat ("Can you tell me who Blinken is?", "I'd like to know
# ..."): none of it is what the documents are asked about, and the words weigh against the sentence
# that answers (idf makes a word the documents never use the heaviest of all), so it is taken off.
_LEAD_INS = [re.compile(p, re.I) for p in (
    r"(hi|hello|hey|ok|okay|so|well|and|also|now)\b[\s,!.:;-]+",
    r"please\b[\s,]*",
    r"(can|could|would|will)\s+you\s+(please\s+)?",
    r"(tell|show|give)\s+me\s+((all|everything|more|something|anything|a\s+bit|a\s+little)\s+)?((about|on|regarding|concerning)\s+)?",
    r"(explain|describe)\s+((to\s+me|for\s+me)\s+)?",
    r"(i\s+(want|wanna|need|would\s+like)\s+to\s+(know|find\s+out|learn|understand)|i\s*['’]d\s+like\s+to\s+know|"
    r"(do|does)\s+(you|anyone|the\s+documents?)\s+know|i\s+(wonder|was\s+wondering)|let\s+me\s+know)\s+((about|regarding)\s+)?",
    r"what\s+(do|does)\s+(you|the\s+documents?|it|they)\s+(know|say)\s+(about|of|on)\s+",
)]
_TRAILING = re.compile(r"(\s*,\s*(please|thanks|thank\s+you))+\s*([.!?]*)$", re.I)  # "..., please?" (not "as they please")


def plain_question(question: str) -> str:
    """The question without a chat lead-in or a trailing "please" (pure): "Can you tell me who
    Blinken is?" -> "who Blinken is?". A question that would be left with no words stays as asked."""
    plain = question.strip()
    changed = True
    while changed:
        changed = False
        for lead in _LEAD_INS:
            m = lead.match(plain)
            if m and m.end() < len(plain):
                plain, changed = plain[m.end():].lstrip(), True
    plain = _TRAILING.sub(r"\3", plain)
    return plain if plain != question.strip() and content_words(plain) else question


def question_names(question: str) -> list[str]:
    """The names a question asks about (pure): its capitalised words after the first, without a
    possessive ("Celeron's" -> "Celeron"); acronyms ("CCP") and initials ("U.S.") are left out, as
    documents often spell them out."""
    words = re.findall(r"[^\W\d_][\w-]*(?:['’][\w]+)?", question)
    out = []
    for w in words[1:]:
        name = re.sub(r"['’]s?$", "", w)
        if len(name) > 1 and name[:1].isupper() and not name.isupper() and name not in out:
            out.append(name)
    return out


def question_type(question: str) -> str | None:
    """The kind of thing a question asks for, from how it opens (pure)."""
    q = question.lower().strip()
    if re.match(r"(how (many|much|long|old|far|large|big|tall)|what (percentage|number|amount))\b", q):
        return "number"
    if re.match(r"(when|what (year|date|time|day|month|century|decade)|in (what|which) (year|century))\b", q):
        return "date"
    if re.match(r"(who|whom|whose)\b", q):
        return "person"
    if re.match(r"where\b", q):
        return "place"
    return None


_YES_NO = re.compile(r"\s*(?i:is|are|was|were|am|do|does|did|can|could|will|would|shall|should|has|have|had|may|might|must)\b")


def asks_yes_no(question: str) -> bool:
    """A question that asks yes or no (pure): it opens with an auxiliary verb ("Do prices include VAT?")."""
    return bool(_YES_NO.match(question))


# "Who is Liu?", "What was the Scottish Parliament?", and as a chat lead-in leaves it ("Can you tell
# me who Blinken is?" -> "who Blinken is?"): a question that asks what a name is.
_NAME = r"(?i:the\s+)?(?P<name>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)"
_BE = r"(?i:is|was|are|were)"
_DEFINITIONS = (re.compile(rf"\s*(?i:who|what)\s+{_BE}\s+{_NAME}\s*[?.!]*\s*$"),
                re.compile(rf"\s*(?i:who|what)\s+{_NAME}\s+{_BE}\s*[?.!]*\s*$"))


def definition_subject(question: str) -> str | None:
    """The name a "Who is X?" / "What is X?" question asks about, or None (pure)."""
    for pattern in _DEFINITIONS:
        if m := pattern.match(question):
            return m.group("name")
    return None


# "And about the UN?", "What about Israel?": a question that goes on from the one before.
_GOES_ON = re.compile(r"\s*(?i:and|but|also|about|what about|how about)\b")  # "about": "And" taken off as a lead-in
# Capitalised words that open a question rather than name anything.
_OPENERS = {"who", "what", "when", "where", "why", "how", "which", "is", "did", "does", "the", "and", "but", "also",
            "can", "could", "tell", "please"}


def is_followup(question: str) -> bool:
    """A question that leans on the conversation: pronoun-led, going on from the one before ("And
    about the UN?"), or without content of its own."""
    words = re.findall(r"[a-z']+", question.lower())
    pronouns = {"he", "she", "it", "they", "them", "his", "her", "hers", "its", "their", "him", "this",
                "that", "these", "those", "there", "then"}
    return any(w in pronouns for w in words) or bool(_GOES_ON.match(question)) or len(content_words(question)) <= 1


def rewrite_followup(question: str, history: list[str]) -> str:
    """Extractive mode's follow-up resolution: carry what the previous question was about (its
    names, else its content words; a previous follow-up with what it carried) into the query, after
    the new question so its type still leads."""
    if not (history and is_followup(question)):
        return question
    previous = rewrite_followup(history[-1], history[:-1])  # itself a follow-up: what it was about
    names = re.findall(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*", previous)
    names = [n for n in names if n.lower() not in _OPENERS]
    carried = " ".join(names) if names else " ".join(content_words(previous))
    return f"{question} ({carried})" if carried else question
