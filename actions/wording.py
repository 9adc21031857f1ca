"""The wording the answers are assembled with, in each language (facts stay in knowledge/)."""

from __future__ import annotations

from typing import Dict

WORDS = {
    "zh": {
        "colon": "：",
        "open": "（",
        "close": "）",
        "list": "、",
        "prepare": "请准备：",
        "submit_at": "提交渠道：",
        "urgent": "紧急情况请直接走：",
        "others": "其他渠道：",
        "not_given": "文章没有写明{channel}的{aspect}。文章给出的最接近的信息：",
        "no_more": "这些就是文章给出的全部渠道了。",
        "more_button": "其他渠道",
        "on_duty": "现在是北京时间 {clock}，人工客服在线；需要的话请说“转人工”。",
        "off_duty": "现在是北京时间 {clock}，不在人工服务时间，{reopens}恢复。现在可以用：",
        "aspects": {
            "contact": "联系方式",
            "hours": "服务时间",
            "response": "响应时间",
            "prepare": "所需材料",
            "process": "处理流程",
            "location": "地址",
            "booking": "预约方式",
            "cost": "收费",
        },
    },
    "en": {
        "colon": ": ",
        "open": " (",
        "close": ")",
        "list": "; ",
        "prepare": "Please have ready: ",
        "submit_at": "Where to submit: ",
        "urgent": "If it is urgent, go straight to:",
        "others": "Other channels:",
        "not_given": "The article does not give the {aspect} of the {channel}. The nearest it gives:",
        "no_more": "Those are all the channels the article gives.",
        "more_button": "Other channels",
        "on_duty": 'Human agents are on duty now ({clock} Beijing time); say "human agent" to reach one.',
        "off_duty": "It is {clock} Beijing time, outside human service hours; agents are back {reopens}. "
        "Open now:",
        "aspects": {
            "contact": "contact",
            "hours": "hours",
            "response": "response time",
            "prepare": "requirements",
            "process": "process",
            "location": "address",
            "booking": "booking method",
            "cost": "cost",
        },
    },
}


def words(language: str) -> Dict:
    return WORDS.get(language, WORDS["zh"])
