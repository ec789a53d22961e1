"""qa/cite.py: markers, the generated-answer check, sentences and their leads, spelling."""
from conftest import bag_encode
from fest import FEST, Q_FOUNDED, fest

from index.text import word_overlap
from qa.cite import (
    check_generated,
    missing_specifics,
    parse_markers,
    specifics,
)
from qa.schema import Answer, Passage
from qa.score import (
    context_overlap,
)


def test_parse_markers_attaches_markers_to_sentences():
    got = parse_markers("Liu heads it [1]. He met Ben-Abba [2, 3]. No source here.")
    assert got == [("Liu heads it.", [1]), ("He met Ben-Abba.", [2, 3]), ("No source here.", [])]


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


def test_a_chunks_first_sentence_leans_back_on_the_chunk_before():
    sentences, previous, _ = fest(split_at=55)  # the chunk starts at "It was founded ..."
    assert sentences[0].text.startswith("It was founded") and previous[0].text.startswith("The Zorblatt festival")
    assert FEST[previous[0].start : previous[0].end] == previous[0].text
    assert context_overlap(Q_FOUNDED, sentences, previous)[0] == 1.0
    sentences, previous, _ = fest(split_at=55, lead=False)  # no chunk before: the sentence stands alone
    assert previous[0] is None and context_overlap(Q_FOUNDED, sentences, previous)[0] == word_overlap(Q_FOUNDED, sentences[0].text)


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
