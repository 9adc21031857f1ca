"""`make simulate`: plays a simulated day of synthetic users through the running bot.

Starts its own action server and Rasa server on free ports, with the stores in var/simulation/
(emptied first) and the simulated clock in a file that both servers read (CS_SIM_CLOCK_FILE). Users
arrive over the day (more at lunch and in the evening), ask about a mix of topics in every writing
style of tests/nlu_holdout.yml, and then are satisfied and rate the answer, are not satisfied and ask
for a human, ask for a human at once, leave, or stray out of scope. Agents (9:00-21:00) take queued
conversations through the agent console's API and close them a few minutes later. Seeded: the same
seed plays the same day. `make report` then reads var/simulation/.
"""

from __future__ import annotations

import argparse
import heapq
import random
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions import knowledge  # noqa: E402
from actions.clock import SERVICE_TIMEZONE  # noqa: E402
from scripts.servers import ROOT, action_server, free_port, rasa_server, write_endpoints  # noqa: E402

SIMULATION_DIR = ROOT / "var" / "simulation"
MODEL = ROOT / "models" / "douyin-cs.tar.gz"
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
    ("satisfied", 0.55),
    ("unsatisfied", 0.18),
    ("human_first", 0.1),
    ("leaves", 0.12),
    ("off_topic", 0.05),
]
# How often each topic comes up relative to the others (1 when not listed).
TOPIC_WEIGHTS = {
    "account_ban": 8, "throttling": 7, "recharge_refund": 6, "contact_general": 5, "phone_hotline": 4,
    "report_content": 4, "account_stolen": 3, "app_bug": 3, "creator_earnings": 3,
}  # fmt: skip
AGENTS = 3
HANDLE_MINUTES = (4, 9)
AGENT_HOURS = (9, 21)


def holdout_questions() -> Dict[str, List[str]]:
    items = yaml.safe_load((ROOT / "tests" / "nlu_holdout.yml").read_text("utf-8"))["nlu"]
    return {
        item["intent"]: [line[2:].strip() for line in item["examples"].splitlines() if line.strip()]
        for item in items
    }


@dataclass
class Simulation:
    day: date
    users: int
    seed: int
    rasa_url: str = ""
    console_url: str = ""
    token: str = ""
    clock_file: Path = SIMULATION_DIR / "clock"
    rng: random.Random = field(init=False)
    events: List[Tuple[datetime, int, str, str]] = field(default_factory=list)
    waiting: List[str] = field(default_factory=list)
    agents_free_at: List[datetime] = field(default_factory=list)
    stats: Dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.questions = holdout_questions()
        self.topics = sorted(knowledge.topics())
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=SERVICE_TIMEZONE)
        self.agents_free_at = [start] * AGENTS

    # -- the clock and the two ways in: the user's REST channel and the agents' console
    def set_clock(self, moment: datetime) -> None:
        self.clock_file.write_text(moment.isoformat(), encoding="utf-8")

    def say(self, sender: str, text: str, moment: datetime) -> str:
        self.set_clock(moment)
        self.stats["messages"] = self.stats.get("messages", 0) + 1
        reply = requests.post(
            self.rasa_url,
            json={"sender": sender, "message": text, "metadata": {"sim_now": moment.isoformat()}},
            timeout=60,
        )
        reply.raise_for_status()
        return "\n".join(m.get("text", "") for m in reply.json())

    def console(self, conversation: str, command: str, moment: datetime) -> None:
        self.set_clock(moment)
        requests.post(
            f"{self.console_url}/conversations/{conversation}/{command}",
            json={"agent": f"坐席{self.rng.randint(1, AGENTS)}号"},
            headers={"Authorization": f"Bearer {self.token}"},
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
        weights = [TOPIC_WEIGHTS.get(t, 1) for t in self.topics]
        topic = self.rng.choices(self.topics, weights=weights)[0]
        question = self.rng.choice(self.questions[topic])

        def step(text: str) -> str:
            nonlocal moment
            moment += timedelta(seconds=self.rng.randint(15, 90))
            return self.say(sender, text, moment)

        if behaviour == "off_topic":
            step(self.rng.choice(self.questions["out_of_scope"]))
            return
        if behaviour == "human_first":
            step(self.rng.choice(["转人工", "人工！人工！", "找真人", "real person please"]))
        reply = step(question)
        if behaviour == "satisfied":
            step(self.rng.choice(["好了谢谢", "解决了", "已解决", "明白了"]))
            step(f"{self.rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 15, 6, 4])[0]}分")
        elif behaviour == "unsatisfied":
            step("没用")
            step("还是不行")
            reply = step("转人工")
        if "排在第" in reply:
            self.waiting.append(sender)
            self.stats["queued"] = self.stats.get("queued", 0) + 1
            self.assign_agents(moment)
        elif "提交工单" in reply or "恢复" in reply:
            if self.rng.random() < 0.6:
                by_phone = self.rng.random() < 0.5
                step("/create_ticket")
                step("电话回访" if by_phone else "邮件回复")
                step("13800138000" if by_phone else f"user{index}@example.org")
            else:
                step("不用了")

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
            heapq.heappush(self.events, (start, 0, "take", conversation))
            heapq.heappush(self.events, (end, 1, "close", conversation))

    def run(self) -> Dict[str, int]:
        for index, moment in enumerate(self.arrivals()):
            heapq.heappush(self.events, (moment, 2, "user", str(index)))
        while self.events:
            moment, _, kind, subject = heapq.heappop(self.events)
            if kind == "user":
                self.play_user(int(subject), moment)
            else:
                self.console(subject, kind, moment)
                self.stats[kind] = self.stats.get(kind, 0) + 1
                self.assign_agents(moment)
        self.stats["users"] = self.users
        return self.stats


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


def simulate(workdir: Path, day: date, users: int, seed: int) -> Dict[str, int]:
    """Plays the day into fresh stores under `workdir` and returns counts of what happened."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    token = secrets.token_urlsafe(12)
    simulation = Simulation(day=day, users=users, seed=seed, token=token, clock_file=workdir / "clock")
    simulation.set_clock(datetime(day.year, day.month, day.day, tzinfo=SERVICE_TIMEZONE))
    actions, rasa, port = start_servers(workdir, simulation.clock_file, token)
    simulation.rasa_url = f"http://localhost:{port}/webhooks/rest/webhook"
    simulation.console_url = f"http://localhost:{port}/webhooks/agent_console"
    try:
        return simulation.run()
    finally:
        rasa.stop()
        actions.stop()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--out", type=Path, default=SIMULATION_DIR)
    args = parser.parse_args(argv)
    stats = simulate(args.out, args.date, args.users, args.seed)
    print("Simulated day", args.date, "→", ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    print(f"Stores in {args.out}; now run `make report`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
