import json

import pytest

from newsrec.data.enrichment import attach_enrichments, read_enrichment_rows
from newsrec.data.mind import News
from newsrec.llm.cache import LLMCache
from newsrec.llm.enrich import (
    Enrichment,
    cached_enrichment,
    enrich_news,
    fallback_enrichment,
    read_enrichments,
    write_enrichments,
)
from newsrec.llm.profiles import build_profile
from newsrec.llm.structured import parse_json_object
from tests.llm.conftest import ScriptedLLM, needs_llama

NEWS = News("N1", "Lakers beat the Celtics in overtime thriller", "sports", "basketball", "A close game.")
GOOD = json.dumps(
    {
        "summary": "The Lakers beat the Celtics in a close overtime game.",
        "keywords": ["Lakers", "Celtics", "overtime"],
    }
)


def test_json_is_found_inside_prose_and_fences():
    assert parse_json_object('Sure! ```json\n{"a": 1}\n``` done') == {"a": 1}
    with pytest.raises(ValueError):
        parse_json_object("no json here")


def test_bad_output_is_retried_with_the_error_named(tmp_path):
    llm = ScriptedLLM(["not json at all", json.dumps({"summary": "x", "keywords": ["a"]}), GOOD])
    result = enrich_news(llm, [NEWS], LLMCache(tmp_path / "c.sqlite"), progress=False)["N1"]
    assert result.from_llm and result.keywords == ["Lakers", "Celtics", "overtime"]
    assert len(llm.prompts) == 3 and "previous answer was invalid" in llm.prompts[2]


def test_fallback_after_retries_uses_the_title():
    llm = ScriptedLLM(["{}", "[1, 2]", '{"summary": 5}'])
    result = enrich_news(llm, [NEWS], None, progress=False)["N1"]
    assert not result.from_llm and result.summary == NEWS.title
    assert 3 <= len(result.keywords) <= 5 and "Lakers" in result.keywords


def test_fallback_keywords_for_a_short_title():
    # a category that repeats a title word in other case once crashed a whole batch
    assert fallback_enrichment(News("N9", "Celebrity splits", "celebrity")).keywords[:2] == ["Celebrity", "splits"]
    e = fallback_enrichment(News("N2", "Storm", "weather", "forecast"))
    assert e.keywords[:3] == ["Storm", "forecast", "weather"]


def test_cache_hits_and_resume(tmp_path):
    cache = LLMCache(tmp_path / "c.sqlite")
    other = News("N2", "Fed cuts interest rates again", "finance")
    fed = json.dumps({"summary": "The Fed cuts interest rates again.", "keywords": ["Fed", "interest rates", "cuts"]})
    first = ScriptedLLM([GOOD])
    enrich_news(first, [NEWS], cache, progress=False)  # a batch stopped after one item
    assert cached_enrichment(first, NEWS, cache).keywords == ["Lakers", "Celtics", "overtime"]
    assert cached_enrichment(first, other, cache) is None  # what `enrich --cached-only` skips
    resumed = ScriptedLLM([fed])
    done = enrich_news(resumed, [NEWS, other], LLMCache(tmp_path / "c.sqlite"), progress=False)
    assert len(resumed.prompts) == 1 and "Fed cuts" in resumed.prompts[0]  # N1 came from the cache
    assert set(done) == {"N1", "N2"}
    changed_model = ScriptedLLM([GOOD, fed], model_id="another")
    enrich_news(changed_model, [NEWS, other], cache, progress=False)
    assert len(changed_model.prompts) == 2  # the key includes the model


def test_enrichment_file_roundtrip_and_news_text(tmp_path):
    e = Enrichment(summary="The Lakers won.", keywords=["Lakers", "NBA", "win"])
    path = write_enrichments(tmp_path / "e.jsonl", {"N1": e})
    assert read_enrichments(path) == {"N1": e}
    news = attach_enrichments({"N1": NEWS, "N2": News("N2", "Other")}, read_enrichment_rows(path))
    assert news["N1"].summary == "The Lakers won." and news["N1"].keywords == "Lakers, NBA, win"
    assert news["N2"].summary == ""
    (tmp_path / "bad.jsonl").write_text('{"news_id": "N1", "summary": "x"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_enrichments(tmp_path / "bad.jsonl")


def test_profile_fallback_counts_categories():
    history = [
        NEWS,
        News("N3", "Knicks sign a guard", "sports", "basketball"),
        News("N4", "Rates", "finance", "markets"),
    ]
    profile = build_profile(ScriptedLLM(["?", "?", "?"]), history, ["I love basketball"])
    assert not profile.from_llm and profile.topics[:2] == ["sports", "basketball"]
    assert "I love basketball" in profile.profile


@needs_llama
@pytest.mark.slow
def test_smollm2_enriches_and_profiles_for_real(smollm2, tmp_path):
    news = [NEWS, News("N5", "Apple unveils a foldable phone", "tech", "gadgets", "The phone folds in half.")]
    out = enrich_news(smollm2, news, LLMCache(tmp_path / "c.sqlite"), progress=False)
    for e in out.values():  # from the LLM or the fallback: always valid
        assert 8 <= len(e.summary) <= 400 and 3 <= len(e.keywords) <= 5
    profile = build_profile(smollm2, news)
    assert profile.topics and len(profile.profile) >= 10
