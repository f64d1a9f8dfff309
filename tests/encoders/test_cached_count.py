"""What an encoding says it took from the cache: only texts really found there."""

from newsrec.encoders import plm as plm_module
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.plm import PLM, encode_texts
from newsrec.progress import Progress


def test_only_texts_found_in_the_cache_are_called_cached(tmp_path, monkeypatch):
    told: list[str] = []

    class Told(Progress):
        def __init__(self, desc: str, *args, **kwargs):
            told.append(desc)
            super().__init__(desc, *args, **kwargs)

    monkeypatch.setattr(plm_module, "Progress", Told)
    encoder = PLM("all-MiniLM-L6-v2", max_length=16, quantize="none")
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    texts = [f"Headline {i} about the local team" for i in range(4)]
    encode_texts(encoder, texts * 2, cache)  # each text twice, an empty cache
    assert told == ["encoding with all-MiniLM-L6-v2"]
    encode_texts(encoder, [*texts, "A new headline", *texts], cache)
    assert told[-1] == "encoding with all-MiniLM-L6-v2 (4 cached)"
