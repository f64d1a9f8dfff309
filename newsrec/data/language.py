"""Which language a text is in, and its words, for the parts that work on words.

English splits on spaces; Chinese has none, so its words come from jieba's segmenter. Chinese
news comes in two scripts (xMIND ships Traditional, most readers type Simplified): `to_simplified`
and `to_traditional` (OpenCC) let one match the other, and jieba segments Simplified text best, so
Traditional text is segmented through its Simplified form and mapped back character for character
(the conversion keeps length for the characters news uses, checked per text).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

__all__ = [
    "detect_language",
    "catalogue_language",
    "is_chinese",
    "is_han",
    "is_dictionary_word",
    "to_simplified",
    "to_traditional",
    "in_script",
    "script_of",
    "fold",
    "ChineseScript",
    "words",
    "join_words",
    "english_stem",
    "is_chinese_name",
    "STOP_WORDS_ZH",
]

ChineseScript = Literal["keep", "simplified", "traditional"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# The commonest Chinese function words (both scripts): they carry no topic, like "the" or "of".
_STOP_WORDS_ZH_TEXT = (
    "的 了 在 是 和 與 与 及 或 也 都 就 而 並 并 但 將 将 把 被 對 对 為 为 於 于 從 从 到 向 以 之 其 "
    "這 这 那 一個 一个 個 个 我 你 他 她 它 我們 我们 他們 他们 有 沒有 没有 不 會 会 能 可 可以 要 "
    "上 下 中 後 后 前 說 说 表示 已 已經 已经 還 还 又 很 更 最 嗎 吗 呢 吧 啊 "
    # jieba keeps these together as one word, so they are listed whole
    "這是 这是 這個 这个 那個 那个 這些 这些 那些 因為 因为 所以 如果 但是 而且 以及 還是 还是 就是 只是 "
    "什麼 什么 為什麼 为什么 怎麼 怎么 如何 自己 讓 让 給 给 著 着 過 过 等"
)
STOP_WORDS_ZH = frozenset(_STOP_WORDS_ZH_TEXT.split())


def detect_language(text: str) -> str:
    """'zh' when Han characters outnumber the other letters' words, else 'en' (our two languages)."""
    han = len(_HAN.findall(text))
    if han == 0:
        return "en"
    other_words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if han >= other_words else "en"


# words nearly every English headline set uses and other languages' rarely do ("in" is German and
# Dutch too: a catalogue counts as English only when many titles have one)
_ENGLISH_FUNCTION_WORDS = frozenset(
    ["the", "of", "to", "and", "for", "with", "on", "in", "at", "from", "by", "is", "are", "was", "be", "as"]
)
ENGLISH_SHARE = 0.4  # of the MIND sample's titles 87% hold one, of its Chinese twin's 10%


def catalogue_language(titles: Sequence[str], sample: int = 2_000) -> str:
    """'en', 'zh' or 'other' for a set of news titles (the first `sample` of them): Chinese when
    most are, English when at least `ENGLISH_SHARE` hold an English function word."""
    looked = titles[:sample]
    if not looked:
        return "en"
    if sum(map(is_chinese, looked)) > len(looked) / 2:
        return "zh"
    english = sum(bool(_ENGLISH_FUNCTION_WORDS & set(re.findall(r"[a-z']+", t.lower()))) for t in looked)
    return "en" if english >= ENGLISH_SHARE * len(looked) else "other"


def is_chinese(text: str) -> bool:
    return detect_language(text) == "zh"


def is_han(word: str) -> bool:
    """Whether every character of `word` is a Han character (a Chinese word, no digits or punctuation)."""
    return bool(word) and all(_HAN.match(c) for c in word)


@lru_cache(maxsize=2)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (other text passes unchanged)."""
    return _converter("t2s").convert(text) if _HAN.search(text) else text


def to_traditional(text: str) -> str:
    """Simplified -> Traditional Chinese in Taiwan's standard characters (xMIND's: "為", not
    OpenCC's default "爲"; 9 in 10 xMIND texts come back exactly); other text passes unchanged."""
    return _converter("s2tw").convert(text) if _HAN.search(text) else text


def in_script(text: str, script: ChineseScript) -> str:
    """`text` with its Chinese in `script` ("keep": as written)."""
    if script == "simplified":
        return to_simplified(text)
    if script == "traditional":
        return to_traditional(text)
    return text


def script_of(text: str) -> ChineseScript:
    """The script Chinese `text` is written in ("traditional" if converting it to Simplified
    changes it); "keep" for text that is not Chinese."""
    if not is_chinese(text):
        return "keep"
    return "traditional" if to_simplified(text) != text else "simplified"


def fold(text: str) -> str:
    """The form two texts are compared in: Simplified script, case folded."""
    return to_simplified(text).casefold()


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading banner says nothing useful
    jieba.initialize()  # load the dictionary now: `is_dictionary_word` reads it before any segmentation
    return jieba


def is_dictionary_word(word: str) -> bool:
    """Whether jieba's dictionary holds this Chinese word (either script): a whole word, not a fragment."""
    return is_han(word) and (_jieba().get_FREQ(to_simplified(word)) or 0) > 0


@lru_cache(maxsize=1)
def _snowball():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def english_stem(word: str) -> str:
    """The English Snowball (Porter2) stem: "stories" -> "stori", like "story"; "killed" -> "kill"."""
    return _snowball().stemWord(word)


_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})  # jieba's tags of people, places, bodies, other names


def is_chinese_name(word: str) -> bool:
    """Whether jieba's part-of-speech tagger reads any part of Chinese `word` as a name (person, place, body)."""
    _jieba()  # the dictionary, loaded once and quietly
    import jieba.posseg

    return any(piece.flag in _NAME_TAGS for piece in jieba.posseg.lcut(to_simplified(word)))


def words(text: str, search: bool = False) -> list[str]:
    """The words of `text`, punctuation attached as the writer attached it in English; in
    Chinese each word, number or punctuation run is its own item (spaces are dropped).

    `search` (Chinese only) also gives the shorter words inside long ones, before them:
    "篮球比赛" -> "篮球", "比赛", "篮球比赛", so a text about "篮球" can be found by its words.
    """
    if not is_chinese(text):
        return text.split()
    simple = to_simplified(text)
    segmented = simple if len(simple) == len(text) else text  # a length-changing conversion: segment as written
    spans = _jieba().tokenize(segmented, mode="search" if search else "default")
    return [text[start:end] for _, start, end in spans if text[start:end].strip()]  # the writer's own script


def join_words(items: list[str], like: str) -> str:
    """Join words the way the language of `like` does: spaces in English; in Chinese none
    between Chinese words, always between two Latin words or numbers, and around a Latin word
    as `like` spaced it ("新款 iPhone 手機" and "發布iPhone" both stay as written)."""
    if not is_chinese(like):
        return " ".join(items)
    out = ""
    for before, w in zip(["", *items], items):
        if out and _spaced(before, w, like):
            out += " "
        out += w
    return out


def _spaced(before: str, word: str, like: str) -> bool:
    """Whether Chinese text puts a space between the words `before` and `word`."""
    latin_before, latin_after = _latin_or_digit(before[-1]), _latin_or_digit(word[:1])
    if latin_before and latin_after:
        return True
    if latin_before and is_han(word[:1]):
        return f"{before} " in like
    if latin_after and is_han(before[-1]):
        return f" {word}" in like
    return False


def _latin_or_digit(char: str) -> bool:
    return char.isalnum() and not _HAN.match(char)  # Han characters count as alphanumeric too
