"""Generative LLM backends behind one small interface.

- `LlamaCppLLM`: a local GGUF model through llama-cpp-python (optional extra `newsrec[llm]`).
- `OpenAICompatibleLLM`: any server speaking the OpenAI chat API (vLLM, Ollama, llama.cpp's
  server, `python -m llama_cpp.server`).

`load_llm("smollm2")` gives a local model by name; `load_llm("http://127.0.0.1:8000/v1",
model="x")` a remote one.

Each task writes in the language of its input, so it needs a model that writes that language,
and the packaged models differ per task in how often their texts pass the grounding check:
`LanguageLLMs("auto")` takes, per task and language, the local model of `AUTO_MODELS` (the
pick of the measured table in docs/RESULTS.md, "LLM texts"; the rule is in the README), under
`NEWSREC_LLM_MODELS` (`auto_models`), loading each on first use. A local model named outright
is used for every task, in the languages it writes; for another one, like Chinese news with
the English-only SmolLM2, and for a model that is not installed, the error names the package
to install. A server's model is trusted with every task and language. Tasks take an `AnyLLM`:
one model (used as given, but a local one only for its languages) or a `LanguageLLMs`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any, Literal, Protocol, get_args

import httpx

from newsrec.environment import environment
from newsrec.llm.llama_io import llama_logs_to_debug, written
from newsrec.llm.weights import GGUF_MODELS, gguf_path

__all__ = [
    "LLM",
    "LlamaCppLLM",
    "OpenAICompatibleLLM",
    "load_llm",
    "LLMError",
    "LanguageLLMs",
    "AnyLLM",
    "llm_for",
    "model_id_for",
    "AUTO",
    "Task",
    "TASKS",
    "AUTO_MODELS",
    "auto_models",
]

logger = logging.getLogger(__name__)

AUTO = "auto"  # the measured best local model of each task and language
Task = Literal["explain", "profile", "paraphrase", "enrich"]  # enrich: a summary and keywords
TASKS: tuple[Task, ...] = get_args(Task)
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
# What `auto` runs: per task and language, the model docs/RESULTS.md ("LLM texts") recommends by the
# README's rule; only Qwen2.5 writes Chinese. NEWSREC_LLM_MODELS overrides it (`auto_models`).
AUTO_MODELS: dict[Task, dict[str, str]] = {
    "explain": {"en": "smollm2", "zh": "qwen2.5-coder-1.5b"},
    "profile": {"en": "smollm2", "zh": "qwen2.5-coder-1.5b"},
    "paraphrase": {"en": "qwen2.5-coder-1.5b", "zh": "qwen2.5-coder-1.5b"},
    "enrich": {"en": "qwen2.5-coder-1.5b", "zh": "qwen2.5-coder-1.5b"},
}


class LLMError(RuntimeError):
    """The LLM could not be reached or loaded; the message says what to do."""


class LLM(Protocol):
    """A text generator. `model_id` names the weights, so caches can key on it."""

    model_id: str

    def generate(
        self,
        system: str,
        prompt: str,
        max_tokens: int = 128,
        json_schema: dict | None = None,
        grammar: str | None = None,
    ) -> str:
        """Reply to `prompt` under the `system` instruction; `json_schema` constrains it to such a
        JSON object, `grammar` (GBNF) to the texts it allows, where the backend can (a server may ignore it)."""
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
        llama_logs_to_debug()
        self.model_id = name
        self.chat = GGUF_MODELS[name].chat
        self._llm = Llama(
            model_path=str(gguf_path(name)),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count(),
            seed=seed,
            verbose=False,
        )

    def generate(
        self,
        system: str,
        prompt: str,
        max_tokens: int = 128,
        json_schema: dict | None = None,
        grammar: str | None = None,
    ) -> str:
        # a JSON schema becomes a grammar: small models then cannot leave the required shape
        from llama_cpp import LlamaGrammar

        rules = LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
        if self.chat:
            chunks: Any = self._llm.create_chat_completion(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0.0,
                response_format={"type": "json_object", "schema": json_schema} if json_schema else None,
                grammar=rules,
                stream=True,
            )
            return written(chunks, lambda chunk: chunk["choices"][0]["delta"].get("content"))
        # a base model continues text: state the task, then open the answer for it
        if json_schema:
            rules = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
        chunks = self._llm.create_completion(
            f"{system}\n\n{prompt}\nAnswer: ",
            max_tokens=max_tokens,
            temperature=0.0,
            grammar=rules,
            stop=None if rules else ["\n\n"],
            stream=True,
        )
        return written(chunks, lambda chunk: chunk["choices"][0]["text"])


class OpenAICompatibleLLM:
    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None, timeout: float = 120.0):
        self.model_id = f"{model}@{base_url}"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def generate(
        self,
        system: str,
        prompt: str,
        max_tokens: int = 128,
        json_schema: dict | None = None,
        grammar: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        if json_schema:  # llama.cpp's server form; vLLM and Ollama accept json_object too
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        if grammar:  # llama.cpp's server form; a server without it writes free text, which the caller checks
            body["grammar"] = grammar
        try:
            reply = self._client.post("/chat/completions", json=body)
            reply.raise_for_status()
        except httpx.HTTPError as e:
            raise LLMError(f"the LLM server at {self._client.base_url} failed: {e}") from e
        return reply.json()["choices"][0]["message"]["content"] or ""


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _unknown(spec: str) -> LLMError:
    return LLMError(
        f"unknown LLM {spec!r}: use one of {sorted(GGUF_MODELS)}, {AUTO!r} (one per language) "
        "or a server URL like http://127.0.0.1:8080/v1"
    )


def load_llm(spec: str, model: str = "default", api_key: str | None = None) -> LLM:
    """A local model by name (see `GGUF_MODELS`) or a server by its base URL."""
    if _is_url(spec):
        env_key = environment().llm_api_key
        return OpenAICompatibleLLM(spec, model, api_key or (env_key.get_secret_value() if env_key else None))
    if spec in GGUF_MODELS:
        return LlamaCppLLM(spec)
    raise _unknown(spec)


def _check_writes(name: str, task: Task, language: str) -> None:
    """An LLMError naming the model `auto` uses instead, unless local model `name` writes `language`."""
    if language in GGUF_MODELS[name].languages:
        return
    able = GGUF_MODELS[AUTO_MODELS[task][language]]
    raise LLMError(
        f"{name} cannot write {LANGUAGE_NAMES[language]}, the language of this input: use --llm {able.name} "
        f"(install it with `{able.install}`, or scripts/install-llm --all-models), "
        "--llm auto, or an OpenAI-compatible server"
    )


def auto_models(overrides: Mapping[str, str]) -> dict[tuple[Task, str], str]:
    """The local model `auto` takes per (task, language): `AUTO_MODELS`, under `overrides`
    (NEWSREC_LLM_MODELS), whose keys are a language ("zh": every task in it) or a task and a
    language ("paraphrase:en"), the latter winning."""
    keys = [*LANGUAGE_NAMES, *(f"{task}:{language}" for task in TASKS for language in LANGUAGE_NAMES)]
    if unknown := sorted(set(overrides) - set(keys)):
        raise LLMError(f"NEWSREC_LLM_MODELS: unknown key(s) {unknown}: use a language or task:language of {keys}")
    return {
        (task, language): overrides.get(f"{task}:{language}", overrides.get(language, AUTO_MODELS[task][language]))
        for task in TASKS
        for language in LANGUAGE_NAMES
    }


class LanguageLLMs:
    """The LLM for each task and language, each loaded on first use (see the module docstring)."""

    def __init__(self, spec: str = AUTO, model: str = "default", api_key: str | None = None):
        if not (spec == AUTO or spec in GGUF_MODELS or _is_url(spec)):
            raise _unknown(spec)
        self._server = load_llm(spec, model, api_key) if _is_url(spec) else None
        # (task, language) -> local model name
        self._names = (
            auto_models(environment().llm_models)
            if spec == AUTO
            else dict.fromkeys(((t, lang) for t in TASKS for lang in LANGUAGE_NAMES), spec)
        )
        self._local: dict[str, LLM] = {}  # one of each model, whatever the tasks sharing it

    def _local_name(self, task: Task, language: str) -> str:
        name = self._names[task, language]
        if name not in GGUF_MODELS:  # a name from NEWSREC_LLM_MODELS
            raise _unknown(name)
        _check_writes(name, task, language)
        return name

    def model_id(self, task: Task, language: str) -> str:
        """The `model_id` of the LLM for `task` in `language`, without loading it (for cache look-ups)."""
        return self._server.model_id if self._server else self._local_name(task, language)

    def for_task(self, task: Task, language: str) -> LLM:
        """The LLM for `task` in `language`, loaded on first use and shared by the tasks choosing it."""
        if self._server:
            return self._server
        name = self._local_name(task, language)
        if name not in self._local:
            try:
                self._local[name] = load_llm(name)
            except FileNotFoundError as e:  # a part package is missing: say what it is for
                raise LLMError(f"{LANGUAGE_NAMES[language]} input needs the local LLM {name}: {e}") from e
        return self._local[name]


AnyLLM = LLM | LanguageLLMs


def llm_for(llm: AnyLLM, task: Task, language: str) -> LLM:
    """The model to do `task` in `language`: a `LanguageLLMs`'s choice, or `llm` itself if it can."""
    if isinstance(llm, LanguageLLMs):
        return llm.for_task(task, language)
    if isinstance(llm, LlamaCppLLM):
        _check_writes(llm.model_id, task, language)
    return llm


def model_id_for(llm: AnyLLM, task: Task, language: str) -> str:
    """What `llm_for(llm, task, language).model_id` is, without loading a model."""
    return llm.model_id(task, language) if isinstance(llm, LanguageLLMs) else llm.model_id
