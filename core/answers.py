"""Renders the smart answer from the knowledge files: the aspect asked of the case's channel when the
question asks one, else a short overview of the case; the rest is offered as a button."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import List, Optional

from core import knowledge
from core.aspects import Question, aspect_field, kind_default_channel
from core.parsing import is_urgent
from core.service_hours import human_availability, open_channels_now, reopens_text
from core.wording import words

OVERVIEW_CHANNELS = 3  # channel lines in an overview; the rest behind "其他渠道"
MORE_CHANNELS = 6  # channel lines when the user asks for the others
# Aspects whose answer is naturally several places (the three centers); others answer one channel.
ASPECT_CHANNELS = {"location": 3, "booking": 3}
PROCESS_CHANNELS = 2  # "what happens next" where no channel of the case has a process of its own
NOT_GIVEN = ("文章未给出", "文章只写到", "the article gives no", "the article does not")
HUMAN_HOURS_TOPIC = "human_hours"
MAX_LINES = 7  # an answer's lines: with the question after it, a phone screen
OVERVIEW = "overview"  # no aspect asked of a named channel: its contact, hours and response in a line


@dataclass
class Answer:
    text: str
    shown: List[str] = field(default_factory=list)  # channel ids the answer named
    more: bool = False  # the case has channels the answer did not name


def short(detail: str) -> str:
    """The first clause of a detail: "接通率82%，典型等待5-15分钟（文章另称…）" -> without the aside."""
    return re.split(r"（|；| \(|; ", str(detail), maxsplit=1)[0].strip()


def is_given(contact: str) -> bool:
    return not any(marker in contact for marker in NOT_GIVEN)


def is_address(contact: str) -> bool:
    """A number, e-mail or web address (worth repeating beside a fact), not a path or a place."""
    return is_given(contact) and bool(re.search(r"\d{3}|@|www\.", contact))


def green_channel(topic_name: str, text: Optional[str]) -> Optional[str]:
    """The channel the article routes this case straight to, if any (urgent bans and throttling too)."""
    topic = knowledge.topic(topic_name) or {}
    if topic.get("urgent_green") and is_urgent(text, knowledge.handoff_rules()["urgent_words"]):
        return topic["urgent_green"]
    return topic.get("green")


def _unique(ids: List[Optional[str]]) -> List[str]:
    seen: List[str] = []
    for channel_id in ids:
        if channel_id and channel_id not in seen:
            seen.append(channel_id)
    return seen


def case_channels(topic_name: str, region: Optional[str] = None, city: Optional[str] = None) -> List[str]:
    """Every channel of a case, best first: its own, its next step's, its alternative and green ones,
    with the one for the user's region or city moved to the front."""
    topic = knowledge.topic(topic_name) or {}
    ids = _unique(
        [*topic.get("channels", []), *topic.get("next_channels", []), topic.get("alternative")]
        + [topic.get("green"), topic.get("urgent_green")]
    )
    places = knowledge.places()
    preferred = places["cities"].get(city) if city else None
    if preferred not in ids:
        preferred = None  # a city only reorders the centers a case already lists
    if region and topic.get("regional"):
        preferred = places["regions"].get(region, places["regions"]["default"])
    return _unique([preferred, *ids]) if preferred else ids


def overview_line(channel_id: str, language: str, said: List[str]) -> str:
    """Icon, name, contact and the first clause of hours and response, each detail said once."""
    info, w = knowledge.channel(channel_id), words(language)
    line = f"{knowledge.KIND_ICONS[info['kind']]} {knowledge.localized(info, 'name', language)}"
    line += f"{w['colon']}{knowledge.localized(info, 'contact', language)}"
    details = []
    for key in ("hours", "response"):
        detail = short(knowledge.localized(info, key, language) or "")
        if detail and detail not in said:
            said.append(detail)
            details.append(detail)
    sep = "; " if language == "en" else "；"
    return f"{line}{w['open']}{sep.join(details)}{w['close']}" if details else line


def _aspect_line(channel_id: str, aspect: str, language: str) -> str:
    """ "☎ 普通热线（内地） 400-992-2556：8:00-23:00…" — the channel and the fact asked."""
    info, w = knowledge.channel(channel_id), words(language)
    name = f"{knowledge.KIND_ICONS[info['kind']]} {knowledge.localized(info, 'name', language)}"
    contact = knowledge.localized(info, "contact", language)
    if aspect == "contact":
        hours = short(knowledge.localized(info, "hours", language) or "")
        return f"{name}{w['colon']}{contact}" + (f"{w['open']}{hours}{w['close']}" if hours else "")
    value = knowledge.localized(info, aspect_field(aspect), language)
    where = f" {contact}" if is_address(contact) else ""
    return f"{name}{where}{w['colon']}{value}"


def _has(channel_id: str, aspect: str) -> bool:
    return bool(knowledge.channel(channel_id).get(aspect_field(aspect)))


def _channels_asked(
    topic_name: str,
    question: Question,
    region: Optional[str],
    city: Optional[str],
    preferred: Optional[List[str]] = None,
) -> List[str]:
    """The channels a question is about: those it names, else the case's of the kind it names, else
    the case's own; `preferred` (those the conversation already talked about) first."""
    if question.channels:
        return list(question.channels)
    candidates = _unique([*(preferred or []), *case_channels(topic_name, region, city)])
    if len(question.kinds) > 1:
        # "电话邮箱都行": the case's first channel of each kind named, then its others.
        firsts = [
            next((c for c in candidates if knowledge.channel(c)["kind"] == kind), kind_default_channel(kind))
            for kind in question.kinds
        ]
        return _unique([c for c in candidates if c in firsts] + firsts + candidates)
    if question.kinds:
        kinds = set(question.kinds)
        of_kind = [c for c in candidates if knowledge.channel(c)["kind"] in kinds]
        return of_kind or [kind_default_channel(kind) for kind in question.kinds]
    return candidates


def _pick_aspect(topic_name: str, question: Question, channels: List[str]) -> Optional[str]:
    """The first aspect asked that the channels can answer; else "where"/"which" is the contact, and
    another aspect is answered "not given"; with none asked, the topic's own, or the named channel's
    overview line ("知乎专栏是干什么的", "那邮箱呢")."""
    for aspect in question.aspects:
        if aspect == "prepare" and _prepare_items(topic_name, question):
            return aspect
        if any(_has(c, aspect) for c in channels) or (
            aspect == "process" and any(_has(c, "response") for c in channels)
        ):
            return aspect
    if question.aspects:
        where = "location" in question.aspects or "contact" in question.aspects
        return "contact" if where else question.aspects[0]
    if len(question.kinds) > 1 and not question.channels:
        return "contact"  # "有没有电话和邮箱": how to reach each
    default = (knowledge.topic(topic_name) or {}).get("aspect")
    if default:
        return default
    return OVERVIEW if (question.channels or question.kinds) else None


def _prepare_items(topic_name: str, question: Question) -> Optional[str]:
    """The topic whose "what to prepare" list answers the question: the case's own when no channel is
    named, else the topic a named channel (without requirements of its own) serves first."""
    if not question.channels:
        return topic_name if (knowledge.topic(topic_name) or {}).get("prepare") else None
    channel_id = question.channels[0]
    if knowledge.channel(channel_id).get("prepare"):
        return None
    return next(
        (
            name
            for name, t in knowledge.topics().items()
            if t.get("prepare") and t["channels"][0] == channel_id
        ),
        None,
    )


def _nearest_with(aspect: str, channels: List[str], topic_name: str) -> Optional[str]:
    """A channel that has the aspect: the case's first, else one of the same kind, else any."""
    kinds = [knowledge.channel(c)["kind"] for c in channels]
    pools = [case_channels(topic_name), [c for c, i in knowledge.channels().items() if i["kind"] in kinds]]
    pools.append(list(knowledge.channels()))
    return next((c for pool in pools for c in pool if _has(c, aspect)), None)


def _prepare_answer(topic_name: str, channels: List[str], language: str) -> Answer:
    """What to prepare for the case (or the topic a named channel serves), and where to send it."""
    topic, w = knowledge.topic(topic_name), words(language)
    items = knowledge.localized(topic, "prepare", language)
    lines = [f"【{knowledge.topic_title(topic_name, language)}】{w['prepare']}{w['list'].join(items)}"]
    if channels:
        said: List[str] = []
        lines.append(w["submit_at"] + overview_line(channels[0], language, said))
    return Answer("\n".join(lines), shown=channels[:1])


def _human_status(now: datetime, language: str) -> str:
    """Whether humans are on duty now by the simulated clock, and what is open if not."""
    availability, w = human_availability(now), words(language)
    clock = now.strftime("%H:%M")
    if availability.on_duty:
        return w["on_duty"].format(clock=clock)
    open_now = open_channels_now(now)
    said: List[str] = []
    first = overview_line(open_now[0], language, said) if open_now else ""
    return w["off_duty"].format(clock=clock, reopens=reopens_text(availability, language)) + "\n" + first


def _own_first(topic_name: str, channels: List[str], region: Optional[str] = None) -> List[str]:
    """`channels` with the case's own ones (its channels, next step and green channels, and the line
    for the user's region) first."""
    topic = knowledge.topic(topic_name) or {}
    own = {*topic.get("channels", []), *topic.get("next_channels", [])}
    own |= {topic.get("green"), topic.get("urgent_green")}
    if region and topic.get("regional"):
        own.add(case_channels(topic_name, region)[0])
    return [c for c in channels if c in own] + [c for c in channels if c not in own]


def _fact_answer(
    topic_name: str,
    aspect: str,
    channels: List[str],
    question: Question,
    language: str,
    region: Optional[str] = None,
) -> Answer:
    """One line per channel that has the fact; where none has it, "not given" and the nearest that has.
    The case's own channels answer before its alternative ("提现之后怎么跟进" is the creator channels'
    matter, not the feedback mailbox's process)."""
    own = channels if question.channels else _own_first(topic_name, channels, region)
    several_kinds = len(question.kinds) if len(question.kinds) > 1 and not question.channels else 0
    limit = max(len(question.channels), ASPECT_CHANNELS.get(aspect, 1), several_kinds)
    if aspect == "process" and not any(_has(c, aspect) for c in own[:PROCESS_CHANNELS]):
        # The article's "what happens next" for most channels is their response time: the case's
        # first channels' (its own, not its alternative's), in a line each.
        aspect, limit = "response", max(limit, PROCESS_CHANNELS)
    channels = own if not several_kinds else channels
    if not (question.channels or question.kinds) or several_kinds:
        # "How do I contact customer service?": a case whose channels are all ways in answers with several.
        limit = max(limit, ((knowledge.topic(topic_name) or {}).get("lines") or {}).get(aspect, 1))
    answering = [c for c in channels if _has(c, aspect) or aspect == "contact"][:limit]
    if aspect == "contact" and answering and not is_given(knowledge.channel(answering[-1])["contact"]):
        # "版权投诉发哪个邮箱": the article gives no address for it, so the nearest that has one follows.
        nearest = (knowledge.topic(topic_name) or {}).get("alternative")
        if nearest and nearest not in answering and is_given(knowledge.channel(nearest)["contact"]):
            answering.append(nearest)
    if answering:
        return Answer("\n".join(_aspect_line(c, aspect, language) for c in answering), shown=answering)
    w = words(language)
    name = knowledge.localized(knowledge.channel(channels[0]), "name", language)
    lines = [w["not_given"].format(channel=name, aspect=w["aspects"][aspect])]
    nearest = _nearest_with(aspect, channels, topic_name)
    if nearest:
        lines.append(_aspect_line(nearest, aspect, language))
    return Answer("\n".join(lines), shown=[nearest] if nearest else [])


def aspect_answer(
    topic_name: str,
    question: Question,
    language: str = "zh",
    region: Optional[str] = None,
    city: Optional[str] = None,
    now: Optional[datetime] = None,
    preferred: Optional[List[str]] = None,
) -> Optional[Answer]:
    """The direct answer to the aspect asked, for the channel(s) of the case; None if none is asked.
    `preferred`: channels the conversation already named, asked first in a follow-up."""
    told = [c for c in question.told if c in case_channels(topic_name)]
    if told and not question.channels:
        question = replace(question, channels=tuple(told))  # named in the story, one of the case's
    channels = _channels_asked(topic_name, question, region, city, preferred)
    aspect = _pick_aspect(topic_name, question, channels)
    if aspect is None:
        return None
    every = case_channels(topic_name, region, city)
    prepare_topic = _prepare_items(topic_name, question) if aspect == "prepare" else None
    if aspect == OVERVIEW:
        shown = channels[: max(len(question.channels), 1)]
        said: List[str] = []
        answer = Answer("\n".join(overview_line(c, language, said) for c in shown), shown=shown)
    elif prepare_topic:
        submit = (knowledge.topic(prepare_topic) or {}).get("submit")
        if submit and not (question.channels or question.kinds):
            channels = _unique([submit, *channels])  # where the evidence goes
        answer = _prepare_answer(prepare_topic, channels, language)
    else:
        answer = _fact_answer(topic_name, aspect, channels, question, language, region)
    if topic_name == HUMAN_HOURS_TOPIC and now is not None:
        answer.text += "\n" + _human_status(now, language)
    answer.more = any(c not in answer.shown for c in every)
    return answer


def also_asked(
    answer: Answer,
    topic_name: str,
    parts: List[Question],
    language: str = "zh",
    region: Optional[str] = None,
    city: Optional[str] = None,
) -> Answer:
    """`answer` with the answers to the message's other questions ("…在哪？…要多久"): each question
    clause's aspect, the lines not yet said, as long as the message fits a screen. A clause that asks
    no aspect ("钱怎么退") asks where to go: the case's own channel."""
    lines = answer.text.splitlines()
    for part in parts:
        asked = Question(aspects=("contact",)) if part.is_empty else part
        extra = aspect_answer(topic_name, asked, language, region, city)
        if extra is None or (part.is_empty and set(extra.shown) <= set(answer.shown)):
            continue
        said = "\n".join(lines)
        places = any(_has(c, "location") for c in extra.shown)
        where = set(part.aspects) <= {"contact", "location"} and not places
        if where and all(
            knowledge.localized(knowledge.channel(c), "contact", language) in said for c in extra.shown
        ):
            continue  # where to go is in the answer already ("www.douyin.com：…24小时内响应")
        new = [line for line in extra.text.splitlines() if line not in lines]
        if not new or len(lines) + len(new) > MAX_LINES:
            continue
        lines += new
        answer.shown += [c for c in extra.shown if c not in answer.shown]
    every = case_channels(topic_name, region, city)
    return Answer("\n".join(lines), shown=answer.shown, more=any(c not in answer.shown for c in every))


NOTE_TERM = re.compile(r"[“\"]([^”\"]+)[”\"]")  # a feature a channel's note names: “长辈模式”


def with_notes(answer: Answer, topic_name: str, text: Optional[str], language: str = "zh") -> Answer:
    """A feature the message asks about that a channel of the case offers by its note ("长辈模式在哪开"
    → the WeChat account, which has “长辈模式”): that channel and its note, if the answer lacks it."""
    lowered = (text or "").lower()
    w = words(language)
    for channel_id in _unique([*answer.shown, *case_channels(topic_name)]):
        info = knowledge.channel(channel_id)
        terms = NOTE_TERM.findall(f"{info.get('note', '')} {info.get('note_en', '')}")
        note = knowledge.localized(info, "note", language)
        if not any(term.lower() in lowered for term in terms) or note in answer.text:
            continue
        name = f"{knowledge.KIND_ICONS[info['kind']]} {knowledge.localized(info, 'name', language)}"
        contact = knowledge.localized(info, "contact", language)
        line = f"{name}{w['colon']}{contact}{w['open']}{note}{w['close']}"
        shown = answer.shown if channel_id in answer.shown else [*answer.shown, channel_id]
        return Answer(f"{answer.text}\n{line}", shown=shown, more=answer.more)
    return answer


def topic_answer(
    topic_name: str,
    text: Optional[str] = None,
    region: Optional[str] = None,
    city: Optional[str] = None,
    language: str = "zh",
) -> Answer:
    """A short overview: title and summary, the first channels, what to prepare; the rest behind a button."""
    topic, w = knowledge.topic(topic_name), words(language)
    lines = [
        f"【{knowledge.topic_title(topic_name, language)}】{knowledge.localized(topic, 'answer', language)}"
    ]
    said: List[str] = []
    channels = case_channels(topic_name, region, city)
    shown = channels[:OVERVIEW_CHANNELS]
    green = green_channel(topic_name, text)
    if green and green not in topic["channels"]:
        lines.append(w["urgent"])
        lines.append(overview_line(green, language, said))
        shown = [green, *[c for c in shown if c != green]][:OVERVIEW_CHANNELS]
        lines.append(w["others"])
        shown_rest = shown[1:]
    else:
        shown_rest = shown
    lines.extend(overview_line(c, language, said) for c in shown_rest)
    if topic.get("prepare"):
        lines.append(w["prepare"] + w["list"].join(knowledge.localized(topic, "prepare", language)))
    return Answer("\n".join(lines), shown=shown, more=any(c not in shown for c in channels))


def more_channels_answer(topic_name: str, shown: List[str], language: str = "zh") -> Answer:
    """The case's channels the earlier answers did not name."""
    rest = [c for c in case_channels(topic_name) if c not in shown][:MORE_CHANNELS]
    if not rest:
        return Answer(words(language)["no_more"], shown=list(shown))
    said: List[str] = []
    text = "\n".join(overview_line(c, language, said) for c in rest)
    remaining = [c for c in case_channels(topic_name) if c not in shown and c not in rest]
    return Answer(text, shown=[*shown, *rest], more=bool(remaining))


def next_step_answer(topic_name: str, language: str = "zh") -> Optional[str]:
    """The one extra step for an unsolved case, with its channels; None if the article gives none."""
    topic = knowledge.topic(topic_name) or {}
    if not topic.get("next_step"):
        return None
    said: List[str] = []
    lines = [knowledge.localized(topic, "next_step", language)]
    lines.extend(overview_line(c, language, said) for c in topic.get("next_channels", []))
    return "\n".join(lines)
