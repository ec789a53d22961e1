"""Documents in, vectors out: load -> split -> embed -> store, run by `index.indexer.index_paths`.

Importing this package is cheap; torch and the model load only when something must be embedded.
"""
# Embedding backends by name -> the model id recorded in the index (kept here, import-free, so
# checking an index needs no torch). index/embed.py builds them.
EMBEDDING_MODELS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "fake": "fake-384"}
