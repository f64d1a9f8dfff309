"""Which language and script an LLM writes in, and how its checks count and compare words.

Every task writes in the language of its source (the news, or what a user read and wrote):
`Writing.of(source)` reads it, and `Writing.fit` puts a reply into the source's script, since
models answer Chinese in Simplified even to Traditional news. Checks count words with
`count_words` (Chinese segmented by jieba, not split on spaces it does not have) and compare
texts by `language.fold`, so a Simplified reply equals its Traditional original. Grounding (does a reply
name a matched title or topic) is `models.reason.mentions`, the rule the templates use too.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsrec.data.language import ChineseScript, detect_language, fold, in_script, script_of, words

__all__ = ["Writing", "ENGLISH", "count_words", "letters_only"]


@dataclass(frozen=True)
class Writing:
    language: str  # 'en' | 'zh' (language.detect_language)
    script: ChineseScript = "keep"  # the script a reply's Chinese is put in

    @classmethod
    def of(cls, *source: str) -> Writing:
        """The language and Chinese script of the texts together."""
        text = " ".join(source)
        return cls(detect_language(text), script_of(text))

    def fit(self, reply: str) -> str:
        """`reply` with its Chinese in this script."""
        return in_script(reply, self.script)


ENGLISH = Writing("en")


def count_words(text: str) -> int:
    """Words holding a letter or digit: Chinese segmented by jieba, punctuation not counted."""
    return sum(any(c.isalnum() for c in w) for w in words(text))


def letters_only(text: str) -> str:
    """`text` as its letters and digits alone, case and Chinese script folded: two texts equal in
    this form say the same words ("Title." and "title" do)."""
    return "".join(c for c in fold(text) if c.isalnum())
