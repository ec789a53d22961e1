# Two commands a newcomer needs: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install index chromium bench eval clean

install: $(STAMP)

# torch==2.13.0 goes in first: its CPU wheel is local, and anything that asks for a plain
# `torch` afterwards finds it satisfied instead of pulling a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ollama,openai]'
	$(BIN)/python -m index.embed >/dev/null  # export the model to ONNX once (index/embed.py)
	touch $(STAMP)

index: $(STAMP)
	$(BIN)/qa index seeds/

run: $(STAMP) index
	$(BIN)/qa serve --open

# Browser tests use Debian's Chromium; Playwright never downloads a browser of its own.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) chromium
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/qa bench

clean:
	rm -rf $(VENV) .qa
