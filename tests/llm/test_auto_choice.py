"""`--llm auto` takes, per task and language, the model the measured table recommends.

The figures are docs/RESULTS.md's table ("LLM texts"); the rule applied to them is the README's
("The LLM at work", "Which model per task"). So the choice in llm/backends.py cannot drift from
the figures or the rule. No model is loaded.
"""

from pathlib import Path

import pytest

from newsrec.data.mind import News
from newsrec.llm.backends import AUTO_MODELS, TASKS, LanguageLLMs, LLMError, Task
from newsrec.llm.enrich import enrich_one
from newsrec.llm.explain import explain
from newsrec.llm.paraphrase import paraphrase_titles
from newsrec.llm.profiles import build_profile
from newsrec.models.reason import Reason
from tests.llm.conftest import ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]
TASK_OF_ROW: dict[str, Task] = {
    "explanation": "explain",
    "profile": "profile",
    "paraphrase": "paraphrase",
    "summary": "enrich",
}
MAX_SECONDS = 30.0  # the README's rule: the dearest acceptable cost, seconds per item in the table
NEAR = 5.0  # percentage points of texts shown within which the faster model is taken
Row = tuple[str, float, float]  # model, % of texts shown, seconds per item


def measured() -> dict[Task, list[Row]]:
    """Per task, the table's rows that measured a model doing it (not those saying it cannot)."""
    text = (ROOT / "docs" / "RESULTS.md").read_text()
    section = text[text.index("### LLM texts") :]
    section = section[: section.index("\n### ", 1)]
    rows: dict[Task, list[Row]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[1] in TASK_OF_ROW and cells[3].endswith("%"):
            rows.setdefault(TASK_OF_ROW[cells[1]], []).append((cells[0], float(cells[3][:-1]), float(cells[6])))
    return rows


def recommended(rows: list[Row]) -> str:
    """The README's rule: the most texts shown at most MAX_SECONDS per item; within NEAR points, the fastest."""
    affordable = [r for r in rows if r[2] <= MAX_SECONDS]
    best = max(shown for _, shown, _ in affordable)
    return min((r for r in affordable if r[1] >= best - NEAR), key=lambda r: r[2])[0]


def test_auto_takes_the_model_the_measured_table_recommends():
    rows = measured()
    assert set(rows) == set(TASKS)  # every task is measured
    for task in TASKS:
        assert LanguageLLMs().model_id(task, "en") == recommended(rows[task]), task
        assert LanguageLLMs().model_id(task, "zh") == "qwen2.5-coder-1.5b"  # the one packaged model writing Chinese
    assert len({AUTO_MODELS[task]["en"] for task in TASKS}) > 1  # the choice does depend on the task


def test_each_task_asks_for_the_model_of_its_own_task(monkeypatch):
    asked: list[str] = []

    def for_task(self: LanguageLLMs, task: Task, language: str) -> ScriptedLLM:
        asked.append(f"{task}:{language}")
        return ScriptedLLM(["?"] * 3, model_id=self.model_id(task, language))

    monkeypatch.setattr(LanguageLLMs, "for_task", for_task)
    llm = LanguageLLMs()
    read = News("H1", "Lakers sign a new coach", "sports", "basketball_nba")
    item = News("N1", "Lakers beat Celtics in overtime", "sports", "basketball_nba", "The Lakers won by two points.")
    explain(llm, Reason(matched=[("H1", 0.8)], popularity=0.0), item, {"H1": read, "N1": item})
    build_profile(llm, [read, item])
    paraphrase_titles(llm, [item])
    enrich_one(llm, item)
    assert asked == ["explain:en", "profile:en", "paraphrase:en", "enrich:en"]


def test_newsrec_llm_models_overrides_auto_per_language_or_per_task(monkeypatch):
    monkeypatch.setenv("NEWSREC_LLM_MODELS", '{"en": "gemma3-270m", "paraphrase:en": "qwen2.5-coder-1.5b"}')
    llms = LanguageLLMs()
    assert llms.model_id("paraphrase", "en") == "qwen2.5-coder-1.5b"  # task:language over language
    assert {llms.model_id(task, "en") for task in TASKS if task != "paraphrase"} == {"gemma3-270m"}
    assert llms.model_id("profile", "zh") == AUTO_MODELS["profile"]["zh"]  # what it leaves out keeps auto's choice
    monkeypatch.setenv("NEWSREC_LLM_MODELS", '{"summary:en": "smollm2"}')
    with pytest.raises(LLMError, match=r"unknown key\(s\) \['summary:en'\].*'enrich:en'"):
        LanguageLLMs()
