"""The Chinese catalog uses the glossary's terms (docs/GLOSSARY.md), so the interface and the docs agree."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(
    r"`[^`]*`|\[[A-Z]+\]|\{[^}]*\}"  # code spans, special tokens, placeholders
    r"|(?m:^[\w.]+(?: = |\()[^#\n]*)|\w*_\w*"  # lines of code (their comments stay), identifiers
    r"|\*[A-Z][\w:, -]+\*"  # titles of papers: *Scaling Laws for Neural Language Models*
)


def glossary() -> list[tuple[list[str], list[str]]]:
    """(English forms, Chinese forms) of every row of the glossary's table."""
    rows = []
    for line in (ROOT / "docs" / "GLOSSARY.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("English", "---"):
            rows.append(([form.strip() for form in cells[0].split("/")], [form.strip() for form in cells[1].split("/")]))
    return rows


def catalog() -> dict[str, str]:
    with open(ROOT / "locales" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as file:
        return {m.id if isinstance(m.id, str) else m.id[0]: m.string if isinstance(m.string, str) else m.string[0]
                for m in read_po(file) if m.id}


def test_the_glossary_has_the_terms_the_issue_asks_for():
    chinese = {form for _english, forms in glossary() for form in forms}
    for term in ("词元", "分词", "词表", "嵌入", "词向量", "位置编码", "自注意力", "多头注意力", "掩码", "查询", "键", "值",
                 "前馈网络", "残差流", "层归一化", "对数几率", "概率分布", "温度", "交叉熵", "损失", "困惑度", "预训练",
                 "微调", "缩放定律", "思维链", "蒸馏", "量化", "剪枝"):
        assert term in chinese, term


@pytest.mark.parametrize(("english", "chinese"), glossary(), ids=lambda forms: forms[0] if forms else "")
def test_the_chinese_catalog_uses_the_glossary_term(english, chinese):
    """Every message that uses an English term (as a word, outside code) is translated with its Chinese term."""
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(form) for form in english) + r")(?:s|es)?(?![\w-])",
                         re.IGNORECASE)
    wrong = {message: translated for message, translated in catalog().items()
             if pattern.search(CODE.sub(" ", message)) and not any(form in translated for form in chinese)}
    assert not wrong, f"{english[0]} should be {' / '.join(chinese)} in: {wrong}"
