"""`make simulate`: plays a simulated day of goal-driven users through the running bot.

Starts its own action server and Rasa server on free ports, with the stores in var/simulation/
(emptied first) and the simulated clock in a file that both servers read (CS_SIM_CLOCK_FILE). Users
arrive over the day (more at lunch and in the evening). Most come with one need taken from the
real-style held-out set (tests/data/real_style_holdout.yml: questions as people post them online), so
that the report's containment is what real wording gets and its misses show; its questions about
other companies' platforms are not needs the bot could meet and are left out. `--goals
tests/data/answer_holdout.yml` (make simulate GOALS=…) draws them from the held-out answer set
instead. The cases with the same `expect` strings are one need, its single-turn non-follow-up cases
the first questions, all its cases the wordings. Such a user asks, is satisfied only if the reply
holds every expected string, then says so and rates the service when asked to; otherwise rephrases
once and, still unanswered, asks for a human (queue in service hours, else a ticket or not). Smaller
shares ask for a human at once, leave after the first reply, or stray out of scope. Agents
(9:00-21:00, accounts made with agents/cli.py, logged in through the console's API) take queued
conversations and close them a few minutes later; most users then rate the human service. What
became of each user's need goes to goals.json beside the stores (GOALS_FILE). Seeded: the same seed
plays the same day. `make report` then reads them.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import re
import secrets
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.figures import GOALS_FILE, goal_outcome  # noqa: E402
from core.clock import SERVICE_TIMEZONE  # noqa: E402
from scripts.agent_client import add_agent, agent_headers  # noqa: E402
from scripts.servers import ROOT, action_server, free_port, rasa_server, write_endpoints  # noqa: E402

SIMULATION_DIR = ROOT / "var" / "simulation"
MODEL = ROOT / "models" / "douyin-cs.tar.gz"
GOALS_SOURCE = ROOT / "tests" / "data" / "answer_holdout.yml"
REAL_STYLE_GOALS = ROOT / "tests" / "data" / "real_style_holdout.yml"  # make simulate's default
# Relative arrivals per hour of the day (0-23).
HOURLY_ARRIVALS = [
    1,
    0.6,
    0.3,
    0.2,
    0.2,
    0.3,
    0.8,
    1.5,
    3,
    4,
    4.5,
    4.5,
    5,
    4.5,
    4,
    4,
    4,
    4.5,
    5,
    6,
    6.5,
    5.5,
    4,
    2.5,
]
BEHAVIOURS = [
    ("goal", 0.8),  # asks, judges the reply, rephrases once, then asks for a human
    ("human_first", 0.07),  # wants a person from the start
    ("leaves", 0.08),  # reads the first reply and goes, whatever it says
    ("off_topic", 0.05),  # an out-of-scope message, no need the bot could meet
]
RATING_WEIGHTS = {5: 45, 4: 30, 3: 15, 2: 6, 1: 4}
SAY = {
    "zh": {"solved": ["好了谢谢", "已解决"], "human": "转人工", "decline": "不用了", "rating": "{}分"},
    "en": {"solved": ["problem solved", "solved"], "human": "human agent please", "decline": "no thanks",
           "rating": "{} stars"},
}  # fmt: skip
# What the bot's replies show, in both languages (compared in lower case).
RATING_PROMPT = ("请为本次服务打分", "please rate")
QUEUED = ("排在第", "your position")
NO_AGENT = ("提交工单", "恢复", "open a ticket", "are back")
AGENTS = 3
HANDLE_MINUTES = (4, 9)
FIRST_REPLY_SECONDS = (20, 150)  # from taking a chat to the agent's first words
AGENT_REPLY = "您好，我来帮您看一下这个问题。"
HUMAN_RATED_SHARE = 0.7  # users who answer the rating question after an agent closes
AGENT_HOURS = (9, 21)
CJK = re.compile(r"[\u3400-\u9fff]")


def out_of_scope_questions() -> List[str]:
    items = yaml.safe_load((ROOT / "tests" / "nlu_holdout.yml").read_text("utf-8"))["nlu"]
    item = next(item for item in items if item["intent"] == "out_of_scope")
    return [line[2:].strip() for line in item["examples"].splitlines() if line.strip()]


@dataclass(frozen=True)
class Wording:
    case: str  # the held-out case's id
    turns: Tuple[str, ...]
    language: str  # "en" or "zh" (characters or pinyin)


@dataclass(frozen=True)
class Goal:
    expect: Tuple[str, ...]  # every string must be in the reply for the need to be met
    first: Tuple[Wording, ...]  # how a user opens with it: single-turn, not a follow-up
    wordings: Tuple[Wording, ...]  # every case of the need, for rephrasing

    def met_by(self, reply: str) -> bool:
        return all(expected.lower() in reply.lower() for expected in self.expect)

    def rephrasing(self, used: Wording, rng: random.Random) -> Wording:
        """Another wording in the user's language, or the same one again if there is none."""
        others = [w for w in self.wordings if w != used and w.language == used.language]
        return rng.choice(others) if others else used


def load_goals(path: Path = GOALS_SOURCE) -> List[Goal]:
    """One goal per distinct `expect` list of a held-out answer set, in file order: the answer set's
    cases (`style`) or the real-style set's (`shape`), without the cases that need a reply no list of
    strings states (`expect_any`: the honest "this is Douyin's service" to another platform's question)."""
    grouped: Dict[Tuple[str, ...], List[Wording]] = {}
    openers: Dict[Tuple[str, ...], List[Wording]] = {}
    for case in yaml.safe_load(path.read_text("utf-8"))["cases"]:
        if case.get("expect_any"):
            continue
        turns = tuple(case["turns"])
        style = case.get("style") or case.get("shape")
        english = style == "english" or bool(case.get("english"))
        english = english or (style != "pinyin" and not any(CJK.search(t) for t in turns))
        wording = Wording(case["id"], turns, "en" if english else "zh")
        expect = tuple(case["expect"])
        grouped.setdefault(expect, []).append(wording)
        if len(turns) == 1 and style != "followup":
            openers.setdefault(expect, []).append(wording)
    return [Goal(e, tuple(openers[e]), tuple(w)) for e, w in grouped.items() if e in openers]


@dataclass
class Reply:
    text: str
    buttons: List[str]  # the payloads of the reply's buttons

    def shows(self, markers: Sequence[str]) -> bool:
        return any(marker.lower() in self.text.lower() for marker in markers)


@dataclass
class Simulation:
    day: date
    users: int
    seed: int
    rasa_url: str = ""
    console_url: str = ""
    agent_headers: List[Dict[str, str]] = field(default_factory=list)  # each agent's session
    clock_file: Path = SIMULATION_DIR / "clock"
    goals_source: Path = GOALS_SOURCE  # the held-out set the needs and their wordings come from
    rng: random.Random = field(init=False)
    events: List[Tuple[datetime, int, str, str, int]] = field(default_factory=list)  # …, agent
    waiting: List[str] = field(default_factory=list)
    agents_free_at: List[datetime] = field(default_factory=list)
    stats: Dict[str, int] = field(default_factory=dict)
    records: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.goals = load_goals(self.goals_source)
        self.off_topic = out_of_scope_questions()
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=SERVICE_TIMEZONE)
        self.agents_free_at = [start] * AGENTS

    # -- the clock and the two ways in: the user's REST channel and the agents' console
    def set_clock(self, moment: datetime) -> None:
        self.clock_file.write_text(moment.isoformat(), encoding="utf-8")

    def say(self, sender: str, text: str, moment: datetime) -> Reply:
        self.set_clock(moment)
        self.stats["messages"] = self.stats.get("messages", 0) + 1
        reply = requests.post(
            self.rasa_url,
            json={"sender": sender, "message": text, "metadata": {"sim_now": moment.isoformat()}},
            timeout=60,
        )
        reply.raise_for_status()
        messages = reply.json()
        return Reply(
            "\n".join(m.get("text", "") for m in messages),
            [b.get("payload", "") for m in messages for b in m.get("buttons") or []],
        )

    def console(self, conversation: str, command: str, moment: datetime, agent: int) -> None:
        self.set_clock(moment)
        requests.post(
            f"{self.console_url}/conversations/{conversation}/{command}",
            json={"text": AGENT_REPLY} if command == "reply" else {},
            headers=self.agent_headers[agent],
            timeout=30,
        ).raise_for_status()

    # -- the day
    def arrivals(self) -> List[datetime]:
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=SERVICE_TIMEZONE)
        hours = self.rng.choices(range(24), weights=HOURLY_ARRIVALS, k=self.users)
        return sorted(start + timedelta(hours=h, seconds=self.rng.randrange(3600)) for h in hours)

    def play_user(self, index: int, moment: datetime) -> None:
        sender = f"sim-{self.day:%Y%m%d}-{index:05d}"
        behaviour = self.rng.choices([b for b, _ in BEHAVIOURS], weights=[w for _, w in BEHAVIOURS])[0]
        goal = self.rng.choice(self.goals)
        wording = self.rng.choice(goal.first)
        words = SAY[wording.language]
        # What became of the user's need (goals.json): `asked` the held-out cases whose wording the
        # user put to the bot, `by` who met the need ("bot"; "human" once an agent takes the chat;
        # "ticket" when one was left; None), `tries` the attempts made: the question, the
        # rephrasing, the human or ticket (met by the bot: 1 on the first try, 2 on the rephrasing).
        record: Dict[str, Any] = {
            "sender_id": sender, "behaviour": behaviour, "expect": list(goal.expect),
            "language": wording.language, "asked": [], "met": False, "by": None, "tries": 0, "rating": None,
        }  # fmt: skip
        self.records[sender] = record

        def step(text: str) -> Reply:
            nonlocal moment
            moment += timedelta(seconds=self.rng.randint(15, 90))
            return self.say(sender, text, moment)

        def ask(asked: Wording) -> Reply:
            """Puts one wording of the need to the bot: the reply to its last turn is the answer."""
            record["asked"].append(asked.case)
            record["tries"] += 1
            reply = Reply("", [])
            for turn in asked.turns:
                reply = step(turn)
            return reply

        def answered(reply: Reply) -> bool:
            """The need is met: every expected string is in the reply (and the bot kept the chat)."""
            if not goal.met_by(reply.text) or reply.shows(QUEUED):
                return False
            record.update(met=True, by="bot")
            if behaviour != "leaves" and step(self.rng.choice(words["solved"])).shows(RATING_PROMPT):
                score = self.rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
                step(words["rating"].format(score))
                record["rating"] = score
            return True

        def request_human() -> Reply:
            reply = step(words["human"])
            if not reply.shows(QUEUED + NO_AGENT):  # the bot asks what the problem is
                reply = ask(wording) if not record["asked"] else step(wording.turns[0])
            return reply

        def hand_over(reply: Reply) -> None:
            """After a request for a human: wait in the queue, or leave a ticket out of hours (or not)."""
            if reply.shows(QUEUED):
                record["tries"] += 1
                self.waiting.append(sender)
                self.stats["queued"] = self.stats.get("queued", 0) + 1
                self.assign_agents(moment)
            elif reply.shows(NO_AGENT) and self.rng.random() < 0.6:
                by_phone = self.rng.random() < 0.5
                reply = step("/create_ticket")
                if not reply.buttons:  # the form asks what the problem is first
                    record["asked"] = record["asked"] or [wording.case]
                    reply = step(wording.turns[0])
                if len(reply.buttons) > 1:  # how to be contacted: phone call or e-mail
                    step(reply.buttons[0 if by_phone else 1])
                    step("13800138000" if by_phone else f"user{index}@example.org")
                    record.update(by="ticket", tries=record["tries"] + 1)
            elif reply.shows(NO_AGENT):
                step(words["decline"])

        if behaviour == "off_topic":
            record.update(expect=[], language=None)
            step(self.rng.choice(self.off_topic))
        elif behaviour == "human_first":
            hand_over(request_human())
        else:
            reply = ask(wording)
            if answered(reply) or (behaviour == "leaves" and not reply.shows(QUEUED)):
                return
            if not reply.shows(QUEUED) and behaviour != "leaves":
                reply = ask(goal.rephrasing(wording, self.rng))
                if answered(reply):
                    return
            hand_over(reply if reply.shows(QUEUED) else request_human())

    def assign_agents(self, moment: datetime) -> None:
        """Free agents in service hours take the oldest waiting conversation and close it later."""
        while self.waiting:
            agent = min(range(AGENTS), key=lambda a: self.agents_free_at[a])
            start = max(moment, self.agents_free_at[agent])
            if not AGENT_HOURS[0] <= start.hour < AGENT_HOURS[1]:
                return
            conversation = self.waiting.pop(0)
            end = start + timedelta(minutes=self.rng.randint(*HANDLE_MINUTES))
            self.agents_free_at[agent] = end
            heapq.heappush(self.events, (start, 0, "take", conversation, agent))
            first_reply = start + timedelta(seconds=self.rng.randint(*FIRST_REPLY_SECONDS))
            heapq.heappush(self.events, (min(first_reply, end), 0, "reply", conversation, agent))
            heapq.heappush(self.events, (end, 1, "close", conversation, agent))

    def run(self) -> Dict[str, int]:
        for index, moment in enumerate(self.arrivals()):
            heapq.heappush(self.events, (moment, 2, "user", str(index), 0))
        while self.events:
            moment, _, kind, subject, agent = heapq.heappop(self.events)
            if kind == "user":
                self.play_user(int(subject), moment)
            else:
                self.console(subject, kind, moment, agent)
                self.stats[kind] = self.stats.get(kind, 0) + 1
                if kind == "take":  # a person now has the case: the need is met by a human
                    self.records[subject].update(met=True, by="human")
                if kind == "close" and self.rng.random() < HUMAN_RATED_SHARE:  # asked to rate the agent
                    self.rate_human(subject, moment + timedelta(seconds=self.rng.randint(10, 60)))
                self.assign_agents(moment)
        self.stats["users"] = self.users
        outcomes = Counter(goal_outcome(record) for record in self.records.values())
        self.stats.update({f"goal_{name}": count for name, count in outcomes.items()})
        return self.stats

    def rate_human(self, sender: str, moment: datetime) -> None:
        record = self.records[sender]
        score = self.rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
        self.say(sender, SAY[record["language"] or "zh"]["rating"].format(score), moment)
        record["human_rating"] = score
        self.stats["rated_human"] = self.stats.get("rated_human", 0) + 1

    def goals_document(self) -> Dict[str, Any]:
        return {
            "source": display_path(self.goals_source),
            "date": self.day.isoformat(),
            "seed": self.seed,
            "users": [self.records[sender] for sender in sorted(self.records)],
        }


def display_path(path: Path) -> str:
    """A path inside the project relative to it, any other as it is."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def log_in_agents(database_url: str, console_url: str) -> List[Dict[str, str]]:
    """Creates the day's agents with the project's command and logs them in: their session headers."""
    headers = []
    for number in range(1, AGENTS + 1):
        username, password = f"agent{number}", secrets.token_urlsafe(12)
        add_agent(database_url, username, f"坐席{number}号", password)
        headers.append(agent_headers(console_url, username, password))
    return headers


def start_servers(workdir: Path, clock_file: Path, token: str) -> Tuple[object, object, int]:
    action_port, rasa_port = free_port(), free_port()
    env = {
        "CS_SIM_CLOCK_FILE": str(clock_file),
        "CS_DATABASE_URL": f"sqlite:///{workdir / 'service.db'}",
        "CS_AGENT_TOKEN": token,
    }
    actions = action_server(action_port, workdir / "actions.log", env).start()
    endpoints = write_endpoints(workdir / "endpoints.yml", action_port, workdir / "tracker.db")
    rasa = rasa_server(MODEL, rasa_port, endpoints, workdir / "rasa.log", env).start()
    return actions, rasa, rasa_port


def simulate(
    workdir: Path, day: date, users: int, seed: int, goals_source: Path = GOALS_SOURCE
) -> Dict[str, int]:
    """Plays the day into fresh stores under `workdir` and returns counts of what happened."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    token = secrets.token_urlsafe(12)
    simulation = Simulation(
        day=day, users=users, seed=seed, clock_file=workdir / "clock", goals_source=goals_source
    )
    simulation.set_clock(datetime(day.year, day.month, day.day, tzinfo=SERVICE_TIMEZONE))
    actions, rasa, port = start_servers(workdir, simulation.clock_file, token)
    simulation.rasa_url = f"http://localhost:{port}/webhooks/rest/webhook"
    simulation.console_url = f"http://localhost:{port}/webhooks/agent_console"
    simulation.agent_headers = log_in_agents(f"sqlite:///{workdir / 'service.db'}", simulation.console_url)
    try:
        stats = simulation.run()
    finally:
        rasa.stop()
        actions.stop()
    (workdir / GOALS_FILE).write_text(
        json.dumps(simulation.goals_document(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return stats


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--out", type=Path, default=SIMULATION_DIR)
    parser.add_argument(
        "--goals", type=Path, default=REAL_STYLE_GOALS,
        help=f"the held-out set the users' needs come from (or {display_path(GOALS_SOURCE)})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    stats = simulate(args.out, args.date, args.users, args.seed, args.goals)
    print("Simulated day", args.date, "→", ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    asked = sum(v for k, v in stats.items() if k.startswith("goal_") and k != "goal_no_question")
    by_bot = stats.get("goal_bot_first_try", 0) + stats.get("goal_bot_rephrase", 0)
    if asked:
        print(f"Needs met by the bot: {by_bot} of {asked} users who asked ({by_bot / asked:.0%}).")
    print(f"Stores in {args.out}; now run `make report`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
