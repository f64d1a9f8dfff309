"""Generative LLM backends behind one small interface.

- `LlamaCppLLM`: a local GGUF model through llama-cpp-python (optional extra `newsrec[llm]`).
- `OpenAICompatibleLLM`: any server speaking the OpenAI chat API (vLLM, Ollama, llama.cpp's
  server, `python -m llama_cpp.server`).

`load_llm("smollm2")` gives a local model by name; `load_llm("http://127.0.0.1:8000/v1",
model="x")` a remote one.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Protocol

import httpx

from newsrec.environment import environment
from newsrec.llm.weights import GGUF_MODELS, gguf_path

__all__ = ["LLM", "LlamaCppLLM", "OpenAICompatibleLLM", "load_llm", "LLMError"]

logger = logging.getLogger(__name__)


class LLMError(RuntimeError):
    """The LLM could not be reached or loaded; the message says what to do."""


class LLM(Protocol):
    """A text generator. `model_id` names the weights, so caches can key on it."""

    model_id: str

    def generate(self, system: str, prompt: str, max_tokens: int = 128, json_schema: dict | None = None) -> str:
        """Reply to `prompt` under the `system` instruction; `json_schema` constrains it to such a JSON object."""
        ...


class LlamaCppLLM:
    def __init__(self, name: str, n_ctx: int = 2048, n_threads: int | None = None, seed: int = 0):
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LLMError(
                "llama-cpp-python is not installed: run `pip install -e '.[llm]'` "
                "(it compiles for about 5 minutes; see the README), or use an OpenAI-compatible server"
            ) from e
        self.model_id = name
        self.chat = GGUF_MODELS[name].chat
        self._llm = Llama(
            model_path=str(gguf_path(name)),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count(),
            seed=seed,
            verbose=False,
        )

    def generate(self, system: str, prompt: str, max_tokens: int = 128, json_schema: dict | None = None) -> str:
        # a JSON schema becomes a grammar: small models then cannot leave the required shape
        if self.chat:
            chat: Any = self._llm.create_chat_completion(  # a dict: stream is off
                messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0.0,
                response_format={"type": "json_object", "schema": json_schema} if json_schema else None,
            )
            return chat["choices"][0]["message"]["content"] or ""
        # a base model continues text: state the task, then open the answer for it
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False) if json_schema else None
        completion: Any = self._llm.create_completion(  # a dict: stream is off
            f"{system}\n\n{prompt}\nAnswer: ",
            max_tokens=max_tokens,
            temperature=0.0,
            grammar=grammar,
            stop=None if json_schema else ["\n\n"],
        )
        return completion["choices"][0]["text"]


class OpenAICompatibleLLM:
    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None, timeout: float = 120.0):
        self.model_id = f"{model}@{base_url}"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def generate(self, system: str, prompt: str, max_tokens: int = 128, json_schema: dict | None = None) -> str:
        body = {
            "model": self._model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        if json_schema:  # llama.cpp's server form; vLLM and Ollama accept json_object too
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        try:
            reply = self._client.post("/chat/completions", json=body)
            reply.raise_for_status()
        except httpx.HTTPError as e:
            raise LLMError(f"the LLM server at {self._client.base_url} failed: {e}") from e
        return reply.json()["choices"][0]["message"]["content"] or ""


def load_llm(spec: str, model: str = "default", api_key: str | None = None) -> LLM:
    """A local model by name (see `GGUF_MODELS`) or a server by its base URL."""
    if spec.startswith(("http://", "https://")):
        env_key = environment().llm_api_key
        return OpenAICompatibleLLM(spec, model, api_key or (env_key.get_secret_value() if env_key else None))
    if spec in GGUF_MODELS:
        return LlamaCppLLM(spec)
    raise LLMError(
        f"unknown LLM {spec!r}: use one of {sorted(GGUF_MODELS)} or a server URL like http://127.0.0.1:8080/v1"
    )
