import pytest

from newsrec.data.mind import News
from newsrec.llm.backends import LLMError, OpenAICompatibleLLM, load_llm
from newsrec.llm.enrich import enrich_news
from newsrec.llm.weights import gguf_path
from tests.llm.conftest import needs_llama


def test_unknown_llm_says_what_to_use():
    with pytest.raises(LLMError, match="smollm2"):
        load_llm("gpt-17")
    with pytest.raises(ValueError, match="unknown local LLM"):
        gguf_path("nope")


def test_unreachable_server_is_a_clear_error():
    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(LLMError, match=r"127\.0\.0\.1:9"):
        llm.generate("sys", "hi")


@needs_llama
def test_local_gguf_generates(smollm2):
    reply = smollm2.generate("You answer briefly.", "Name a color.", max_tokens=8)
    assert isinstance(reply, str) and reply.strip()


@needs_llama
def test_openai_compatible_backend_against_a_real_local_server(llama_server, tmp_path):
    llm = load_llm(llama_server, model="smollm2")
    reply = llm.generate("You answer briefly.", "Name a fruit.", max_tokens=8)
    assert reply.strip()
    out = enrich_news(llm, [News("N1", "Tesla unveils a cheaper electric car", "autos")], None, progress=False)
    assert 3 <= len(out["N1"].keywords) <= 5
