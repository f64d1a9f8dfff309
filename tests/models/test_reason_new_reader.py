"""A reader with no history and no interests is not told of a "usual reading" they do not have."""

from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.models.reason import Reason

NEW_READER = "Picked for new readers: you have no reading history yet."


def test_a_reader_with_nothing_known_is_told_the_pick_is_for_new_readers():
    assert Reason([], 0.0).sentence({}, "Fed cuts rates") == NEW_READER
    assert Reason([], 0.0).sentence({}, "美联储再次降息") == "为新读者挑选的新闻：你还没有阅读纪录。"
    assert Reason([], 0.9).sentence({}, "Fed cuts rates") == "Popular with readers right now."
    # with history or interests, a weak match is still "beyond" what they read
    assert Reason([("N1", 0.1)], 0.0).sentence({}) == "Something beyond your usual reading."
    assert Reason([], 0.0, [("tennis", 0.1)]).sentence({}) == "Something beyond your usual reading."


def test_recommendations_for_an_empty_history_say_no_usual_reading(model_dir, tiny_world):
    news = read_news(tiny_world)
    ranker = Ranker.load(model_dir, news, EmbeddingCache())
    sentences = {reason.sentence(news, news[i].title) for i, _, reason in ranker.recommend([], k=5)}
    assert sentences <= {NEW_READER, "Popular with readers right now."}, sentences
