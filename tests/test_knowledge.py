"""The knowledge files against the article they come from, and against the domain and NLU data."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from core import knowledge
from tests.conftest import ROOT

ARTICLE = ROOT / "docs" / "source-article.txt"
SHARED_CHECK = ROOT.parent / "shared" / "tools" / "check_facts.py"

PHONE = re.compile(r"(?<![A-Za-z0-9.-])\+?\d{2,4}(?:-\d{3,4}){1,3}(?![A-Za-z0-9-])")
EMAIL = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+\.[a-z]{2,}")
WEB = re.compile(r"(?<![@A-Za-z0-9.-])(?:[a-z0-9-]+\.)+(?:com|cn|net|org|io)(?![A-Za-z0-9])")


def article_text() -> str:
    """The article with the @ its mail addresses lost restored (feedbackdouyin.com)."""
    text = ARTICLE.read_text(encoding="utf-8")
    return re.sub(r"(?<![A-Za-z])(feedback|jubao|partner|media)douyin\.com", r"\1@douyin.com", text)


def contact_details(text: str) -> set:
    return {m for rx in (PHONE, EMAIL, WEB) for m in rx.findall(text)}


def test_every_contact_detail_in_the_knowledge_is_the_articles() -> None:
    article = article_text()
    found = set()
    for path in (ROOT / "knowledge").glob("*.yml"):
        found |= contact_details(path.read_text(encoding="utf-8"))
    assert found, "the knowledge files give no contact detail at all"
    assert {d for d in found if d not in article} == set()


def test_every_contact_detail_of_the_article_is_in_the_knowledge() -> None:
    knowledge_text = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "knowledge").glob("*.yml"))
    assert {d for d in contact_details(article_text()) if d not in knowledge_text} == set()


def test_mail_addresses_carry_their_at_sign() -> None:
    emails = [c["contact"] for c in knowledge.channels().values() if c["kind"] == "email"]
    assert "feedback@douyin.com" in emails
    assert not any(re.search(r"[a-z]douyin\.com", e) for e in emails)


@pytest.mark.skipif(not SHARED_CHECK.exists(), reason="the shared fact checker is not beside the project")
def test_shared_fact_checker_finds_nothing_invented() -> None:
    result = subprocess.run([sys.executable, str(SHARED_CHECK), str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_places_name_only_known_channels() -> None:
    """The regional lines of knowledge/places.yml (the topics' channels: tests/test_topic_consistency.py)."""
    places = knowledge.places()
    referenced = set(places["regions"].values()) | set(places["cities"].values())
    assert sorted(referenced - set(knowledge.channels())) == []


def test_channel_lines_show_contact_and_hours() -> None:
    line = knowledge.channel_line("hotline")
    assert "400-992-2556" in line and "8:00-23:00" in line


TEXT_FIELDS = {
    "channels": (
        "name",
        "contact",
        "hours",
        "response",
        "prepare",
        "process",
        "location",
        "booking",
        "cost",
        "note",
    ),
    "topics": ("title", "answer", "prepare", "next_step"),
}
NUMBER = re.compile(r"\d+(?:[.:-]\d+)*%?")


def english_pairs():
    """(where, Chinese label, English label) for every text field that has words to translate."""
    entries = [("channels", cid, c) for cid, c in knowledge.channels().items()]
    entries += [("topics", tid, t) for tid, t in knowledge.topics().items()]
    for kind, name, entry in entries:
        for field in TEXT_FIELDS[kind]:
            if field in entry:
                yield f"{name}.{field}", entry[field], entry.get(f"{field}_en")


@pytest.mark.parametrize("where, chinese, english", list(english_pairs()))
def test_every_label_has_english_with_the_same_numbers(where, chinese, english) -> None:
    if english is None:  # a plain number, address or path is the same in both languages
        assert not re.search(r"[\u4e00-\u9fff]", str(chinese)), f"{where} needs an _en label"
        return
    chinese_text, english_text = (" ".join(v) if isinstance(v, list) else str(v) for v in (chinese, english))
    assert set(NUMBER.findall(english_text)) <= set(NUMBER.findall(chinese_text)), where
    unquoted = re.sub(r'"[^"]*"|“[^”]*”', "", english_text)  # names the user must search for stay
    assert not re.search(r"[\u4e00-\u9fff]", unquoted), where


def test_each_contact_is_written_once_in_the_knowledge() -> None:
    text = (ROOT / "knowledge" / "channels.yml").read_text(encoding="utf-8")
    for channel in knowledge.channels().values():
        contact = str(channel["contact"])
        if re.fullmatch(r"[+\d-]+|[\w.]+@[\w.]+", contact):  # phone numbers and e-mail addresses
            assert text.count(contact) == 1, contact
