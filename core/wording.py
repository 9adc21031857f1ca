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
        "elder_more": "想知道其他办法，请点“其他渠道”；要找人工客服，请说“转人工”。",
        "on_duty": "现在是北京时间 {clock}，人工客服在线；需要的话请说“转人工”。",
        "off_duty": "现在是北京时间 {clock}，不在人工服务时间，{reopens}恢复。现在可以用：",
        "assumed": "（我按“{case}”来回答；如果不是，请点下面的按钮或换个说法。）",
        "rather": "我问的是：",
        "which": "您是想问{first}，还是{second}？",
        "which_one": "您是想问{first}吗？",
        # One reading of a question, for the two-case question: the case's title with the aspect asked.
        "ask_aspect": {
            "none": "“{title}”",
            "contact": "“{title}”找哪个渠道",
            "hours": "“{title}”几点能联系",
            "response": "“{title}”多久有结果",
            "prepare": "“{title}”要准备什么",
            "process": "“{title}”怎么处理",
            "location": "“{title}”去哪里办",
            "booking": "“{title}”怎么预约",
            "cost": "“{title}”收不收费",
        },
        "other_platform": "这里是抖音客服的模拟器，只能回答抖音的客服问题，{platform}的问题我答不了，"
        "请通过{platform}官方的客服渠道咨询。",
        "douyins_own": "如果您问的是抖音自己的同类渠道：",
        "douyins_topic": "问抖音的“{title}”",
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
        "elder_more": 'For other ways, tap "Other channels"; to talk to a person, say "human agent".',
        "on_duty": 'Human agents are on duty now ({clock} Beijing time); say "human agent" to reach one.',
        "off_duty": "It is {clock} Beijing time, outside human service hours; agents are back {reopens}. "
        "Open now:",
        "assumed": '(I took this as "{case}"; if it is not, tap the button below or rephrase.)',
        "rather": "I meant: ",
        "which": "Do you mean {first}, or {second}?",
        "which_one": "Do you mean {first}?",
        "ask_aspect": {
            "none": '"{title}"',
            "contact": 'how to contact "{title}"',
            "hours": 'the hours for "{title}"',
            "response": 'how long "{title}" takes',
            "prepare": 'what to prepare for "{title}"',
            "process": 'how "{title}" is handled',
            "location": 'where to go for "{title}"',
            "booking": 'how to book for "{title}"',
            "cost": 'what "{title}" costs',
        },
        "other_platform": "This is a simulator of Douyin's customer service: it answers questions "
        "about Douyin only and cannot answer for {platform}; please ask {platform} through its own "
        "official support.",
        "douyins_own": "If you meant Douyin's own channel of that name: ",
        "douyins_topic": 'Ask about Douyin: "{title}"',
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
