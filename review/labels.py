"""The supervisors' claims and decisions on the misses, one decision per message text.

Stored in the service database (review/schema.py): a claim while a supervisor looks for the right
intent, then one decision — accept the bot's guess, correct it (intent and aspect), out of scope, or
skip.

Several supervisors work at once without deciding one text twice: `text_key` is unique, so the first
INSERT wins, and a claim or a decision over an existing row is one conditional UPDATE (still claimed,
by the same person or no longer held); whoever loses is told who has it (LabelRefused, HTTP 409). A
claim runs out after CLAIM_MINUTES. A request that is not a valid label (unknown decision, intent or
aspect) raises ValueError before anything is written. Texts that belong to a held-out test set, or that
a training example already gives another intent, are refused (review/datasets.py).

The text stored is the scrubbed one (review/scrub.py): nothing personal reaches this table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import yaml
from sqlalchemy import and_, create_engine, func, insert, or_, select, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError

from core import knowledge, store
from review import datasets
from review.misses import NO_ASPECT, Miss, comparable
from review.schema import review_labels
from review.scrub import scrub

CLAIM_MINUTES = 10
CLAIMED, DECIDED = "claimed", "decided"
DECISIONS = ("accept", "correct", "out_of_scope", "skip")
OUT_OF_SCOPE = "out_of_scope"
FOLLOW_UP = "ask_followup"
NOT_LABELS = {"nlu_fallback"}  # intents the NLU produces but no example may train
DOMAIN = datasets.ROOT / "domain.yml"
# Names for the intents that are not FAQ topics (the topics' titles come from knowledge/topics.yml).
INTENT_TITLES = {
    "ask_followup": "追问当前问题的某一方面（那邮箱呢、要多久）",
    "more_channels": "其他渠道",
    "request_human": "转人工",
    "greet": "问候",
    "goodbye": "再见",
    "thanks": "感谢",
    "bot_identity": "问是不是机器人",
    "affirm_solved": "已解决",
    "deny_unsolved": "没解决",
    "decline": "不用了",
    "rate": "打分",
    "create_ticket": "提交工单",
    "query_ticket": "查询工单",
    "cancel": "取消",
    "ask_queue_position": "问排队位置",
    "leave_queue": "不等了（离开排队）",
    "out_of_scope": "与抖音客服无关",
    "nlu_fallback": "（没听懂）",
}
ASPECT_TITLES = {
    "contact": "联系方式",
    "hours": "服务时间",
    "response": "多久有回复",
    "prepare": "要准备什么",
    "process": "处理流程",
    "location": "在哪里",
    "booking": "怎么预约",
    "cost": "收不收费",
    NO_ASPECT: "不问具体方面（概述）",
}


class LabelRefused(Exception):
    """Someone else holds or decided the text, or it may not become training data (HTTP 409)."""

    status = 409

    def __init__(self, message: str, holder: Optional[str] = None) -> None:
        self.message, self.holder = message, holder
        super().__init__(message)


@dataclass(frozen=True)
class Label:
    id: int
    text_key: str
    text: str
    event_id: int
    conversation_id: str
    reason: str
    message_at: datetime
    bot_intent: Optional[str]
    bot_confidence: Optional[float]
    bot_aspect: Optional[str]
    status: str
    decision: Optional[str]
    intent: Optional[str]
    aspect: Optional[str]
    claimed_by: str
    claimed_at: datetime
    decided_by: Optional[str]
    decided_at: Optional[datetime]


def _label(row: Row) -> Label:
    return Label(**dict(row._mapping))


def engine() -> Engine:
    return store.engine()  # its first use brings the tables to the newest revision


def text_key(text: str) -> str:
    """The identity of a message text: the same question typed by many users is one row."""
    return hashlib.sha256(comparable(text).encode("utf-8")).hexdigest()


@lru_cache(maxsize=None)
def _domain_intents(path: Path) -> tuple:
    return tuple(yaml.safe_load(path.read_text("utf-8"))["intents"])


def intents(domain: Path = DOMAIN) -> List[str]:
    """The intents an example may be labelled with: the domain's (nlu_fallback is no intent)."""
    return [name for name in _domain_intents(domain) if name not in NOT_LABELS]


def aspects() -> List[str]:
    """The aspects a question may ask (knowledge/lexicon.yml), and `none`."""
    return [*knowledge.lexicon()["aspects"], NO_ASPECT]


def takes_aspect(intent: str) -> bool:
    """Topics and follow-ups ask an aspect; greetings, ratings, out of scope … do not."""
    return intent == FOLLOW_UP or knowledge.topic(intent) is not None


def intent_title(intent: str) -> str:
    return knowledge.topic_title(intent) if knowledge.topic(intent) else INTENT_TITLES.get(intent, intent)


def _now(now: Optional[datetime]) -> datetime:
    return store.to_stored_time(now or datetime.now(timezone.utc))


def label_for(miss: Miss, decision: str, intent: Optional[str] = None, aspect: Optional[str] = None) -> tuple:
    """(intent, aspect) a decision gives the miss; ValueError with a reason for a malformed request."""
    if decision not in DECISIONS:
        raise ValueError(f"decision 必须是 {', '.join(DECISIONS)} 之一")
    if decision == "skip":
        return None, None
    if decision == "out_of_scope":
        return OUT_OF_SCOPE, None
    if decision == "accept":
        intent, aspect = miss.guess, miss.aspect
        if intent is None:
            raise ValueError("机器人没有可采纳的意图，请选择正确的意图")
    if not isinstance(intent, str) or intent not in intents():
        raise ValueError(f"未知的意图：{intent!r}")
    if not takes_aspect(intent):
        return intent, None
    aspect = aspect or NO_ASPECT
    if not isinstance(aspect, str) or aspect not in aspects():
        raise ValueError(f"未知的方面：{aspect!r}（可选：{', '.join(aspects())}）")
    return intent, aspect


def may_train(text: str, intent: Optional[str]) -> None:
    """Raises LabelRefused if `text` is a held-out test sentence, or a training example gives it another
    intent (`intent` None: a skip, which writes nothing, is always allowed)."""
    if intent is None:
        return
    held = datasets.held_out_in(text)
    if held:
        raise LabelRefused(f"这句话属于测试集（{held}），不能写入训练数据，请跳过")
    known = datasets.training_texts(skip=datasets.REVIEWED).get(comparable(text))
    if known is not None and known.intent != intent:
        raise LabelRefused(f"训练数据 {known.path} 已把这句标为 {known.intent}，与所选意图矛盾")


def _row(connection, key: str) -> Optional[Row]:
    return connection.execute(select(review_labels).where(review_labels.c.text_key == key)).first()


def _refusal(row: Row) -> LabelRefused:
    if row.status == DECIDED:
        return LabelRefused(f"这句话已由{row.decided_by}处理（{row.decision}）", row.decided_by)
    return LabelRefused(f"{row.claimed_by}正在标注这句话", row.claimed_by)


def _values(miss: Miss, text: str, username: str, moment: datetime) -> Dict:
    return {
        "text_key": text_key(text),
        "text": text,
        "event_id": miss.event_id,
        "conversation_id": miss.conversation_id,
        "reason": miss.reason,
        "message_at": store.to_stored_time(miss.at),
        "bot_intent": miss.intent,
        "bot_confidence": miss.confidence,
        "bot_aspect": miss.aspect,
        "claimed_by": username,
        "claimed_at": moment,
    }


def _write(miss: Miss, username: str, changes: Dict, moment: datetime) -> Label:
    """Takes the text's row over with one conditional UPDATE (still claimed, and by `username` or no
    longer held), or INSERTs it when there is none. Whoever finds it otherwise gets LabelRefused; of two
    INSERTs at once the unique text_key lets one through, and the other tries the UPDATE again."""
    text = scrub(miss.text)
    key = text_key(text)
    expired = moment - timedelta(minutes=CLAIM_MINUTES)
    held = or_(review_labels.c.claimed_by == username, review_labels.c.claimed_at < expired)
    for _ in range(2):
        try:
            with engine().begin() as connection:
                taken = connection.execute(
                    update(review_labels)
                    .where(review_labels.c.text_key == key, review_labels.c.status == CLAIMED, held)
                    .values(claimed_by=username, claimed_at=moment, **changes)
                )
                if taken.rowcount != 1:
                    row = _row(connection, key)
                    if row is not None:
                        raise _refusal(row)
                    connection.execute(
                        insert(review_labels).values(**_values(miss, text, username, moment), **changes)
                    )
                return _label(_row(connection, key))
        except IntegrityError:
            continue  # another supervisor's INSERT came first: their row decides
    with engine().connect() as connection:
        raise _refusal(_row(connection, key))


def claim(miss: Miss, username: str, now: Optional[datetime] = None) -> Label:
    """Holds the miss's text for `username` for CLAIM_MINUTES (again: renewed); LabelRefused if another
    supervisor holds or decided it."""
    return _write(miss, username, {"status": CLAIMED}, _now(now))


def release(miss: Miss, username: str) -> bool:
    """Lets go of `username`'s claim on the miss's text; False if they held none."""
    with engine().begin() as connection:
        done = connection.execute(
            review_labels.delete().where(
                review_labels.c.text_key == text_key(scrub(miss.text)),
                review_labels.c.status == CLAIMED,
                review_labels.c.claimed_by == username,
            )
        )
    return done.rowcount == 1


def decide(
    miss: Miss,
    username: str,
    decision: str,
    intent: Optional[str] = None,
    aspect: Optional[str] = None,
    now: Optional[datetime] = None,
) -> Label:
    """Records the decision on the miss's text (ValueError for a malformed one, LabelRefused when it is
    someone else's or may not train); nothing is written unless it is recorded whole."""
    label_intent, label_aspect = label_for(miss, decision, intent, aspect)
    may_train(scrub(miss.text), label_intent)
    moment = _now(now)
    changes = {
        "status": DECIDED,
        "decision": decision,
        "intent": label_intent,
        "aspect": label_aspect,
        "decided_by": username,
        "decided_at": moment,
    }
    return _write(miss, username, changes, moment)


def states(keys: Iterable[str]) -> Dict[str, Label]:
    """The rows of these text keys (claimed or decided), by key."""
    keys = list(set(keys))
    found: Dict[str, Label] = {}
    with engine().connect() as connection:
        for start in range(0, len(keys), 500):
            rows = connection.execute(
                select(review_labels).where(review_labels.c.text_key.in_(keys[start : start + 500]))
            )
            found.update({row.text_key: _label(row) for row in rows})
    return found


def decided(decisions: Sequence[str] = DECISIONS, url: Optional[str] = None) -> List[Label]:
    """The decided rows, oldest decision first (`url`: another service database)."""
    source = create_engine(url) if url else engine()
    with source.connect() as connection:
        rows = connection.execute(
            select(review_labels)
            .where(and_(review_labels.c.status == DECIDED, review_labels.c.decision.in_(list(decisions))))
            .order_by(review_labels.c.decided_at, review_labels.c.id)
        )
        return [_label(row) for row in rows]


def counts(url: Optional[str] = None) -> Dict[str, int]:
    """Decided rows per decision (the report's "reviewed")."""
    source = create_engine(url) if url else engine()
    with source.connect() as connection:
        rows = connection.execute(
            select(review_labels.c.decision, func.count())
            .where(review_labels.c.status == DECIDED)
            .group_by(review_labels.c.decision)
        )
        return {decision: count for decision, count in rows}
