"""xMIND's translated news over MIND's files: the fixture (fixtures/xmind: a tiny MIND folder and
xMIND news files in the published layout, invented English, Finnish and Chinese text) is
imported from folders and zips, read back by the MIND readers and trained on; the real
Chinese zip, where a snapshot of the xMIND repository is on this machine, rebuilds the
project's shared Chinese sample exactly."""

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data.behaviors import Behaviors
from newsrec.data.imported import DatasetFormatError
from newsrec.data.mind import read_news
from newsrec.data.xmind import import_xmind
from tests.conftest import MIND_SAMPLE

FIXTURE = Path(__file__).parent / "fixtures" / "xmind"
MIND, XMIND = FIXTURE / "mind", FIXTURE / "xMIND"


def zipped(folder: Path, into: Path) -> Path:
    """`folder` (xMINDsmall_dev/ with news.tsv) as xMIND ships it: xMINDsmall_dev.zip with xMINDsmall_dev/news.tsv."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / f"{folder.name}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(folder / "news.tsv", f"{folder.name}/news.tsv")
    return archive


def test_finnish_news_replace_the_english_and_the_clicks_stay_minds(tmp_path):
    result = import_xmind(XMIND / "fin", MIND, tmp_path / "fin")
    assert result.language == "fin" and result.news == 16 and result.untranslated == 2
    assert result.impressions == {"dev": 12, "train": 36}
    english, finnish = read_news(MIND), read_news(tmp_path / "fin")
    assert finnish["N1000"].title == "Kotijoukkue voitti paikallisottelun jatkoajalla"
    assert finnish["N1000"].abstract == "Kaksi myöhäistä maalia ratkaisi ottelun."
    assert finnish["N1074"].abstract == ""  # MIND has no abstract there either
    for news_id, item in finnish.items():
        assert (item.category, item.subcategory, item.url) == (
            english[news_id].category, english[news_id].subcategory, english[news_id].url,
        )  # fmt: skip
    assert (tmp_path / "fin" / "untranslated.txt").read_text().split() == ["N1518", "N1555"]
    assert finnish["N1555"].title == english["N1555"].title  # untranslated: MIND's English kept
    for split in ("train", "dev"):
        copied = (tmp_path / "fin" / split / "behaviors.tsv").read_bytes()
        assert copied == (MIND / split / "behaviors.tsv").read_bytes()
        assert len(Behaviors.read(tmp_path / "fin" / split)) == result.impressions[split]


def test_the_zips_as_xmind_ships_them_and_mind_download_folders(tmp_path):
    """xMIND/cmn/xMINDsmall_dev.zip, and MIND as downloaded: MINDsmall_train/, MINDsmall_dev/."""
    archive = zipped(XMIND / "cmn" / "xMINDsmall_dev", tmp_path / "xMIND" / "cmn")
    downloads = []
    for split in ("train", "dev"):
        folder = tmp_path / f"MINDsmall_{split}"
        folder.mkdir()
        shutil.copy(MIND / "news.tsv", folder)
        shutil.copy(MIND / split / "behaviors.tsv", folder)
        downloads.append(folder)
    result = import_xmind(archive, downloads, tmp_path / "zh")
    assert result.language == "cmn" and result.untranslated == 1
    assert result.impressions == {"train": 36, "dev": 12}
    chinese = read_news(tmp_path / "zh")
    assert chinese["N1000"].title == "主隊在加時賽中贏得德比" and chinese["N1518"].abstract == "首都銷售放緩。"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda tmp: import_xmind(tmp / "nowhere", MIND, tmp / "o", "fin"), "nowhere does not exist"),
        (lambda tmp: import_xmind(XMIND / "fin", MIND, tmp / "o", "fr"), "'fr' is not an xMIND language code"),
        (lambda tmp: import_xmind(XMIND / "fin", tmp, tmp / "o"), "news.tsv is missing: --mind takes a MIND folder"),
        (lambda tmp: import_xmind(FIXTURE / "mind", MIND, tmp / "o"), "names no xMIND language: give --language"),
    ],
)
def test_a_missing_file_or_an_unknown_language_is_named(tmp_path, call, message):
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        call(tmp_path)


def test_a_news_file_without_the_title_column_is_named(tmp_path):
    news = tmp_path / "fin" / "news.tsv"
    news.parent.mkdir()
    news.write_text("nid\tabstract\nN1000\tKaksi maalia.\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=re.escape("header lacks the column(s) title")):
        import_xmind(news, MIND, tmp_path / "out")


def test_newsrec_trains_on_an_imported_xmind_language(tmp_path):
    out = tmp_path / "fin"
    runner = CliRunner()
    command = ["data", "import", "xmind", str(XMIND / "fin"), "--mind", str(MIND), "--out", str(out)]
    imported = runner.invoke(app, command)
    assert imported.exit_code == 0, imported.output
    assert "news text in Finnish (fin)" in imported.output and "2 news have no Finnish text" in imported.output
    assert "next: newsrec train" in imported.output and "--encoder" not in imported.output
    args = ["train", "--news", str(out), "--behaviors", str(out / "train"), "--valid", str(out / "dev")]
    trained = runner.invoke(app, [*args, "--out", str(tmp_path / "model"), "--epochs", "1"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "model" / "model.pt").is_file()
    without_mind = runner.invoke(app, ["data", "import", "xmind", str(XMIND / "fin"), "--out", str(out)])
    assert without_mind.exit_code == 2 and "xmind needs --mind" in without_mind.output


XMIND_REPO = Path(os.environ.get("XMIND_REPO", "/work/.mirror/andreeaiana+xMIND/repo"))
SHARED = MIND_SAMPLE.parent


@pytest.mark.slow
def test_the_real_chinese_zip_rebuilds_the_shared_chinese_sample(tmp_path):
    """xMIND's own cmn/xMINDsmall_dev.zip (CC BY-NC-SA: read from a snapshot, never copied here)
    over the shared MIND sample gives ../shared/data/xmind-zh-sample, built by hand before."""
    if not (XMIND_REPO / "HEAD").exists() or not (SHARED / "xmind-zh-sample").is_dir():
        pytest.skip(f"needs a snapshot of xMIND at {XMIND_REPO} (XMIND_REPO) and the shared samples at {SHARED}")
    shown = subprocess.run(
        ["git", f"--git-dir={XMIND_REPO}", "show", "HEAD:xMIND/cmn/xMINDsmall_dev.zip"], capture_output=True
    )
    if shown.returncode != 0:
        pytest.skip("the snapshot lacks the file's contents (a large file kept outside git)")
    (tmp_path / "cmn").mkdir()
    (tmp_path / "cmn" / "xMINDsmall_dev.zip").write_bytes(shown.stdout)
    result = import_xmind(tmp_path / "cmn", SHARED / "mind-sample", tmp_path / "zh")
    assert result.untranslated == 890 and result.impressions == {"dev": 778, "train": 629, "train-extra": 1074}
    sample = SHARED / "xmind-zh-sample"
    assert (tmp_path / "zh" / "untranslated.txt").read_text() == (sample / "untranslated.txt").read_text()
    ours, theirs = read_news(tmp_path / "zh"), read_news(sample)
    assert {k: (n.title, n.abstract, n.category) for k, n in ours.items()} == {
        k: (n.title, n.abstract, n.category) for k, n in theirs.items()
    }
