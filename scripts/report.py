"""`make report`: writes results/report.html (charts) and results/report.json (the figures) from the
tracker store and the service tables. By default it reads the stores of `make simulate`
(var/simulation/); pass --tracker-db and --service-db (SQLAlchemy URLs, SQLite or PostgreSQL) to
report on others, e.g. the bot's own: sqlite:///var/rasa_tracker.db and sqlite:///var/service.db.

The containment rate is goal-based when the simulated users' goals are known: goals.json beside a
SQLite tracker store (where `make simulate` writes it), or --goals; otherwise it is taken from the
stores alone (answered without a transfer). report.json says which ("containment_basis").

Per human agent (analytics/agents.py, "agents" in report.json): chats taken and closed, CSAT, first
response time and handling time (median and p90), as a table; a line when there are none yet.

The queue's service levels (analytics/service_levels.py, "service_levels" in report.json): the mean
and 90th-percentile wait before an agent answered, the share answered within --answer-target seconds
(60), and the abandonment rate (--abandon-minutes, 30), overall, per hour and per agent.

The bot's misses (analytics/review.py, "misses" in report.json): per day and per reason, and how many
of them (distinct texts) a supervisor has reviewed on the review page.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.charts import draw_all  # noqa: E402
from analytics.figures import compute  # noqa: E402
from review.labels import DECISIONS  # noqa: E402
from review.misses import REASON_TITLES, REASONS  # noqa: E402
from scripts.simulate import SIMULATION_DIR  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NO_AGENT_CHATS = "暂无人工坐席会话（no human-agent chats yet）。"
AGENT_COLUMNS = (
    "坐席",
    "接入会话",
    "结束会话",
    "满意度 CSAT（评价数）",
    "首次响应 中位数",
    "首次响应 P90",
    "处理时长 中位数",
    "处理时长 P90",
)


def duration(seconds: Optional[float]) -> str:
    """45秒, 3分20秒, 1小时5分0秒; — when there is nothing to measure."""
    if seconds is None:
        return "—"
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes}分{secs}秒"
    return f"{minutes}分{secs}秒" if minutes else f"{secs}秒"


def agents_section(agents: List[Dict]) -> str:
    """The per-agent table (analytics/agents.py), or a line saying there is nothing yet."""
    if not agents:
        return f'<p id="agents-empty">{html.escape(NO_AGENT_CHATS)}</p>'
    head = "".join(f"<th>{label}</th>" for label in AGENT_COLUMNS)
    rows = []
    for agent in agents:
        csat = f"{agent['csat']:.2f}（{agent['ratings']}条）" if agent["csat"] is not None else "—（0条）"
        cells = [
            agent["name"],
            agent["chats_taken"],
            agent["chats_closed"],
            csat,
            duration(agent["first_response_median_s"]),
            duration(agent["first_response_p90_s"]),
            duration(agent["handling_median_s"]),
            duration(agent["handling_p90_s"]),
        ]
        rows.append(
            f'<tr data-agent="{html.escape(agent["username"])}">'
            + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
            + "</tr>"
        )
    return f'<table id="agents"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


HOUR_COLUMNS = (
    "时段（北京时间）",
    "排队",
    "已接入",
    "放弃",
    "仍在排队",
    "平均等待",
    "等待 P90",
    "服务水平",
    "放弃率",
)
AGENT_LEVEL_COLUMNS = ("坐席", "接入会话", "平均等待", "等待 P90", "目标内接入")


def share(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.0%}"


def table(table_id: str, columns: Tuple[str, ...], rows: List[Tuple[str, List]]) -> str:
    head = "".join(f"<th>{label}</th>" for label in columns)
    body = "".join(
        f"<tr {key}>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>"
        for key, cells in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def service_levels_section(levels: Dict) -> str:
    """The queue's service levels (analytics/service_levels.py): a summary, per hour, per agent."""
    overall, target = levels["overall"], levels["target_s"]
    if not overall["queued"]:
        return f'<p id="service-levels-empty">{html.escape(NO_AGENT_CHATS)}</p>'
    line = (
        f"目标：{target:g}秒内接入。排队 {overall['queued']}，已接入 {overall['answered']}，"
        f"放弃 {overall['abandoned']}，仍在排队 {overall['waiting']}；"
        f"平均等待 {duration(overall['mean_wait_s'])}，P90 {duration(overall['p90_wait_s'])}；"
        f"服务水平（目标内接入）{share(overall['service_level'])}，"
        f"放弃率 {share(overall['abandonment_rate'])}。"
    )
    hours = [
        (
            f'data-hour="{row["hour"]}"',
            [
                f"{row['hour']:02d}:00-{row['hour'] + 1:02d}:00",
                row["queued"],
                row["answered"],
                row["abandoned"],
                row["waiting"],
                duration(row["mean_wait_s"]),
                duration(row["p90_wait_s"]),
                share(row["service_level"]),
                share(row["abandonment_rate"]),
            ],
        )  # fmt: skip
        for row in levels["by_hour"]
    ]
    agents = [
        (
            f'data-agent="{html.escape(row["username"])}"',
            [
                row["name"],
                row["answered"],
                duration(row["mean_wait_s"]),
                duration(row["p90_wait_s"]),
                share(row["service_level"]),
            ],
        )  # fmt: skip
        for row in levels["by_agent"]
    ]
    return (
        f'<p id="service-level-summary">{html.escape(line)}</p>'
        + table("service-levels-by-hour", HOUR_COLUMNS, hours)
        + table("service-levels-by-agent", AGENT_LEVEL_COLUMNS, agents)
        + '<p class="note">等待：进入排队到坐席接入（首次接入的坐席计入）；'
        f"放弃：未被接入就离开排队，或排队超过{levels['abandon_after_s'] / 60:g}分钟仍未接入；"
        "服务水平：目标内接入 ÷（已接入 + 放弃），"
        "坐席一栏为其接入会话中目标内的比例。</p>"
    )


DECISION_TITLES = {
    "accept": "采纳机器人的理解",
    "correct": "改标",
    "out_of_scope": "标为无关",
    "skip": "跳过",
}


def misses_section(misses: Dict) -> str:
    """The bot's misses per day and reason, and how many of them were reviewed (analytics/review.py)."""
    if not misses["total"]:
        return '<p id="misses-empty">没有未答好的消息。</p>'
    decided = "，".join(f"{DECISION_TITLES[d]} {misses['by_decision'][d]}" for d in DECISIONS)
    line = (
        f"未答好的消息 {misses['total']} 条（{misses['texts']} 句不同的话）；"
        f"主管已复核 {misses['reviewed']} 句（{decided}），待复核 {misses['pending']} 句。"
    )
    columns = ("日期（北京时间）", *(REASON_TITLES[reason] for reason in REASONS), "合计")
    days = [
        (f'data-day="{day}"', [day, *(counts[reason] for reason in REASONS), counts["total"]])
        for day, counts in misses["by_day"].items()
    ]
    return (
        f'<p id="misses-summary">{html.escape(line)}</p>'
        + table("misses-by-day", columns, days)
        + '<p class="note">每条消息计入它的第一个原因（顺序同表头）。'
        "复核页面：/review（仅主管）；标注写入 data/nlu/reviewed.yml（make review-export）。</p>"
    )


def render(figures: Dict, charts: List[Tuple[str, bytes]]) -> str:
    images = "\n".join(
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        "</figure>"
        for title, png in charts
    )
    low = (
        "".join(f"<li>{html.escape(text)}</li>" for text in figures["low_confidence_messages"])
        or "<li>无</li>"
    )
    if figures["containment_basis"] == "goals":
        outcomes = figures["goal_outcomes"]
        summary = (
            f"会话 {figures['conversations']}，其中提出问题的用户 {figures['asked']}；"
            f"机器人答到用户所需信息、无需人工 {figures['contained']}（解决率 "
            f"{figures['containment_rate']:.0%}，文章为 {figures['article_containment_rate']:.0%}）："
            f"首次提问即解决 {outcomes['bot_first_try']}，换个说法后解决 {outcomes['bot_rephrase']}；"
            f"由人工坐席接待 {outcomes['human']}，留下工单 {outcomes['ticket']}，"
            f"未解决 {outcomes['not_met']}。"
            f"转人工或工单 {figures['transfers']}。"
        )
    else:
        summary = (
            f"会话 {figures['conversations']}，智能答复 {figures['answered']}，"
            f"无需人工即解决 {figures['contained']}（{figures['containment_rate']:.0%}，文章为 "
            f"{figures['article_containment_rate']:.0%}），转人工或工单 {figures['transfers']}。"
        )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>客服运营报告 · 抖音智能客服模拟器</title>
<style>body{{font-family:"Noto Sans CJK SC","PingFang SC",sans-serif;max-width:960px;margin:24px auto;
padding:0 16px}}
figure{{margin:24px 0}}figcaption{{font-weight:bold;margin-bottom:8px}}img{{max-width:100%}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ddd;padding:4px 8px;text-align:right}}
th:first-child,td:first-child{{text-align:left}}</style></head>
<body><h1>客服运营报告（模拟数据）</h1><p id="summary">{html.escape(summary)}</p>
{images}
<h2>服务水平（排队到坐席接入）</h2>{service_levels_section(figures["service_levels"])}
<h2>人工坐席</h2>{agents_section(figures.get("agents", []))}
<p class="note">首次响应：会话进入排队到坐席第一条回复（计入首先回复的坐席）；处理时长：首次接入到结束会话
（转交的会话计入结束它的坐席）；满意度：用户对人工服务的1-5分评价的均分。</p>
<h2>未答好的消息（每天，按原因）</h2>{misses_section(figures["misses"])}
<h2>低置信度消息（可补充进训练数据）</h2><ul id="low-confidence">{low}</ul>
</body></html>"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracker-db", default=f"sqlite:///{SIMULATION_DIR / 'tracker.db'}")
    parser.add_argument("--service-db", default=f"sqlite:///{SIMULATION_DIR / 'service.db'}")
    parser.add_argument(
        "--goals", type=Path, help="simulated users' goals (default: goals.json beside a SQLite tracker)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "report.html")
    parser.add_argument(
        "--answer-target", type=float, default=60, help="seconds within which an agent should answer (60)"
    )
    parser.add_argument(
        "--abandon-minutes",
        type=float,
        default=30,
        help="an unanswered chat waiting longer is abandoned (30)",
    )
    args = parser.parse_args(argv)
    if args.answer_target <= 0 or args.abandon_minutes <= 0:
        parser.error("--answer-target and --abandon-minutes must be more than 0")
    figures = compute(
        args.tracker_db, args.service_db, args.goals, args.answer_target, args.abandon_minutes * 60
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(figures, draw_all(figures)), encoding="utf-8")
    args.out.with_suffix(".json").write_text(
        json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print(
        f"Report written to {args.out} ({figures['conversations']} conversations; containment "
        f"{figures['containment_rate']:.1%} of {figures['asked']}, basis: {figures['containment_basis']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
