"""agents/masking.py on messages as users write them: what is personal is masked, what the bot
publishes (the article's hotlines and addresses) and ordinary text stay."""

from __future__ import annotations

import json

import pytest

from agents.masking import mask, published
from core import knowledge

KEEP = published([json.dumps(knowledge.channels(), ensure_ascii=False)])


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("我的手机号是13812345678，请回电", "我的手机号是138****5678，请回电"),
        ("电话 138-1234-5678", "电话 138-****-5678"),
        ("+86 139 1234 5678 这个号", "+86 139 **** 5678 这个号"),
        ("座机010-62345678，白天在", "座机010-****5678，白天在"),
        ("邮箱zhangsan1990@qq.com，谢谢", "邮箱z***@qq.com，谢谢"),
        ("reach me at Li.Lei+dy@example.com.cn please", "reach me at L***@example.com.cn please"),
        ("身份证号110101199003074578，实名认证失败", "身份证号110***********4578，实名认证失败"),
        ("身份证 11010119900307457X", "身份证 110***********457X"),
        ("我的密码是Abc@12345，帮我看看", "我的密码是******，帮我看看"),
        ("密码：qwer!234 账号 dy_8899", "密码：****** 账号 dy_8899"),
        ("密码123456被人改了", "密码******被人改了"),
        ("账号 dy_8899 密码 hunter22", "账号 dy_8899 密码 ******"),
        ("my password is hunter2, account locked", "my password is ******, account locked"),
        ("Password: S3cret!x", "Password: ******"),
        ("我的密码是我的生日。", "我的密码是******。"),
        ("my password was Tr0ub4dor&3.", "my password was ******."),
        ("pwd=abc.def; 其他", "pwd=******; 其他"),
    ],
)
def test_personal_data_is_masked(typed: str, shown: str) -> None:
    assert mask(typed, KEEP) == shown


@pytest.mark.parametrize(
    "text",
    [
        "我忘记密码了，怎么找回",  # no password in it
        "password reset does not work",
        "☎ 普通热线（内地）：400-992-2556（8:00-23:00）",
        "投诉请拨打 028-6583-5566",
        "反馈邮箱 feedback@douyin.com，企业合作 partner@douyin.com",
        "工单已提交：DY20261125-000001",
        "现在是北京时间 17:20，人工客服在线",
        "订单在 2026-11-25 10:00 下的，金额 128 元",
        "",
    ],
)
def test_published_contacts_and_ordinary_text_stay(text: str) -> None:
    assert mask(text, KEEP) == text


def test_a_published_number_stays_but_a_user_number_beside_it_does_not() -> None:
    text = "我打了028-6583-5566没人接，我的号码13900001111"
    assert mask(text, KEEP) == "我打了028-6583-5566没人接，我的号码139****1111"
    assert mask(text) == "我打了028-****-5566没人接，我的号码139****1111"  # nothing kept


def test_masking_is_stable() -> None:
    once = mask("手机13812345678 邮箱a@b.cn 密码是x1y2z3", KEEP)
    assert mask(once, KEEP) == once
    assert "13812345678" not in once and "x1y2z3" not in once and "a@b.cn" not in once
