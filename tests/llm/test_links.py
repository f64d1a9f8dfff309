"""What links a story to what the reader read: strong matches beyond the two strongest, Chinese
names whole, a topic two categories' tags share (issue 32: Chinese explanations)."""

import numpy as np

from newsrec.data.mind import News
from newsrec.llm.explain import explain
from newsrec.llm.links import Anchor, link_between, links_between
from newsrec.models.reason import WEAK_MATCH, reason_from_matches
from tests.llm.conftest import ScriptedLLM

STORY = News("C1", "穆罕默德·萨努在推特上无法控制对交易的兴奋", "sports", "football_nfl")
READ = {
    "H1": News("H1", "日本的雪售价创下历史新高", "foodanddrink", "foodnews"),
    "H2": News("H2", "青少年的生活与五十年前不同", "lifestyle", "lifestyledidyouknow"),
    "H3": News("H3", "牛仔队四分卫在比赛中受伤", "sports", "football_nfl"),
}
NEWS = {**READ, "C1": STORY}


def test_a_strong_match_beyond_the_two_strongest_is_the_link_when_they_share_none():
    # cosines with the story: H1 1.0, H2 0.9, H3 0.5; only H3 shares something with it (its tag)
    directions = np.array([[1.0, 0.0], [0.9, np.sqrt(1 - 0.81)], [0.5, np.sqrt(0.75)]])
    reason = reason_from_matches(np.array([1.0, 0.0]), ["H1", "H2", "H3"], directions, 0.0)
    assert [h for h, _ in reason.matched] == ["H1", "H2", "H3"] and reason.matched[2][1] >= WEAK_MATCH
    reply = f"因为你读过「{READ['H3'].title}」，你可能会喜欢「{STORY.title}」，两篇都和NFL 橄榄球有关。"
    llm = ScriptedLLM([reply])
    said = explain(llm, reason, STORY, NEWS)
    assert said.by_llm and said.text == reply and said.anchor == READ["H3"].title
    assert "NFL 橄榄球" in llm.grammars[0]
    # a weak one (under WEAK_MATCH) beyond the two strongest is not kept: it would claim a pull not felt
    weak = np.array([[1.0, 0.0], [0.9, np.sqrt(1 - 0.81)], [0.2, np.sqrt(0.96)]])
    assert [h for h, _ in reason_from_matches(np.array([1.0, 0.0]), ["H1", "H2", "H3"], weak, 0.0).matched] == [
        "H1",
        "H2",
    ]


def test_a_chinese_name_is_shared_only_whole():
    chris_brown = News("Z1", "克里斯·布朗在自己的家里举办门市", "music", "music-celebrity")
    chris_paul = Anchor("克里斯·保罗在休斯顿获得了热烈的欢呼", "read", ("nba", "sports"))
    assert link_between(chris_brown, chris_paul, "zh") is None
    browns = News("Z2", "布朗队与钢铁队在克利夫兰队21比7的胜利后", "sports", "football_nfl")
    hannah = Anchor("哈娜·布朗回顾自己与明星共舞的经验", "read", ("tv-celebrity", "tv"))  # Hannah Brown, not the Browns
    assert link_between(browns, hannah, "zh") is None
    kaepernick = News("Z3", "柯林卡佩尼克即将得到他应得的机会", "sports", "football_nfl")
    assert link_between(kaepernick, Anchor("尼克在家中接受采访", "read", ("tvnews", "tv")), "zh") is None
    hillary = News("Z4", "希拉里克林顿退出华盛顿的活动", "news", "newspolitics")
    meghan = Anchor("梅根·马克尔和希拉里·克林顿秘密度过了一下午", "read", ("lifestyleroyals", "lifestyle"))
    assert link_between(hillary, meghan, "zh").term == "希拉里克林顿"  # with or without its dot
    niagara = News("Z5", "尼亚加拉大布在101年来一直停留在岩石上的船", "news", "newsus")
    boat = Anchor("尼亚加拉布:一艘船停留在 101 年前的岩石上", "read", ("newsworld", "news"))
    assert link_between(niagara, boat, "zh").term == "尼亚加拉"  # a place, however the next word is tagged


def test_two_categories_tags_may_share_a_topic_but_not_news():
    tv = News("T1", "伊恩·锡林的妻子在分手宣布后几天就申请离婚", "tv", "tv-celebrity")
    singer = Anchor("歌手在约会不到一年后结婚", "read", ("music-celebrity", "music"))
    assert link_between(tv, singer, "zh").term == "明星"  # 电视明星 and 音乐明星: TV and music stars
    english = News("T2", "Ian Ziering's wife files for divorce", "tv", "tv-celebrity")
    singer_en = Anchor("Singer marries after a year", "read", ("music-celebrity", "music"))
    assert link_between(english, singer_en, "en").term == "stars"
    health = News("T3", "密歇根州法官禁止使用香味蒸汽", "health", "health-news")
    us = Anchor("鹿致命攻击射杀它的猎人", "read", ("newsus", "news"))  # 健康新闻 and 美国新闻 share only "news"
    assert link_between(health, us, "zh") is None


def test_a_reply_may_say_any_link_both_hold():
    boxer = News("B1", "帕特里克·戴 (Patrick Day) 在严重昏倒后昏迷", "sports", "boxing")
    read = Anchor("拳击手帕特里克·戴 (Patrick Day) 在超级中量级比赛中遭受创伤后死亡", "read", ("boxing", "sports"))
    assert [link.term for link in links_between(boxer, read, "zh")][:1] == ["帕特里克·戴"]
    assert "体育" in [link.term for link in links_between(boxer, read, "zh")]
    news = {"H1": News("H1", read.text, "sports", "boxing"), "B1": boxer}
    reason = reason_from_matches(np.array([1.0, 0.0]), ["H1"], np.array([[1.0, 0.0]]), 0.0)
    # the tag, not the name the grammar asked for: true of both, so shown
    reply = f"因为你读过「{read.text}」，你可能会喜欢「{boxer.title}」，两篇都和体育有关。"
    assert explain(ScriptedLLM([reply]), reason, boxer, news).by_llm
    unlinked = f"因为你读过「{read.text}」，你可能会喜欢「{boxer.title}」，两篇都和拳击有关。"
    assert "(does not say what links them)" in explain(ScriptedLLM([unlinked]), reason, boxer, news).problems
