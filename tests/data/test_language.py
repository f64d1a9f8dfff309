"""Chinese words and scripts: segmentation in the writer's script, joining, detection, t2s / s2t."""

from newsrec.data.language import (
    STOP_WORDS_ZH,
    detect_language,
    in_script,
    is_chinese,
    is_dictionary_word,
    join_words,
    to_simplified,
    to_traditional,
    words,
)

TRADITIONAL = "湖人隊在加時賽中擊敗對手，贏得週日的比賽。"
SIMPLIFIED = "湖人队在加时赛中击败对手，赢得周日的比赛。"
ENGLISH = "Lakers beat the Celtics in overtime, again."


def test_chinese_is_segmented_into_words_in_the_writers_script():
    traditional = words(TRADITIONAL)
    assert traditional[:4] == ["湖人隊", "在", "加時賽", "中"] and "擊敗" in traditional and "比賽" in traditional
    assert "".join(traditional) == TRADITIONAL  # every character kept, none converted
    assert [to_simplified(w) for w in traditional] == words(SIMPLIFIED)  # one segmentation for both scripts
    assert words(ENGLISH) == ENGLISH.split()


def test_search_words_add_the_words_inside_long_ones():
    assert words("籃球比賽") == ["籃球比賽"]
    assert words("籃球比賽", search=True) == ["籃球", "比賽", "籃球比賽"]


def test_join_words_round_trips_and_spaces_latin_words_as_written():
    assert join_words(words(TRADITIONAL), TRADITIONAL) == TRADITIONAL
    assert join_words(words(ENGLISH), ENGLISH) == ENGLISH
    mixed = "蘋果發布iPhone 15，售價999美元"
    assert join_words(words(mixed), mixed) == mixed
    assert join_words(["2019", "2020", "年"], TRADITIONAL) == "2019 2020年"  # numbers do not run together
    spaced = "蘋果公司今天發布了新款 iPhone 手機"  # xMIND spaces some Latin words, not others
    assert join_words(words(spaced), spaced) == spaced
    assert join_words(["新款", "iPhone", "今天"], spaced) == "新款 iPhone 今天"  # dropped words: the spacing stays


def test_detect_language_of_english_chinese_and_mixed_text():
    assert detect_language(ENGLISH) == "en" and detect_language("") == "en"
    assert detect_language(TRADITIONAL) == "zh" and detect_language(SIMPLIFIED) == "zh"
    assert is_chinese("蘋果公司今天發布了新款 iPhone")  # Chinese with a brand name
    assert not is_chinese("Apple unveils the new iPhone in 北京")  # English with a place name


def test_simplified_and_traditional_convert_both_ways():
    assert to_simplified(TRADITIONAL) == SIMPLIFIED
    assert to_traditional(SIMPLIFIED) == TRADITIONAL
    assert to_traditional("为什么") == "為什麼"  # Taiwan's standard characters, as xMIND writes them
    assert to_simplified(ENGLISH) == ENGLISH and to_traditional(ENGLISH) == ENGLISH
    assert in_script(TRADITIONAL, "keep") == TRADITIONAL and in_script(TRADITIONAL, "simplified") == SIMPLIFIED
    assert in_script(SIMPLIFIED, "traditional") == TRADITIONAL


def test_dictionary_words_and_stop_words_in_both_scripts():
    assert is_dictionary_word("籃球") and is_dictionary_word("篮球")
    assert not is_dictionary_word("过的") and not is_dictionary_word("NBA")
    assert {"的", "這是", "这是"} <= STOP_WORDS_ZH and "籃球" not in STOP_WORDS_ZH
