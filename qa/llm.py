"""Generative backends, chosen by name (`QA_ANSWERER`) in one factory that imports lazily.

`extractive` needs no model and returns None. `ollama:MODEL` and `openai:MODEL` (any
OpenAI-compatible server: llama.cpp, vLLM, LM Studio, OpenAI) return a LangChain BaseChatModel;
a missing optional package is reported with the extra to install.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from index.errors import BackendError
from index.settings import Settings

if TYPE_CHECKING:  # the extractive answerer never loads LangChain's chat-model stack
    from langchain_core.language_models import BaseChatModel


def parse_answerer(name: str) -> tuple[str, str]:
    kind, _, model = name.partition(":")
    kind = kind.strip().lower()
    if kind == "extractive":
        return kind, ""
    if kind in ("ollama", "openai") and model.strip():
        return kind, model.strip()
    raise BackendError(f"unknown answerer {name!r}; use 'extractive', 'ollama:MODEL' or 'openai:MODEL'")


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    kind, model = parse_answerer(settings.answerer)
    if kind == "extractive":
        return None
    if kind == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError:
            raise BackendError("the Ollama answerer needs an extra: pip install '.[ollama]'") from None
        kwargs = {"base_url": settings.ollama_base_url} if settings.ollama_base_url else {}
        return ChatOllama(model=model, temperature=0, **kwargs)
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise BackendError("the OpenAI-compatible answerer needs an extra: pip install '.[openai]'") from None
    return ChatOpenAI(
        model=model, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
        temperature=0, streaming=True, max_retries=0, timeout=120,
    )


def backend_failure(settings: Settings, error: Exception) -> BackendError:
    """What a user is told when the generative answerer's model fails (its server down, the model
    not pulled): which answerer, where, what it said, and what to do."""
    kind, _ = parse_answerer(settings.answerer)
    where = settings.openai_base_url if kind == "openai" else settings.ollama_base_url
    at = f" at {where}" if where else ""
    said = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return BackendError(f"the {settings.answerer} answerer{at} failed ({type(error).__name__}{': ' + said if said else ''}); "
                        f"start its server (or pull the model), or switch to the offline 'extractive' answerer "
                        f"(QA_ANSWERER, or Settings in the UI)")


OLLAMA_URL = "http://127.0.0.1:11434"


def available_models(kind: str, base_url: str | None, timeout: float = 3.0) -> list[str]:
    """The models a generative answerer's server offers (Ollama's /api/tags, an OpenAI-compatible
    server's /models). Raises BackendError with a one-line reason when it cannot say."""
    import json
    import urllib.error
    import urllib.request

    if kind == "openai" and not (base_url or "").strip():
        raise BackendError("give the OpenAI-compatible server's base URL (e.g. http://127.0.0.1:8080/v1)")
    root = (base_url or OLLAMA_URL).strip().rstrip("/")
    url = f"{root}/api/tags" if kind == "ollama" else f"{root}/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            data = json.loads(r.read(2_000_000) or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", None) or e
        raise BackendError(f"no {kind} server answers at {root} ({why})") from None
    items = data.get("models", []) if kind == "ollama" else data.get("data", [])
    return [str(m.get("name") or m.get("id") or m.get("model")) for m in items if isinstance(m, dict)]
