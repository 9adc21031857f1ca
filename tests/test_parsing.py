"""Parsing of what users type: ticket numbers, ratings, urgency, contact details, normalization."""

from __future__ import annotations

import pytest

from components.chinese_normalizer import normalize_text
from core.parsing import find_rating, find_ticket_number, is_urgent, normalize_contact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("查询工单 DY20261125-000123", "DY20261125-000123"),
        ("dy20261125000123 到哪了", "DY20261125-000123"),
        ("工单号：DY 20261125 - 000042", "DY20261125-000042"),
        ("我的工单呢", None),
        ("DY2026112-000123", None),
        ("XDY20261125-000123", None),
        (None, None),
    ],
)
def test_find_ticket_number(text, expected) -> None:
    assert find_ticket_number(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5", 5),
        ("给个4分吧", 4),
        ("三分", 3),
        ("⭐⭐", 2),
        ("非常满意", 5),
        ("很不满意", 1),
        ("一般般", 3),
        ("10分", None),
        ("哈哈", None),
    ],
)
def test_find_rating(text, expected) -> None:
    assert find_rating(text) == expected


def test_is_urgent() -> None:
    assert is_urgent("号被封了，很急！", ["急"])
    assert not is_urgent("号被封了", ["急"])


@pytest.mark.parametrize(
    "channel, value, expected",
    [
        ("phone", "138 0013 8000", "13800138000"),
        ("phone", "abc", None),
        ("email", "Me@Example.org", "me@example.org"),
        ("email", "not-an-email", None),
        ("app", "  dy_user_01 ", "dy_user_01"),
        ("app", "   ", None),
    ],
)
def test_normalize_contact(channel, value, expected) -> None:
    assert normalize_contact(channel, value) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("帳號被封了怎麼辦？", "账号被封了怎么办?"),
        ("ＫＦ電話", "KF电话"),
        ("/request_human", "/request_human"),
        ("我個賬號俾人封咗", "我个账号俾人封咗"),
        ("a\tb", "a b"),
    ],
)
def test_normalize_text(text, expected) -> None:
    assert normalize_text(text) == expected


def test_normalize_text_keeps_length_for_entity_offsets() -> None:
    text = "請問香港用戶怎麼聯繫客服，ＤＹ２０２６"
    assert len(normalize_text(text)) == len(text)


def test_addresses_become_markdown_links_for_the_widget() -> None:
    from channels.reliable import markdown_links

    assert markdown_links("邮箱：feedback@douyin.com（2小时）") == (
        "邮箱：[feedback@douyin.com](mailto:feedback@douyin.com)（2小时）"
    )
    assert (
        markdown_links("官网 www.douyin.com → 紧急求助")
        == "官网 [www.douyin.com](https://www.douyin.com) → 紧急求助"
    )
    assert markdown_links("热线 400-992-2556（8:00-23:00）") == (
        "热线 [400-992-2556](tel:400-992-2556)（8:00-23:00）"
    )


def test_phone_numbers_become_tap_to_call_links_and_nothing_else_does() -> None:
    from channels.reliable import markdown_links

    for number in ("1010-9008", "028-6583-5566", "400-600-0000", "+86-28-8435-5566"):
        assert markdown_links(f"电话：{number}。") == f"电话：[{number}](tel:{number})。"
    assert markdown_links("港澳台 852-8192-2556") == "港澳台 [852-8192-2556](tel:+852-8192-2556)"
    assert markdown_links("+852-8192-2556") == "[+852-8192-2556](tel:+852-8192-2556)"
    untouched = [
        "工单 DY20261125-000001",  # a ticket number
        "2026-11-25 9:00-21:00，高峰 12:00-14:00",  # a date, time ranges
        "等待5-15分钟，2-3-5原则，评分1-5分",
        "13800138000",  # digits without dashes are not read as a number to call
        "UTC+8，www.douyin.com/a-123-456",
    ]
    for text in untouched:
        assert "tel:" not in markdown_links(text), text


@pytest.mark.parametrize(
    "typed, sent",
    [
        ("点这里[申诉](javascript:alert(1))", "点这里\\[申诉\\](javascript:alert(1))"),
        ("[x] (JavaScript:alert(1))", "\\[x\\] (JavaScript:alert(1))"),
        ("<javascript://%0Aalert(1)>", "&lt;javascript://%0Aalert(1)>"),
        ('<a href="javascript:alert(1)">x</a>', '&lt;a href="javascript:alert(1)">x&lt;/a>'),
        ("[x][1]\n[1]: javascript:alert(1)", "\\[x\\]\\[1\\]\n\\[1\\]: javascript:alert(1)"),
        ("\\[x](javascript:alert(1))", "\\\\\\[x\\](javascript:alert(1))"),
        ("[x](data:text/html,<script>)", "\\[x\\](data:text/html,&lt;script>)"),
        ("[x](/relative)", "\\[x\\](/relative)"),
        ("a & b &lt;", "a &amp; b &amp;lt;"),
    ],
)
def test_only_web_mail_and_phone_links_stay_links_in_the_widget(typed: str, sent: str) -> None:
    from channels.reliable import safe_links

    assert safe_links(typed) == sent


def test_web_mail_and_phone_links_are_kept() -> None:
    from channels.reliable import markdown_links, safe_links

    for link in (
        "[官网](https://www.douyin.com)",
        "[写信](mailto:feedback@douyin.com)",
        "[致电](tel:4009922556)",
    ):
        assert safe_links(f"请看 {link} 。") == f"请看 {link} 。"
    text = "邮箱：feedback@douyin.com；[别点](javascript:void(0))"
    assert safe_links(markdown_links(text)) == (
        "邮箱：[feedback@douyin.com](mailto:feedback@douyin.com)；\\[别点\\](javascript:void(0))"
    )
