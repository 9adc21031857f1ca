"""Time on screen in the web chat: from the user's Enter to the bubble that holds the fact asked, and to
the last bubble of the reply, in headless Chromium against the real servers (`make bench` runs it last).

The page as served (web/static/chat.js: each bubble shown when it arrives) is measured beside the
baseline: the same page with rasa-webchat's default delay before each bubble (30 ms a character, at least
0.8 s and at most 3 s), the delay the page had before. After a warm-up through the REST channel, each
question is asked in `rounds` new conversations per variant, interleaved; the figures are medians. A
reply counts as whole when no bubble has come for 3.5 s (longer than the baseline's longest delay).
Targets: the fact within 1 s, the whole reply within 1.5 s. Writes results/widget_latency.json.

    .venv/bin/python -m bench.widget_latency [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.servers import (  # noqa: E402
    ROOT,
    action_server,
    free_port,
    rasa_server,
    web_server,
    write_endpoints,
)

MODEL = ROOT / "models" / "douyin-cs.tar.gz"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SIM_NOW = "2026-11-25T10:00:00+08:00"
QUESTIONS: List[Tuple[str, str]] = [  # (what the user types, the fact the reply must show)
    ("客服电话多少", "400-992-2556"),
    ("我的号被封了怎么申诉", "www.douyin.com"),
    ("客服邮箱是多少", "feedback@douyin.com"),
    ("人工客服几点下班", "9:00-21:00"),
]
LOCAL = ("http://127.0.0.1:", "ws://127.0.0.1:")
IDLE_MS = 3500
FACT_TARGET_MS, WHOLE_TARGET_MS = 1000, 1500
DELAY_PROP = "customMessageDelay: () => 0,"  # removed from chat.js for the baseline

# Recorded in the page: when Enter is pressed in the widget's input, when each bot bubble shows text.
RECORDER = """
window.__latency = { enter: [], bubbles: [] };
const seen = new WeakSet();
window.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.classList && event.target.classList.contains("rw-new-message")) {
    window.__latency.enter.push(performance.now());
  }
}, true);
new MutationObserver(() => {
  for (const bubble of document.querySelectorAll(".rw-response")) {
    if (seen.has(bubble) || !bubble.textContent.trim()) continue;
    seen.add(bubble);
    window.__latency.bubbles.push({ at: performance.now(), text: bubble.textContent });
  }
}).observe(document, { childList: true, subtree: true, characterData: true });
"""


def start_servers(workdir: Path, model: Path) -> List:
    action_port, rasa_port, web_port = free_port(), free_port(), free_port()
    env = {
        "CS_SIM_NOW": SIM_NOW,
        "CS_DATABASE_URL": f"sqlite:///{workdir / 'service.db'}",
        "CS_WEB_ORIGIN": f"http://127.0.0.1:{web_port}",  # the page's origin, the one Rasa answers (CORS)
    }
    endpoints = write_endpoints(workdir / "endpoints.yml", action_port, workdir / "tracker.db")
    servers = []
    try:
        servers.append(action_server(action_port, workdir / "actions.log", env).start())
        servers.append(rasa_server(model, rasa_port, endpoints, workdir / "rasa.log", env).start())
        web_env = {**env, "CS_EVIDENCE_DIR": str(workdir / "evidence")}
        servers.append(web_server(web_port, rasa_port, workdir / "web.log", web_env).start(60))
    except Exception:
        for server in servers:
            server.stop()
        raise
    for question, _ in QUESTIONS:  # warm: the first message of a fresh server is slower than any other
        message = {"sender": "warm-up", "message": question}
        requests.post(f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook", json=message, timeout=60)
    return servers + [f"http://127.0.0.1:{web_port}"]


def wait_idle(page, since: int, timeout_s: float = 30) -> None:
    """Until a bubble after `since` has come and none for IDLE_MS."""
    deadline = time.monotonic() + timeout_s
    last_count, last_change = since, time.monotonic()
    while time.monotonic() < deadline:
        count = page.evaluate("() => window.__latency.bubbles.length")
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif count > since and (time.monotonic() - last_change) * 1000 >= IDLE_MS:
            return
        page.wait_for_timeout(100)
    raise TimeoutError("the reply did not come")


def conversation(browser, url: str, baseline: bool) -> Dict[str, Dict[str, float]]:
    """One new conversation: each question once; {question: {fact_ms, whole_ms}}."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    # Nothing from outside this machine (the widget's stylesheet asks for a web font).
    context.route(lambda address: not address.startswith(LOCAL), lambda route: route.abort())
    if baseline:

        def default_delay(route):
            response = route.fetch()
            script = response.text()
            assert DELAY_PROP in script, "chat.js no longer sets customMessageDelay"
            route.fulfill(response=response, body=script.replace(DELAY_PROP, ""))

        context.route("**/static/chat.js", default_delay)
    context.add_init_script(RECORDER)
    page = context.new_page()
    try:
        page.goto(url + "/")
        page.locator(".rw-launcher").click()
        wait_idle(page, 0)  # the greeting
        figures = {}
        for question, fact in QUESTIONS:
            since = page.evaluate("() => window.__latency.bubbles.length")
            page.locator(".rw-new-message").fill(question)
            page.locator(".rw-new-message").press("Enter")
            wait_idle(page, since)
            log = page.evaluate("() => window.__latency")
            enter, bubbles = log["enter"][-1], log["bubbles"][since:]
            with_fact = [b["at"] for b in bubbles if fact in b["text"]]
            if not with_fact:
                raise AssertionError(f"{question!r}: no bubble shows {fact!r}: {bubbles}")
            figures[question] = {
                "fact_ms": round(with_fact[0] - enter),
                "whole_ms": round(bubbles[-1]["at"] - enter),
                "bubbles": len(bubbles),
            }
        return figures
    finally:
        context.close()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {cpu}, load {load:.1f} at the start"


def measure_widget(rounds: int = 3, model: Path = MODEL) -> Dict:
    """The figures of both variants (medians over `rounds` conversations) and whether the targets hold."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="widget-latency-") as tmp:
        note = machine()
        *servers, url = start_servers(Path(tmp), model)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                runs: Dict[str, List[Dict]] = {"served": [], "baseline": []}
                for _ in range(rounds):  # interleaved: a busy moment of the machine falls on both
                    for variant in runs:
                        runs[variant].append(conversation(browser, url, baseline=variant == "baseline"))
                browser.close()
        finally:
            for server in reversed(servers):
                server.stop()
    results: Dict = {"machine": note, "rounds": rounds, "questions": {}}
    for question, _ in QUESTIONS:
        results["questions"][question] = {
            variant: {
                key: statistics.median(run[question][key] for run in variant_runs)
                for key in ("fact_ms", "whole_ms")
            }
            for variant, variant_runs in runs.items()
        }
    served = [figures["served"] for figures in results["questions"].values()]
    results["served_max_fact_ms"] = max(f["fact_ms"] for f in served)
    results["served_max_whole_ms"] = max(f["whole_ms"] for f in served)
    results["targets_met"] = (
        results["served_max_fact_ms"] <= FACT_TARGET_MS and results["served_max_whole_ms"] <= WHOLE_TARGET_MS
    )
    return results


def pad(text: str, width: int) -> str:
    """`text` padded to `width` columns, a Chinese character taking two."""
    return text + " " * max(0, width - sum(2 if ord(c) > 0x2E80 else 1 for c in text))


def print_widget(results: Dict) -> None:
    rounds, note = results["rounds"], results["machine"]
    print(f"\nWeb chat, Enter to on screen, median of {rounds} conversations ({note}):")
    print(f"{pad('question', 24)} {'fact: served':>13} {'baseline':>9} {'whole: served':>14} {'baseline':>9}")
    for question, figures in results["questions"].items():
        served, baseline = figures["served"], figures["baseline"]
        print(
            f"{pad(question, 24)} {served['fact_ms']:>10.0f} ms {baseline['fact_ms']:>6.0f} ms"
            f" {served['whole_ms']:>11.0f} ms {baseline['whole_ms']:>6.0f} ms"
        )
    verdict = "ok" if results["targets_met"] else "MISSED"
    print(
        f"  slowest served: fact {results['served_max_fact_ms']:.0f} ms (target <= {FACT_TARGET_MS}), "
        f"whole reply {results['served_max_whole_ms']:.0f} ms (target <= {WHOLE_TARGET_MS}): {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="conversations per variant")
    args = parser.parse_args()
    results = measure_widget(args.rounds)
    out = ROOT / "results" / "widget_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print_widget(results)
    return 0 if results["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
