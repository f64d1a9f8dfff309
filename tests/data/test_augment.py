"""Word dropout/swap for training and perturbations for robustness checks: seeded, text kept."""

import random

import pytest

from newsrec.data.augment import augment, perturb


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
