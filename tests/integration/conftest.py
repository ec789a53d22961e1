"""tests/integration/: the real MiniLM model, the trained reader, Chroma on disk and as a server,
Chromium and a real language model. Every test here is marked `integration` (and `llm`, `browser` or
`server` where it needs one), so `-m` still selects across folders."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in item.nodeid:
            item.add_marker(pytest.mark.integration)
