import re

import pytest

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import Impression, MindFormatError, News, read_news, write_behaviors, write_news
from newsrec.data.missing_news import drop_missing_news, news_used_by
from tests.conftest import MIND_SAMPLE

NEWS = (
    'N1\tsports\tnba\tLakers win "big" opener\tA long abstract.\thttp://x\t[]\t[]\n'
    "N2\tnews\tpolitics\tSenate votes\t\t\t[]\t[]\n"
)
BEHAVIORS = "1\tU1\t11/15/2019 8:00:00 AM\tN1 N2\tN1-1 N2-0\n2\t\t\t\tN2-0 N1-1\n"


def test_read_news_file_and_folder(tmp_path):
    (tmp_path / "news.tsv").write_text(NEWS)
    for path in (tmp_path / "news.tsv", tmp_path):
        news = read_news(path)
        assert list(news) == ["N1", "N2"]
        assert news["N1"] == News("N1", 'Lakers win "big" opener', "sports", "nba", "A long abstract.", "http://x")
        assert news["N2"].abstract == ""


def test_read_behaviors(tmp_path):
    (tmp_path / "behaviors.tsv").write_text(BEHAVIORS)
    first, second = read_behaviors(tmp_path)
    assert first.user_id == "U1" and first.history == ["N1", "N2"]
    assert first.candidates == ["N1", "N2"] and first.labels == [1, 0] and first.clicked == ["N1"]
    assert second.user_id == "imp-2" and second.history == []  # no user id: the impression is its own user


def test_unlabeled_behaviors_give_no_labels(tmp_path):
    (tmp_path / "behaviors.tsv").write_text("7\tU1\t\tN1\tN1 N2\n")
    (imp,) = read_behaviors(tmp_path)
    assert imp.labels is None and imp.candidates == ["N1", "N2"]


@pytest.mark.parametrize(
    "line, fault",
    [
        ("1\tU1\t\tN1\n", "expected 5 tab-separated columns"),
        ("1\tU1\t\tN1\tN1-2 N2-0\n", "should look like N123-1"),
        ("1\tU1\t\tN1\tN1-1 N2\n", "some candidates have a -0/-1 label"),
        ("\tU1\t\tN1\tN1-1\n", "impression id (column 1) is empty"),
        ("1\tU1\t\tN1\t \n", "lists no candidates"),
    ],
)
def test_malformed_behaviors_name_file_and_line(tmp_path, line, fault):
    path = tmp_path / "behaviors.tsv"
    path.write_text(BEHAVIORS + line)
    with pytest.raises(MindFormatError, match=rf"behaviors.tsv:3: .*{re.escape(fault)}"):
        read_behaviors(path)


@pytest.mark.parametrize(
    "line, fault",
    [("N3\tsports\n", "expected 8 tab-separated columns"), ("N3\tsports\tnba\t\tabstract\n", "empty title")],
)
def test_malformed_news_name_file_and_line(tmp_path, line, fault):
    path = tmp_path / "news.tsv"
    path.write_text(NEWS + line)
    with pytest.raises(MindFormatError, match=rf"news.tsv:3: .*{re.escape(fault)}"):
        read_news(path)


def test_missing_file_says_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"give a MIND behaviors\.tsv"):
        read_behaviors(tmp_path)


def test_roundtrip(tmp_path):
    news = [News("N1", "Title one", "a", "b", "abs"), News("N2", "Title two")]
    imps = [
        Impression("5", "U9", "11/13/2019 8:36:57 AM", ["N1"], ["N1", "N2"], [0, 1]),
        Impression("6", "imp-6", "", [], ["N2"], None),
    ]
    assert list(read_news(write_news(tmp_path / "news.tsv", news)).values()) == news
    assert read_behaviors(write_behaviors(tmp_path / "behaviors.tsv", imps)) == imps


def test_missing_news_rule_drops_and_reports():
    news = {"N1": News("N1", "a"), "N2": News("N2", "b")}
    imps = [
        Impression("1", "U", "", ["N1", "N404"], ["N1", "N2", "N500"], [0, 1, 0]),
        Impression("2", "U", "", [], ["N1", "N600"], [0, 1]),  # its only click has no text
    ]
    kept, report = drop_missing_news(imps, news, require_click=True)
    assert [k.impression_id for k in kept] == ["1"]
    assert kept[0].history == ["N1"] and kept[0].candidates == ["N1", "N2"] and kept[0].labels == [0, 1]
    assert (report.history_dropped, report.candidates_dropped, report.impressions_dropped) == (1, 2, 1)
    assert {"N404", "N500", "N600"} <= set(report.examples)
    assert "missing from news.tsv" in report.summary()


@pytest.mark.skipif(not MIND_SAMPLE.exists(), reason="shared MIND sample not present")
def test_reads_the_shared_mind_sample():
    news = read_news(MIND_SAMPLE)
    assert len(news) == 8135
    dev = read_behaviors(MIND_SAMPLE / "dev")
    assert len(dev) == 778 and all(imp.labels and 1 in imp.labels for imp in dev)


def test_a_time_that_cannot_be_read_is_a_clear_error(tmp_path):
    (tmp_path / "behaviors.tsv").write_text("1\tU1\tyesterday\tN1\tN1-1\n")
    with pytest.raises(MindFormatError, match=r"behaviors\.tsv:1: time 'yesterday' should look like"):
        read_behaviors(tmp_path)


@pytest.mark.parametrize("chunk", [1, 2, 100_000])
def test_news_used_by_lists_news_in_order_of_first_use(monkeypatch, chunk):
    monkeypatch.setattr("newsrec.data.missing_news.USED_CHUNK", chunk)
    news = {i: News(i, i) for i in ("N1", "N2", "N3", "N4", "N5")}
    imps = [
        Impression("1", "U", "", ["N3", "N1"], ["N2", "N3"], [1, 0]),
        Impression("2", "U", "", ["N5"], ["N4", "N9", "N1"], [0, 1, 0]),  # N9 has no text: left out
    ]
    assert list(news_used_by(imps, news)) == ["N3", "N1", "N2", "N5", "N4"]
    assert list(news_used_by(imps[1:], news)) == ["N5", "N4", "N1"]


def test_publication_times_travel_beside_news_tsv(tmp_path):
    from datetime import datetime, timezone

    moment = datetime(2023, 5, 1, 6, 30, tzinfo=timezone.utc)
    write_news(tmp_path / "news.tsv", [News("N1", "Timed", published_at=moment), News("N2", "Untimed")])
    assert (tmp_path / "news.tsv").read_text().count("\t") == 14  # still MIND's 8 columns
    back = read_news(tmp_path)
    assert back["N1"].published_at == moment and back["N2"].published_at is None
    write_news(tmp_path / "news.tsv", [News("N1", "Timed")])  # no times now: the old file must not linger
    assert read_news(tmp_path)["N1"].published_at is None
    (tmp_path / "published.tsv").write_text("N1\tyesterday\n")
    with pytest.raises(MindFormatError, match=r"published.tsv:1: time 'yesterday' is not ISO 8601"):
        read_news(tmp_path)
