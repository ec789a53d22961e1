"""The small error vocabulary of the project, translated at the edges.

The CLI turns these into a one-line message and an exit code; the UI into a `gr.Error`.
Every message says what to do next.
"""


class QAError(Exception):
    """Base class: a user-facing problem with a one-line explanation."""

    exit_code = 1


class UsageError(QAError):
    """Bad input from the user: a path that does not exist, a bad option."""

    exit_code = 2


class IndexLockedError(QAError):
    """Another process holds the index's writer lock."""

    exit_code = 3


class ModelMismatchError(QAError):
    """The index was built with a different embedding model than the one configured."""

    exit_code = 4


class BackendError(QAError):
    """An optional backend is missing or unreachable (LLM server, Chroma server)."""

    exit_code = 5
