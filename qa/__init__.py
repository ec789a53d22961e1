"""Question in, cited answer out: retrieve -> answer -> cite, assembled by `qa.chain.build_chain`.

Importing this package is cheap; models, stores and UI are built in factories, never on import.
"""
import os

# Nothing in this project may reach a model hub or send telemetry: set before any such import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
