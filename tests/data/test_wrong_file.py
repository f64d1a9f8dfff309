"""A behaviors file given as news, or news as behaviors, is named for what it is."""

import pytest

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import MindFormatError, read_news

BEHAVIORS = (
    "1\tU13740\t11/11/2019 9:05:58 AM\tN55189 N42782\tN55689-1 N35729-0\n"
    "2\tU91836\t11/12/2019 6:11:30 PM\t\tN20678-0 N39317-1\n"
)
NEWS = "N55528\tlifestyle\tlifestyleroyals\tThe Brands Queen Elizabeth Loves\tShop them.\thttps://x\t[]\t[]\n"


@pytest.mark.parametrize("line", BEHAVIORS.splitlines(keepends=True))
def test_a_behaviors_file_given_as_news_is_named(tmp_path, line):
    path = tmp_path / "behaviors.tsv"
    path.write_text(line)  # with a history (read as a title) or without
    with pytest.raises(MindFormatError, match=r"behaviors\.tsv:1: this looks like a behaviors file.*give news\.tsv"):
        read_news(path)


def test_a_news_file_given_as_behaviors_is_named(tmp_path):
    path = tmp_path / "news.tsv"
    path.write_text(NEWS)
    with pytest.raises(MindFormatError, match=r"news\.tsv:1: .*found 8: this looks like a news file"):
        read_behaviors(path)
