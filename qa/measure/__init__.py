"""Measuring the assistant, apart from the pipeline it measures: `qa eval` (evaluate.py: answer
quality over SQuAD JSON or your own JSONL) and `qa bench` (bench.py: speed against the LangChain
tutorial pipeline). Nothing in qa/ or index/ imports this package."""
