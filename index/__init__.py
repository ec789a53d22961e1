"""Documents in, vectors out: load -> split -> embed -> store, run by `index.indexer.index_paths`.

Importing this package is cheap; torch and the model load only when something must be embedded.
"""
import qa  # noqa: F401  (sets the offline / no-telemetry environment before any heavy import)
