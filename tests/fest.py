"""The Zorblatt festival: a three-sentence document whose second sentence leans back on the first,
shared by the unit tests of citing, scoring and answering."""
from qa.cite import Sentence, passage_sentences, previous_sentences
from qa.schema import Passage

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
