"""tests/unit/: pure functions and deterministic fakes, in seconds. The guard below makes that a rule:
a test here that reaches the real model, the reader or Chroma fails, and belongs in tests/integration/."""
import pytest


@pytest.fixture(autouse=True)
def _no_model_no_chroma(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a unit test reached a model or Chroma: move it to tests/integration/")

    monkeypatch.setattr("index.store.chroma_client", refuse)
    monkeypatch.setattr("index.encoders.OnnxEncoder.__init__", refuse)
    monkeypatch.setattr("index.encoders.TorchEncoder.__init__", refuse)
    monkeypatch.setattr("qa.reader.Reader.__init__", refuse)
