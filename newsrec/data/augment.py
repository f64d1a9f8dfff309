"""Word-level text edits: augmentation for training, perturbations for robustness checks.

Training augmentation (`augment`): drop a share of the words, swap a share of adjacent pairs.
Robustness perturbations (`perturb`): typos (a letter dropped, doubled or transposed),
dropped words, and synonym swaps. Synonyms come from `SynonymTable`, the nearest whole words
in the PLM's own input-embedding table (no thesaurus is installable offline).
All edits are seeded, so a figure can be reproduced.

Words are `language.words`: English splits on spaces, Chinese is segmented by jieba and joined
back without spaces, so an edit moves or drops whole Chinese words, never lone characters.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from newsrec.data.language import (
    ChineseScript,
    english_stem,
    in_script,
    is_dictionary_word,
    is_han,
    join_words,
    script_of,
    to_simplified,
)
from newsrec.data.language import words as words_of

__all__ = ["augment", "perturb", "PERTURBATIONS", "SynonymTable"]

PERTURBATIONS = ("typos", "drop_words", "synonyms")


def augment(text: str, rng: random.Random, dropout: float = 0.0, swap: float = 0.0) -> str:
    """Drop each word with probability `dropout` (one always stays), then swap adjacent pairs
    with probability `swap` each."""
    words = words_of(text)
    kept = [w for w in words if rng.random() >= dropout] or words[:1]
    i = 0
    while i < len(kept) - 1:
        if rng.random() < swap:
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
            i += 1  # a word moves at most one place
        i += 1
    return join_words(kept, text)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "transpose"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _typo_zh(word: str, rng: random.Random) -> str:
    """A slip in a Chinese word of two or more characters: one character dropped, doubled, or
    swapped with its neighbour (the character-level analogue of `_typo`; a word stays a word)."""
    if len(word) < 2:
        return word
    kind = rng.choice(("drop", "double", "transpose"))
    if kind == "transpose":
        i = rng.randrange(1, len(word))
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    i = rng.randrange(len(word))
    return word[:i] + word[i + 1 :] if kind == "drop" else word[:i] + word[i] + word[i:]


class _Neighbours:
    """Unit vectors of a word list, and the nearest other word of each that is not the same word
    in another form (`same`)."""

    def __init__(self, words: list[str], vectors: np.ndarray, same: Callable[[str, str], bool]):
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.same = same

    def nearest(self, key: str, min_similarity: float) -> str | None:
        if key not in self.index:
            return None
        sims = self.vectors @ self.vectors[self.index[key]]
        for j in np.argsort(-sims)[1:20]:
            if sims[j] < min_similarity:
                break
            if not self.same(self.words[j], key):
                return self.words[j]
        return None


def _same_stem(a: str, b: str) -> bool:
    return english_stem(a) == english_stem(b)


def _contains(a: str, b: str) -> bool:
    return a in b or b in a  # "经济" / "经济学": the same word with a suffix, not a synonym


def _chinese_words(vocab: dict[str, int]) -> dict[str, list[int]]:
    """{Simplified word: token ids}: the vocabulary's whole Chinese words of 2+ characters.

    Multilingual vocabularies (e5, XLM-R) hold Chinese words as pieces, most without the
    SentencePiece word mark "▁" (Chinese has no spaces to mark); jieba's dictionary tells the
    words ("篮球") from fragments ("过的"). Both scripts of a word share one entry.
    """
    out: dict[str, list[int]] = {}
    for piece, token_id in vocab.items():
        word = piece.removeprefix("▁")
        if len(word) > 1 and is_han(word) and is_dictionary_word(word):
            out.setdefault(to_simplified(word), []).append(token_id)
    return out


class SynonymTable:
    """Nearest whole-word neighbours in a transformer's input-embedding table.

    For all-MiniLM-L6-v2 this maps e.g. "big" to "huge" and "storm" to "hurricane"; neighbours
    with the same stem ("car", "cars") are skipped so a swap changes the word, not its ending.
    Chinese words come from a multilingual vocabulary (multilingual-e5-small maps "医生" to
    "医师", "风景" to "景色"); an English-only one such as MiniLM's has none, so Chinese words
    are then left alone. Chinese neighbours are found and returned in Simplified script.
    """

    def __init__(self, tokenizer, embeddings: np.ndarray, min_similarity: float = 0.5):
        vocab = tokenizer.get_vocab()
        words = [w for w in vocab if w.isalpha() and w.islower() and len(w) > 2]
        self.english = _Neighbours(words, embeddings[[vocab[w] for w in words]], _same_stem)
        chinese = _chinese_words(vocab)  # both scripts of a word: one vector, their mean
        vectors = np.array([embeddings[ids].mean(axis=0) for ids in chinese.values()]).reshape(-1, embeddings.shape[1])
        self.chinese = _Neighbours(list(chinese), vectors, _contains)
        self.min_similarity = min_similarity
        self._memo: dict[str, str | None] = {}

    def synonym(self, word: str) -> str | None:
        """A neighbour of `word` (capitalised like it), or None when none is close enough."""
        chinese = is_han(word)
        key = to_simplified(word) if chinese else word.lower()
        if key not in self._memo:
            self._memo[key] = (self.chinese if chinese else self.english).nearest(key, self.min_similarity)
        found = self._memo[key]
        if found is None:
            return None
        return found.capitalize() if word[:1].isupper() else found


def perturb(text: str, kind: str, rate: float, rng: random.Random, synonyms: SynonymTable | None = None) -> str:
    """Apply one perturbation `kind` to a share `rate` of the words of `text`."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}: choose from {PERTURBATIONS}")
    words = words_of(text)
    if kind == "drop_words":
        return join_words([w for w in words if rng.random() >= rate] or words[:1], text)
    # a swapped-in Chinese word comes in Simplified: write it in the text's own script
    script = script_of(text)
    out = []
    for w in words:
        if rng.random() < rate:
            if kind == "typos":
                w = _typo_zh(w, rng) if is_han(w) else _typo(w, rng)
            elif synonyms is not None:
                w = _swap_synonym(w, synonyms, script)
        out.append(w)
    return join_words(out, text)


def _swap_synonym(word: str, synonyms: SynonymTable, script: ChineseScript) -> str:
    if is_han(word):
        found = synonyms.synonym(word)
        return word if found is None else in_script(found, script)
    core = word.strip(".,:;!?'\"")
    swap = synonyms.synonym(core) if core.isalpha() else None
    return word.replace(core, swap) if swap else word
