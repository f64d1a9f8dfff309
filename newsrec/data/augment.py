"""Word-level text edits: augmentation for training, perturbations for robustness checks.

Training augmentation (`augment`): drop a share of the words, swap a share of adjacent pairs.
Robustness perturbations (`perturb`): typos (a letter dropped, doubled or transposed),
dropped words, and synonym swaps. Synonyms come from `SynonymTable`, the nearest whole words
in the PLM's own input-embedding table (no thesaurus is installable offline).
All edits are seeded, so a figure can be reproduced.
"""

from __future__ import annotations

import random
import re

import numpy as np

__all__ = ["augment", "perturb", "PERTURBATIONS", "SynonymTable"]

PERTURBATIONS = ("typos", "drop_words", "synonyms")
_TOKEN = re.compile(r"\S+")


def augment(text: str, rng: random.Random, dropout: float = 0.0, swap: float = 0.0) -> str:
    """Drop each word with probability `dropout` (one always stays), then swap adjacent pairs
    with probability `swap` each."""
    words = text.split()
    kept = [w for w in words if rng.random() >= dropout] or words[:1]
    i = 0
    while i < len(kept) - 1:
        if rng.random() < swap:
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
            i += 1  # a word moves at most one place
        i += 1
    return " ".join(kept)


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


def _stem(word: str) -> str:
    import snowballstemmer

    return snowballstemmer.stemmer("english").stemWord(word)


class SynonymTable:
    """Nearest whole-word neighbours in a transformer's input-embedding table.

    For all-MiniLM-L6-v2 this maps e.g. "big" to "huge" and "storm" to "hurricane"; neighbours
    with the same stem ("car", "cars") are skipped so a swap changes the word, not its ending.
    """

    def __init__(self, tokenizer, embeddings: np.ndarray, min_similarity: float = 0.5):
        vocab = tokenizer.get_vocab()
        words = [w for w in vocab if w.isalpha() and w.islower() and len(w) > 2]
        vectors = embeddings[[vocab[w] for w in words]]
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.min_similarity = min_similarity
        self._memo: dict[str, str | None] = {}

    def synonym(self, word: str) -> str | None:
        key = word.lower()
        if key not in self._memo:
            self._memo[key] = None
            if key in self.index:
                sims = self.vectors @ self.vectors[self.index[key]]
                for j in np.argsort(-sims)[1:20]:
                    if sims[j] < self.min_similarity:
                        break
                    if _stem(self.words[j]) != _stem(key):
                        self._memo[key] = self.words[j]
                        break
        found = self._memo[key]
        if found is None:
            return None
        return found.capitalize() if word[:1].isupper() else found


def perturb(text: str, kind: str, rate: float, rng: random.Random, synonyms: SynonymTable | None = None) -> str:
    """Apply one perturbation `kind` to a share `rate` of the words of `text`."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}: choose from {PERTURBATIONS}")
    words = _TOKEN.findall(text)
    if kind == "drop_words":
        return " ".join([w for w in words if rng.random() >= rate] or words[:1])
    out = []
    for w in words:
        if rng.random() < rate:
            if kind == "typos":
                w = _typo(w, rng)
            elif synonyms is not None:
                core = w.strip(".,:;!?'\"")
                swap = synonyms.synonym(core) if core.isalpha() else None
                w = w.replace(core, swap) if swap else w
        out.append(w)
    return " ".join(out)
