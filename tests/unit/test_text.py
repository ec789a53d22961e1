"""index/text.py: the word vocabulary."""

from index.text import word_overlap


def test_word_overlap():
    assert word_overlap("Liu Jianchao heads the department", "The department is headed by Liu Jianchao") == 1.0
    assert word_overlap("capital of Australia", "Liu Jianchao heads it") == 0.0
    # a verb's forms meet, "-e" verbs included (a suffix-stripper made "describ" of one, "describe" of the other)
    assert word_overlap("What did Blinken describe?", "Blinken described his visit") == 1.0
    assert word_overlap("Who proposes peace talks?", "China proposed talking about peace") == 1.0
    assert word_overlap("What is China's desire?", "as part of China’s desire to play a greater role") == 1.0
