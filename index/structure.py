"""A document's structure, read from its text: section headings (Markdown, numbered, lettered or
Roman, the usual named ones), reference lists, and table or figure residue (pure functions).
The indexer keeps headings as chunk metadata, and marks references and residue so they answer
only when no prose does."""
from __future__ import annotations

import re

# Section headings: a Markdown heading, a numbered one ("3.2 Dynamic masking", "2 TEMPLATE OVERVIEW")
# or a paper's usual unnumbered ones, each a line of its own.
_MD_HEADING = re.compile(r"""^[ \t]*#{1,6}[ \t]+(\S[^\n]{0,100}?)[ \t#]*$""", re.M)
_NUMBERED = re.compile(r"""^[ \t]*((\d{1,2})((?:\.\d{1,2}){0,3})\.?[ \t]+([A-Z][^\n.!?:;,=]{1,70}?))[ \t]*$""", re.M)
_NAMED = re.compile(r"""^[ \t]*((?:[A-H][ \t]+)?(?:Abstract|Introduction|Related [Ww]ork|Background|Conclusions?|Discussion|"""
                    r"""Acknowledge?ments?|References|Bibliography|Works [Cc]ited|Appendix(?:[ \t]+[A-H])?(?::[^\n]{1,60})?|Summary|"""
                    r"""ABSTRACT|INTRODUCTION|RELATED WORK|BACKGROUND|CONCLUSIONS?|DISCUSSION|ACKNOWLEDGE?MENTS?|"""
                    r"""REFERENCES|BIBLIOGRAPHY|APPENDIX(?:[ \t]+[A-H])?|SUMMARY))[ \t]*$""", re.M)
_LETTERED = re.compile(r"""^[ \t]*((?:[IVX]{1,5}|[A-H])\.[ \t]+([A-Z][^\n.!?;=]{1,70}?)):?[ \t]*$""", re.M)  # "II. MATH", "B. Citations"
_ENTRY = re.compile(r"""\s*(?:\[\d{1,3}\]|\d{1,3}\.\s+\S+,)""")  # a reference list's entry: "[12] A. Name", "12. Name,"
_REFERENCES = re.compile(r"""(?:\d[\d.]*\s+)?(?:references|bibliography|works cited)\s*$""", re.I)


def _title_case(words: list[str]) -> bool:
    long = [w for w in words if len(w) > 3 and w[0].isalpha()]
    return bool(long) and all(w[0].isupper() for w in long)


def headings(text: str) -> list[tuple[int, str]]:
    """The section headings of a text (pure): (offset of the line, the heading as shown: "3.2 Dynamic
    masking"), in order. A numbered line is a heading when short and not a sentence; one number
    alone ("2 Template Overview") needs its words capitalised, as a numbered list item's are not.
    In a reference list, numbered lines are its entries: only a named heading ends it."""
    named = [(m.start(1), " ".join(m.group(1).split())) for m in _NAMED.finditer(text)]
    refs = max((at for at, title in named if is_reference_section(title)), default=len(text))
    found = [(m.start(1), m.group(1)) for m in _MD_HEADING.finditer(text)]
    found += [(m.start(1), " ".join(m.group(1).split())) for m in _LETTERED.finditer(text)
              if m.start(1) < refs and len(m.group(2).split()) <= 10 and _title_case(m.group(2).split())]
    for m in _NUMBERED.finditer(text):
        words = m.group(4).split()
        if m.start(1) < refs and len(words) <= 10 and (m.group(3) or _title_case(words)) and int(m.group(2)) > 0:
            found.append((m.start(1), " ".join(m.group(1).split())))
    taken = {text.rfind("\n", 0, at) for at, _ in found}  # a line's numbered heading wins over its name alone
    found += [(at, title) for at, title in named if text.rfind("\n", 0, at) not in taken]
    return sorted(set(found))


def is_reference_section(title: str | None) -> bool:
    """Whether a section's title names a reference list (pure)."""
    return bool(title) and bool(_REFERENCES.fullmatch(title.strip()))


def is_reference_list(text: str) -> bool:
    """Whether a chunk is mostly a reference list's entries (pure)."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return len(lines) >= 2 and sum(1 for ln in lines if _ENTRY.match(ln)) >= 0.5 * len(lines)


def is_residue(text: str) -> bool:
    """Whether a chunk is table or figure residue rather than prose (pure): under 40% of its words
    are words of letters (numbers, symbols, single letters and cells make up the rest)."""
    words = text.split()
    if len(words) < 8:
        return False
    prose = sum(1 for w in words if re.fullmatch(r"""["'(\[“‘]?[A-Za-z][a-z\u00ad]+(?:-[a-z]+)*[.,;:!?"')\]”’]*""", w))
    return prose < 0.4 * len(words)
