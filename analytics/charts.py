"""Draws the report's charts with matplotlib and returns them as PNG bytes."""

from __future__ import annotations

import io
import subprocess
from typing import Callable, Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from core import knowledge  # noqa: E402


def _use_cjk_font() -> None:
    """Chinese labels need a CJK font. fontconfig knows the installed ones even when matplotlib's font
    cache predates them (make install adds Noto Sans CJK), so ask it and register the file."""
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "file", "family"], capture_output=True, text=True
        ).stdout
    except OSError:
        listing = ""
    families = []
    for line in sorted(listing.splitlines()):
        path, _, family = line.partition(": ")
        if path and family:
            font_manager.fontManager.addfont(path)
            families.append(font_manager.FontProperties(fname=path).get_name())
    preferred = sorted(set(families), key=lambda name: ("SC" not in name, name))
    plt.rcParams["font.sans-serif"] = preferred + ["PingFang SC", "Microsoft YaHei", "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


_use_cjk_font()
ACCENT = "#fe2c55"


def _png(draw: Callable[[plt.Axes], None], size: Tuple[float, float] = (8, 3.6)) -> bytes:
    figure, axes = plt.subplots(figsize=size)
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _hours(values: Dict[str, float]) -> Tuple[List[int], List[float]]:
    return list(range(24)), [values.get(str(h), 0) for h in range(24)]


def draw_all(figures: Dict) -> List[Tuple[str, bytes]]:
    """(title, PNG) for every chart of the report."""
    topic_titles = {name: knowledge.topic_title(name) for name in figures["topics"]}
    charts = []

    def per_hour(axes):
        hours, counts = _hours(figures["conversations_by_hour"])
        axes.bar(hours, counts, color=ACCENT)
        axes.set(xlabel="小时（北京时间）", ylabel="会话数", xticks=hours)

    def topic_mix(axes):
        names = list(figures["topics"])[::-1]
        axes.barh([topic_titles[n] for n in names], [figures["topics"][n] for n in names], color=ACCENT)
        axes.set(xlabel="会话数")

    outcomes = figures.get("goal_outcomes") or {}

    def containment(axes):
        article = figures["article_containment_rate"]
        if outcomes and figures["asked"]:  # the simulation's bar split: first question, rephrasing
            first = outcomes["bot_first_try"] / figures["asked"]
            axes.bar(["本模拟"], [first], color=ACCENT, label="首次提问即解决")
            axes.bar(["本模拟"], [figures["containment_rate"] - first], bottom=[first], color="#f7a1b1",
                     label="换个说法后解决")  # fmt: skip
            axes.bar(["文章"], [article], color="#999")
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
        else:
            axes.bar(["本模拟", "文章"], [figures["containment_rate"], article], color=[ACCENT, "#999"])
        for x, rate in enumerate([figures["containment_rate"], article]):
            axes.annotate(f"{rate:.0%}", (x, rate), ha="center", va="bottom", xytext=(0, 2),
                          textcoords="offset points")  # fmt: skip
        axes.set(ylim=(0, 1.08), ylabel="无需人工即解决的比例")

    def goal_outcomes(axes):
        labels = {"bot_first_try": "首次提问即解决", "bot_rephrase": "换个说法后解决",
                  "human": "人工坐席接待", "ticket": "留下工单", "not_met": "未解决"}  # fmt: skip
        names = list(labels)[::-1]
        bars = axes.barh([labels[n] for n in names], [outcomes[n] for n in names], color=ACCENT)
        axes.bar_label(bars, padding=2)
        axes.set(xlabel="提出问题的用户数", xlim=(0, max(outcomes.values()) * 1.12 + 1))

    def transfer_by_hour(axes):
        hours, rates = _hours(figures["transfer_rate_by_hour"])
        axes.plot(hours, rates, marker="o", color=ACCENT)
        axes.axvspan(9, 21, color="#eee", label="人工服务 9:00-21:00")
        axes.set(xlabel="小时（北京时间）", ylabel="转人工比例", ylim=(0, 1), xticks=hours)
        axes.legend()

    def transfer_by_topic(axes):
        items = sorted(figures["transfer_rate_by_topic"].items(), key=lambda kv: kv[1])
        axes.barh([topic_titles.get(n, n) for n, _ in items], [r for _, r in items], color=ACCENT)
        axes.set(xlabel="转人工比例", xlim=(0, 1))

    def queue(axes):
        times = list(figures["queue_length"])
        axes.step(range(len(times)), list(figures["queue_length"].values()), where="post", color=ACCENT)
        axes.set(xticks=range(0, len(times), 8), xticklabels=times[::8], ylabel="排队人数")

    def tickets(axes):
        labels = knowledge.handoff_rules()["ticket"]["statuses"]
        statuses = figures["tickets_by_status"]
        axes.bar([labels.get(s, s) for s in statuses] or ["无"], list(statuses.values()) or [0], color=ACCENT)
        axes.set(ylabel="工单数")

    def ratings(axes):
        axes.bar([f"{s}分" for s in figures["ratings"]], list(figures["ratings"].values()), color=ACCENT)
        axes.set(ylabel="评价数")

    rated = [agent for agent in figures.get("agents", []) if agent["ratings"]][::-1]

    def agent_csat(axes):
        bars = axes.barh([a["name"] for a in rated], [a["csat"] for a in rated], color=ACCENT)
        axes.bar_label(bars, labels=[f"{a['csat']:.2f}（{a['ratings']}条）" for a in rated], padding=2)
        axes.set(xlabel="人工服务评价均分（1-5分）", xlim=(0, 5.9))

    tall = (8, max(3.6, 0.28 * len(figures["topics"]) + 1))
    for title, draw, size in [
        ("每小时会话数", per_hour, (8, 3.6)),
        ("问题类型分布", topic_mix, tall),
        ("智能客服解决率（对比文章的85%）", containment, (5, 4)),
        *([("模拟用户的需求结果", goal_outcomes, (6, 3.2))] if outcomes else []),
        ("各时段转人工比例", transfer_by_hour, (8, 3.6)),
        ("各问题类型转人工比例", transfer_by_topic, tall),
        ("全天排队人数（每15分钟）", queue, (8, 3.6)),
        ("工单状态", tickets, (5, 3.2)),
        ("满意度评价", ratings, (5, 3.2)),
        *([("各坐席满意度（CSAT）", agent_csat, (6, max(2.4, 0.4 * len(rated) + 1.2)))] if rated else []),
    ]:
        charts.append((title, _png(draw, size)))
    return charts
