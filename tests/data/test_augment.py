"""Word dropout/swap for training and perturbations for robustness checks: seeded, text kept."""

import random

import numpy as np
import pytest

from newsrec.data import language
from newsrec.data.augment import SynonymTable, augment, perturb


def test_augmentation_and_perturbations_are_seeded_and_keep_text():
    text = "Lakers beat the Celtics in a thrilling overtime game on Sunday"
    a = augment(text, random.Random(1), dropout=0.3, swap=0.3)
    assert a == augment(text, random.Random(1), dropout=0.3, swap=0.3) and a != text
    assert set(a.split()) <= set(text.split())
    assert augment(text, random.Random(1)) == text
    dropped = perturb(text, "drop_words", 0.5, random.Random(2))
    assert 0 < len(dropped.split()) < len(text.split())
    typos = perturb(text, "typos", 1.0, random.Random(3))
    assert typos != text and len(typos.split()) == len(text.split())
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb(text, "shout", 0.5, random.Random(0))


class FakeTokenizer:
    """Just the vocabulary a SynonymTable reads."""

    def __init__(self, words: list[str]):
        self.vocab = {w: i for i, w in enumerate(words)}

    def get_vocab(self) -> dict[str, int]:
        return self.vocab


# "storms" shares the stem of "storm" and "经济学" contains "经济": neither counts as a synonym;
# "醫師" is "医师" in Traditional script and joins its vector; "过的" is a fragment, not a word
VOCAB = ["storm", "hurricane", "storms", "game", "match", "医生", "医师", "醫師", "经济", "经济学", "过的"]
EMBEDDINGS = np.array(
    [
        [1, 0, 0, 0, 0],
        [0.9, 0.2, 0, 0, 0],
        [1, 0.05, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0.2, 0.9, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0.9, 0.1],
        [0, 0, 0, 0.9, 0.1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0.1, 1],
        [0, 0, 0, 1, 0],
    ],
    np.float32,
)
ENGLISH = "Lakers beat the Celtics in a thrilling overtime game on Sunday, after the storm."
TRADITIONAL = "湖人隊在加時賽中擊敗塞爾提克，贏得週日的比賽。醫生說經濟很好"


def test_english_edits_are_unchanged_by_the_chinese_support():
    # outputs of the English-only implementation for these seeds: the same words, the same draws
    synonyms = SynonymTable(FakeTokenizer(VOCAB), EMBEDDINGS)
    assert augment(ENGLISH, random.Random(1), 0.3, 0.3) == "beat the a in thrilling overtime after Sunday, the"
    assert perturb(ENGLISH, "drop_words", 0.5, random.Random(2)) == "Lakers beat in a thrilling game on Sunday,"
    assert perturb(ENGLISH, "typos", 0.5, random.Random(3)) == (
        "Lakkers beat the Celtics in a thriling overtimme game on Suday, after the storm."
    )
    assert perturb(ENGLISH, "synonyms", 1.0, random.Random(4), synonyms) == (
        "Lakers beat the Celtics in a thrilling overtime match on Sunday, after the hurricane."
    )


def test_chinese_augmentation_moves_and_drops_whole_words():
    words = language.words(TRADITIONAL)
    assert augment(TRADITIONAL, random.Random(0)) == TRADITIONAL  # nothing dropped: every character, no spaces
    swapped = augment(TRADITIONAL, random.Random(0), swap=1.0)  # every pair swaps: (0, 1), (2, 3), ...
    pairs = [w for i in range(0, len(words) - 1, 2) for w in (words[i + 1], words[i])] + words[len(words) // 2 * 2 :]
    assert swapped == "".join(pairs) and swapped.startswith("在湖人隊中加時賽")
    draws = random.Random(1)
    kept = "".join(w for w in words if draws.random() >= 0.5)  # the same draws, word by word
    assert augment(TRADITIONAL, random.Random(1), dropout=0.5) == kept and 0 < len(kept) < len(TRADITIONAL)


def test_chinese_perturbations_insert_no_spaces_and_edit_within_words():
    dropped = perturb(TRADITIONAL, "drop_words", 0.5, random.Random(2))
    assert " " not in dropped and len(dropped) < len(TRADITIONAL)
    typos = perturb(TRADITIONAL, "typos", 1.0, random.Random(3))
    assert " " not in typos and typos != TRADITIONAL
    assert set(typos) <= set(TRADITIONAL)  # characters dropped, doubled or swapped, never invented
    assert perturb("湖人隊 擊敗 塞爾提克", "typos", 0.0, random.Random(0)) == "湖人隊擊敗塞爾提克"  # Chinese spacing


def test_chinese_synonyms_are_whole_words_in_the_texts_script():
    synonyms = SynonymTable(FakeTokenizer(VOCAB), EMBEDDINGS)
    assert synonyms.chinese.words == ["医生", "医师", "经济", "经济学"]  # "过的" is no word; scripts merged
    assert synonyms.synonym("醫生") == "医师" and synonyms.synonym("经济") is None  # "经济学" is the same word
    assert perturb("醫生說經濟很好", "synonyms", 1.0, random.Random(0), synonyms) == "醫師說經濟很好"
    assert perturb("医生说经济很好", "synonyms", 1.0, random.Random(0), synonyms) == "医师说经济很好"
    english_only = SynonymTable(FakeTokenizer(VOCAB[:5]), EMBEDDINGS[:5])  # like MiniLM's: no Chinese words
    assert perturb(TRADITIONAL, "synonyms", 1.0, random.Random(0), english_only) == TRADITIONAL
