"""MIND's category tags as words a reader understands, in English or Chinese.

MIND tags every news item with one of 18 categories ("foodanddrink") and one of about 280
subcategories ("football_nfl"). Text written for people (the counted fallback profile) names
them in the reader's language. Every category and the common subcategories (those of four in
five news items of the MIND sample) have a Chinese name; Chinese text leaves out the other
subcategories rather than show an English tag, and English text spells them out ("more sports").
The same names stand in the Chinese summarising prompt and the fallback keywords of Chinese news.
"""

from __future__ import annotations

from newsrec.data.language import is_chinese

__all__ = ["tag_name"]

# tag: (English, Chinese)
NAMES: dict[str, tuple[str, str]] = {
    # categories
    "news": ("news", "新闻"),
    "sports": ("sports", "体育"),
    "finance": ("finance", "财经"),
    "foodanddrink": ("food and drink", "美食"),
    "lifestyle": ("lifestyle", "生活"),
    "travel": ("travel", "旅游"),
    "video": ("video", "视频"),
    "weather": ("weather", "天气"),
    "health": ("health", "健康"),
    "autos": ("cars", "汽车"),
    "tv": ("TV", "电视"),
    "music": ("music", "音乐"),
    "movies": ("movies", "电影"),
    "entertainment": ("entertainment", "娱乐"),
    "kids": ("kids", "少儿"),
    "middleeast": ("Middle East", "中东"),
    "northamerica": ("North America", "北美"),
    "games": ("games", "游戏"),
    # subcategories
    "newsus": ("US news", "美国新闻"),
    "football_nfl": ("NFL football", "NFL 橄榄球"),
    "newspolitics": ("politics", "政治"),
    "newsworld": ("world news", "国际新闻"),
    "newscrime": ("crime", "犯罪"),
    "football_ncaa": ("college football", "大学橄榄球"),
    "baseball_mlb": ("MLB baseball", "MLB 棒球"),
    "basketball_nba": ("NBA basketball", "NBA 篮球"),
    "basketball": ("basketball", "篮球"),
    "soccer": ("soccer", "足球"),
    "more_sports": ("more sports", "其他体育"),
    "tv-celebrity": ("TV stars", "电视明星"),
    "tvnews": ("TV news", "电视新闻"),
    "movies-celebrity": ("film stars", "电影明星"),
    "music-celebrity": ("music stars", "音乐明星"),
    "celebrity": ("celebrities", "名人"),
    "entertainment-celebrity": ("celebrities", "名人"),
    "weathertopstories": ("weather", "天气"),
    "lifestylebuzz": ("lifestyle buzz", "生活热点"),
    "lifestyleroyals": ("royals", "王室"),
    "tipsandtricks": ("tips and tricks", "生活窍门"),
    "animals": ("animals", "动物"),
    "finance-companies": ("companies", "公司"),
    "markets": ("markets", "市场"),
    "finance-real-estate": ("real estate", "房地产"),
    "newsscienceandtechnology": ("science and technology", "科技"),
    "newstrends": ("trending news", "热门新闻"),
    "newsgoodnews": ("good news", "好消息"),
    "newsopinion": ("opinion", "评论"),
    "travelnews": ("travel news", "旅游新闻"),
    "traveltripideas": ("trip ideas", "旅行灵感"),
    "travelarticle": ("travel", "旅行"),
    "foodnews": ("food news", "美食新闻"),
    "recipes": ("recipes", "食谱"),
    "restaurantsandnews": ("restaurants", "餐厅"),
    "nutrition": ("nutrition", "营养"),
    "health-news": ("health news", "健康新闻"),
    "medical": ("medicine", "医疗"),
    "wellness": ("wellness", "养生"),
    "autosnews": ("car news", "汽车新闻"),
    "autosenthusiasts": ("car enthusiasts", "汽车爱好者"),
}


def tag_name(tag: str, language: str) -> str | None:
    """`tag` in words of `language` ("en" or "zh"); a tag already written in Chinese (a catalogue's
    own, "科技") as it is; None where Chinese has no name for an English tag."""
    names = NAMES.get(tag.lower())
    if names:
        return names[1] if language == "zh" else names[0]
    if is_chinese(tag):
        return tag
    return None if language == "zh" else tag.replace("_", " ").replace("-", " ")
