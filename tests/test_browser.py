"""The web chat widget and the agent console in a real headless Chromium, against the real servers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.bot import AGENT_PASSWORD, RunningBot
from tests.conftest import ROOT

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "results" / "screenshots"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (make install adds it)"
    ),
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    running = RunningBot(tmp_path_factory.mktemp("web")).start("2026-11-25T10:00:00+08:00", web=True)
    running.add_agent("xiaodou", "小抖")
    running.add_agent("dali", "大力")
    running.add_agent("lin", "林主管", role="supervisor")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(bot: RunningBot):
    """Chromium, closed before the servers stop (an open console's live stream would hold the Rasa
    server's shutdown for its grace period)."""
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield chromium
        chromium.close()


def open_widget(browser, bot: RunningBot):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(bot.web_url + "/")
    page.locator(".rw-launcher").click()
    expect(page.locator(".rw-messages-container")).to_contain_text("模拟器", timeout=20_000)
    return page


def say(page, text: str) -> None:
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-new-message").press("Enter")


def chat(page):
    return page.locator(".rw-messages-container")


def login_agent(browser, bot: RunningBot, username: str, password: str = AGENT_PASSWORD, ok: bool = True):
    """An agent's own browser (context): the log-in form, then the console."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(bot.web_url + "/agent")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#login button").click()
    if ok:
        expect(page.locator("#whoami")).to_be_visible(timeout=15_000)
    return page


def session_of(page) -> dict:
    """The headers of the agent's session, as the page holds it."""
    return {"Authorization": "Bearer " + page.evaluate("sessionStorage.getItem('agentToken')")}


def database(bot: RunningBot):
    return create_engine(bot.database_url, future=True).connect()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_user_meets_bot_then_agent_then_bot_again(browser, bot: RunningBot) -> None:
    user = open_widget(browser, bot)
    say(user, "抖音的客服电话是多少")
    expect(chat(user)).to_contain_text("400-992-2556", timeout=15_000)
    say(user, "转人工")  # the topic is known (the phone lines): straight into the queue
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)
    shot(user, "widget_queued")

    agent = login_agent(browser, bot, "xiaodou")
    entry = agent.locator(".queue-item").filter(has_text="抖音的客服电话是多少")
    expect(entry).to_contain_text("等待中", timeout=15_000)
    entry.first.click()
    expect(agent.locator("#transcript")).to_contain_text("转人工", timeout=10_000)
    agent.locator("#take").click()
    expect(chat(user)).to_contain_text("人工客服小抖已接入", timeout=15_000)

    agent.locator("#reply-text").fill("您好，我是人工客服，请提供您的抖音号")
    agent.locator("#send").click()
    expect(chat(user)).to_contain_text("请提供您的抖音号", timeout=15_000)
    bot_messages = user.locator(".rw-response").count()
    say(user, "抖音号是 test_user_01")
    expect(agent.locator("#transcript")).to_contain_text("test_user_01", timeout=10_000)
    user.wait_for_timeout(1500)
    assert user.locator(".rw-response").count() == bot_messages, "the bot answered a paused conversation"
    shot(agent, "agent_console")

    agent.locator("#reply-text").fill("已指导用户在官网提交申诉")
    agent.locator("#close-ticket").check()
    agent.locator("#close").click()
    expect(chat(user)).to_contain_text("智能客服继续为您服务", timeout=15_000)
    expect(chat(user)).to_contain_text("请为人工客服小抖本次的服务打分", timeout=15_000)
    number = re.search(r"DY\d{8}-\d{6}", chat(user).inner_text()).group(0)
    with create_engine(bot.database_url).connect() as connection:
        status, description, conversation = connection.execute(
            text("SELECT status, description, conversation_id FROM tickets WHERE number = :n"), {"n": number}
        ).one()
        recorded = connection.execute(
            text("SELECT agent, action, text FROM agent_actions WHERE conversation_id = :c ORDER BY id"),
            {"c": conversation},
        ).fetchall()
    assert (status, description) == ("closed", "已指导用户在官网提交申诉")
    assert [tuple(row) for row in recorded] == [
        ("xiaodou", "take", ""),
        ("xiaodou", "reply", "您好，我是人工客服，请提供您的抖音号"),
        ("xiaodou", "close", "已指导用户在官网提交申诉"),
    ]
    say(user, "客服邮箱是多少")
    expect(chat(user)).to_contain_text("feedback@douyin.com", timeout=15_000)
    expect(user.locator('a[href="mailto:feedback@douyin.com"]').first).to_be_visible()
    shot(user, "widget_after_agent")


def test_two_agents_share_the_queue_hand_over_and_the_user_rates_the_agent(browser, bot: RunningBot) -> None:
    first, second = login_agent(browser, bot, "xiaodou"), login_agent(browser, bot, "dali")
    user = open_widget(browser, bot)
    say(user, "我的账号被封了怎么申诉")
    expect(chat(user)).to_contain_text("申诉", timeout=15_000)
    say(user, "没用，转人工")
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)

    # Live: the new conversation reaches both consoles without a reload, with a notice.
    entry = "账号被封了怎么申诉"
    for page in (first, second):
        expect(page.locator(".queue-item").filter(has_text=entry)).to_contain_text("等待中", timeout=10_000)
        expect(page.locator("#badge")).to_be_visible()
    first.locator(".queue-item").filter(has_text=entry).first.click()
    second.locator(".queue-item").filter(has_text=entry).first.click()
    context = first.locator("#context")
    expect(context).to_contain_text("我的账号被封了怎么申诉")  # the user's first words
    expect(context).to_contain_text("账号")  # the topic
    expect(context).to_contain_text("中文")
    assert "申诉" in context.locator("dd").nth(3).inner_text()  # the bot's answer that did not help

    first.locator("#take").click()
    expect(chat(user)).to_contain_text("人工客服小抖已接入", timeout=15_000)
    # Taken: the colleague no longer reads it (least privilege), and is told who has it.
    expect(second.locator("#owner")).to_contain_text("已由小抖接入，您无权查看", timeout=10_000)
    expect(second.locator("#transcript")).to_be_empty()
    expect(second.locator("#take")).to_be_disabled()
    expect(second.locator("#send")).to_be_disabled()
    conversation = bot_conversation(bot, entry)
    refused = requests.post(
        f"{bot.console_url}/conversations/{conversation}/reply",
        json={"text": "抢答"},
        headers=session_of(second),
    )
    assert refused.status_code == 403 and "小抖" in refused.json()["error"]
    taken = requests.post(f"{bot.console_url}/conversations/{conversation}/take", headers=session_of(second))
    assert taken.status_code == 409

    first.locator("#note-text").fill("用户很着急，已核实是本人")
    first.locator("#note-form button").click()
    expect(first.locator("#notes")).to_contain_text("用户很着急，已核实是本人", timeout=10_000)
    shot(first, "agent_console_context_panel")

    first.locator("#transfer-to").select_option("dali")
    first.locator("#transfer").click()
    expect(chat(user)).to_contain_text("已转交人工客服大力", timeout=15_000)
    expect(second.locator("#owner")).to_contain_text("您正在处理", timeout=10_000)  # live, now theirs
    expect(second.locator("#notes")).to_contain_text("小抖")  # the colleague's note comes with it
    expect(second.locator("#notes")).to_contain_text("用户很着急，已核实是本人")
    expect(first.locator("#send")).to_be_disabled()

    second.locator("#canned-channel").select_option("hotline")
    second.locator('#canned-facts button[data-aspect="contact"]').click()
    assert "400-992-2556" in second.locator("#reply-text").input_value()  # inserted, not typed
    second.locator("#send").click()
    expect(chat(user)).to_contain_text("人工客服大力：普通热线（内地）：400-992-2556", timeout=15_000)
    shot(second, "agent_console_handed_over")

    second.locator("#close").click()
    expect(chat(user)).to_contain_text("请为人工客服大力本次的服务打分", timeout=15_000)
    assert "用户很着急" not in chat(user).inner_text()  # the note never reaches the user
    user.locator(".rw-reply", has_text="4分").last.click()
    expect(chat(user)).to_contain_text("评分已记入", timeout=15_000)  # stored before it is said
    shot(user, "widget_rated_agent")
    with database(bot) as connection:
        rows = connection.execute(
            text("SELECT agent, score FROM agent_ratings WHERE conversation_id = :c"), {"c": conversation}
        ).fetchall()
        actions = connection.execute(
            text("SELECT agent, action, text FROM agent_actions WHERE conversation_id = :c ORDER BY id"),
            {"c": conversation},
        ).fetchall()
    assert [tuple(row) for row in rows] == [("dali", 4)]
    assert [tuple(row)[:2] for row in actions] == [
        ("xiaodou", "take"),
        ("xiaodou", "transfer"),
        ("dali", "reply"),
        ("dali", "close"),
    ]
    assert "400-992-2556" in actions[2][2]


def bot_conversation(bot: RunningBot, words: str) -> str:
    """The conversation id of the queue entry whose description holds `words`."""
    with database(bot) as connection:
        return connection.execute(
            text("SELECT conversation_id FROM handoff_queue WHERE description LIKE :w ORDER BY id DESC"),
            {"w": f"%{words}%"},
        ).scalar()


def test_conversation_survives_a_reload(browser, bot: RunningBot) -> None:
    user = open_widget(browser, bot)
    say(user, "作品被限流了怎么办")
    expect(chat(user)).to_contain_text("作品限流", timeout=15_000)
    user.reload()
    user.locator(".rw-launcher").wait_for()  # the widget is back; open it if it came back closed
    if not user.locator(".rw-messages-container").is_visible():
        user.locator(".rw-launcher").click()
    expect(chat(user)).to_contain_text("作品限流", timeout=15_000)
    say(user, "没用")
    expect(chat(user)).to_contain_text("紧急求助", timeout=15_000)  # the throttling next step


def test_html_typed_by_a_user_is_shown_as_text_everywhere(browser, bot: RunningBot) -> None:
    user = open_widget(browser, bot)
    say(user, "转人工")
    expect(chat(user)).to_contain_text("描述", timeout=15_000)
    say(user, "账号被封了 " + XSS)
    expect(chat(user)).to_contain_text("<img src=x", timeout=15_000)
    assert user.evaluate("window.__xss") is None

    agent = login_agent(browser, bot, "dali")
    expect(agent.locator("#queue")).to_contain_text("<img src=x", timeout=15_000)
    agent.locator(".queue-item").filter(has_text="<img src=x").first.click()
    expect(agent.locator("#transcript")).to_contain_text("<script>", timeout=10_000)
    assert agent.evaluate("window.__xss") is None
    shot(user, "widget_html_as_text")


def test_no_session_no_access_and_nothing_changes(browser, bot: RunningBot) -> None:
    user = open_widget(browser, bot)
    say(user, "我的作品被限流了")
    say(user, "转人工")
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)
    with database(bot) as connection:
        before = connection.execute(
            text("SELECT id, status, agent FROM handoff_queue ORDER BY id")
        ).fetchall()
        conversation = connection.execute(
            text("SELECT conversation_id FROM handoff_queue WHERE description LIKE '%限流%' ORDER BY id DESC")
        ).scalar()

    agent = login_agent(browser, bot, "xiaodou", "not-the-password", ok=False)
    expect(agent.locator("#status")).to_contain_text("用户名或密码错误", timeout=10_000)
    expect(agent.locator("#queue-pane")).to_be_hidden()
    shot(agent, "agent_console_wrong_password")

    api = bot.console_url
    attempts = [
        {},  # no session at all
        {"Authorization": "Bearer made-up-token"},
        {"Authorization": f"Bearer {bot.agent_token}"},  # the API token is no agent's session
    ]
    for headers in attempts:
        assert requests.get(f"{api}/queue", headers=headers, timeout=10).status_code == 401
        for command in ("take", "reply", "close", "notes"):
            answer = requests.post(
                f"{api}/conversations/{conversation}/{command}", json={"text": "hi"}, headers=headers
            )
            assert answer.status_code == 401, (command, headers)

    # An expired session: refused, and the page asks to log in again.
    agent = login_agent(browser, bot, "xiaodou")
    headers = session_of(agent)
    with database(bot) as connection:
        connection.execute(text("UPDATE agent_sessions SET expires_at = '2000-01-01 00:00:00'"))
        connection.commit()
    assert requests.post(f"{api}/conversations/{conversation}/take", headers=headers).status_code == 401
    agent.evaluate("refreshQueue().catch(() => {})")  # the console's next call (or its live stream)
    expect(agent.locator("#login")).to_be_visible(timeout=10_000)
    expect(agent.locator("#status")).to_contain_text("登录已过期", timeout=10_000)
    with database(bot) as connection:
        after = connection.execute(text("SELECT id, status, agent FROM handoff_queue ORDER BY id")).fetchall()
        notes = connection.execute(
            text("SELECT count(*) FROM agent_notes WHERE conversation_id = :c"), {"c": conversation}
        ).scalar()
    assert after == before and notes == 0
    assert not [t for t in chat(user).all_inner_texts() if "人工客服" in t and "已接入" in t]


WIDGET_CORPUS = [
    "ten thousand characters",
    "emoji only",
    "control characters",
    "mixed scripts",
    "sql",
    "html",
]


def test_bad_input_through_the_widget_gets_a_reply(browser, bot: RunningBot) -> None:
    import yaml

    corpus = yaml.safe_load((ROOT / "tests" / "data" / "bad_inputs.yml").read_text("utf-8"))["messages"]
    entries = [e for e in corpus if e["name"] in WIDGET_CORPUS]
    assert len(entries) == len(WIDGET_CORPUS)
    user = open_widget(browser, bot)
    for entry in entries:
        replies = user.locator(".rw-response").count()
        say(user, entry["text"] * entry.get("repeat", 1))
        expect(user.locator(".rw-response")).not_to_have_count(replies, timeout=15_000)
    assert user.evaluate("window.__xss") is None
    shot(user, "widget_bad_input")


def evidence_files(directory: Path) -> list:
    """A PNG (with a GPS position in its EXIF) and, with ffmpeg, a one-second MP4, made here."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}
    picture = directory / "封号提示.png"
    Image.new("RGB", (320, 200), (254, 44, 85)).save(picture, "PNG", exif=exif.tobytes())
    files = [picture]
    if shutil.which("ffmpeg"):
        video = directory / "申诉录屏.mp4"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
             "-i", "testsrc=size=320x240:rate=10:duration=1", "-pix_fmt", "yuv420p", str(video)],
            check=True, timeout=60,
        )  # fmt: skip
        files.append(video)
    return files


def test_evidence_from_the_widget_to_the_agent_console(browser, bot: RunningBot, tmp_path: Path) -> None:
    user = open_widget(browser, bot)
    say(user, "我的号被封了，想申诉")
    expect(chat(user)).to_contain_text("视频举证", timeout=15_000)
    link = user.locator("a.rw-reply", has_text="上传证据")
    expect(link).to_have_attribute(
        "href", re.compile(rf"^{re.escape(bot.web_url)}/evidence/DY\d{{8}}-\d{{6}}\?")
    )
    shot(user, "widget_evidence_offer")
    with user.context.expect_page() as opened:
        link.click()  # opens the upload page in a new tab, as a user would
    upload = opened.value
    expect(upload.locator("#case")).to_contain_text("工单 DY", timeout=10_000)

    files = evidence_files(tmp_path)
    upload.locator("#picker").set_input_files([str(f) for f in files])
    expect(upload.locator("#pending .evidence-item")).to_have_count(len(files))
    upload.locator("#pending .note-input").first.fill("被封时弹出的提示")
    upload.locator("#upload").click()
    for file in files:
        expect(upload.locator("#files")).to_contain_text(file.name, timeout=20_000)
    expect(upload.locator("#status")).to_contain_text("已通知对话", timeout=15_000)
    expect(upload.locator("#pending progress").first).to_have_attribute("value", "100")
    thumbnails = upload.locator("#files img.thumb")
    expect(thumbnails).to_have_count(len(files))  # the picture's and the video's first frame
    assert thumbnails.first.evaluate("image => image.naturalWidth") > 0
    shot(upload, "evidence_upload_page")

    expect(chat(user)).to_contain_text(f"已收到 {len(files)} 个文件", timeout=15_000)
    say(user, "转人工")
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)

    agent = login_agent(browser, bot, "dali")
    agent.locator(".queue-item").filter(has_text="想申诉").first.click()  # the text as normalized
    cards = agent.locator("#evidence .evidence-card")
    expect(cards).to_have_count(len(files), timeout=15_000)
    picture = agent.locator('#evidence .evidence-card[data-kind="image"] img')
    expect(picture).to_have_attribute("src", re.compile("^blob:"))
    assert picture.evaluate("image => image.naturalWidth") > 0
    expect(agent.locator("#evidence")).to_contain_text("被封时弹出的提示")
    if len(files) > 1:
        video = agent.locator('#evidence .evidence-card[data-kind="video"] video')
        expect(video).to_have_count(1)
        agent.locator("#evidence .load-video").click()
        expect(video).to_have_attribute("src", re.compile("^blob:"), timeout=10_000)
        agent.wait_for_function(
            "() => document.querySelector('#evidence video').readyState >= 1", timeout=10_000
        )
        assert video.evaluate("v => v.duration") == pytest.approx(1.0, abs=0.2)
    shot(agent, "agent_console_evidence")

    # Without an agent's session the console's evidence API gives nothing.
    api = f"{bot.web_url}/evidence/api/agent/conversations/x"
    assert requests.get(api, timeout=10).status_code == 401


def test_an_id_with_spaces_and_chinese_is_taken_and_answered_and_only_web_links_are_links(
    browser, bot: RunningBot
) -> None:
    """The widget keeps the session id it is given (here one with a space, Chinese, a slash, "%", "?" and
    "#"); the console takes and answers it; personal data is masked until the agent takes it; a
    `javascript:` link in the agent's reply reaches the widget as text, a web link as a link; the
    supervisor sees who read the conversation."""
    session_id = "访客 张三/100%?#1"
    user = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    user.goto(bot.web_url + "/")
    user.locator(".rw-launcher").wait_for()  # connected: the widget has stored its session
    user.evaluate(
        """id => { const stored = JSON.parse(localStorage.getItem("chat_session"));
                   localStorage.setItem("chat_session", JSON.stringify({...stored, session_id: id})); }""",
        session_id,
    )
    user.reload()  # the widget asks for its stored session, and the server keeps the id it is given
    user.locator(".rw-launcher").click()
    say(user, "转人工")
    expect(chat(user)).to_contain_text("描述", timeout=20_000)
    say(user, "我的直播间被封了，回电13812345678")
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)
    assert bot_conversation(bot, "直播间被封了") == session_id

    agent = login_agent(browser, bot, "xiaodou")
    entry = agent.locator(".queue-item").filter(has_text="直播间被封了")
    expect(entry).to_contain_text("138****5678", timeout=15_000)  # not theirs yet: masked
    entry.first.click()
    expect(agent.locator("#conversation-title")).to_have_text(f"会话 {session_id}")
    expect(agent.locator("#transcript")).to_contain_text("回电138****5678", timeout=10_000)
    expect(agent.locator("#masked")).to_be_visible()
    agent.locator("#take").click()
    expect(chat(user)).to_contain_text("人工客服小抖已接入", timeout=15_000)
    expect(agent.locator("#transcript")).to_contain_text("回电13812345678", timeout=10_000)
    expect(agent.locator("#masked")).to_be_hidden()

    agent.locator("#reply-text").fill(
        "请点[这里](javascript:window.__xss=3)查看，或看[官网](https://www.douyin.com)"
    )
    agent.locator("#send").click()
    expect(chat(user)).to_contain_text("请点[这里](javascript:window.__xss=3)查看", timeout=15_000)
    assert user.locator('a[href^="javascript"]').count() == 0
    expect(user.locator('a[href="https://www.douyin.com"]').last).to_have_text("官网")
    assert user.evaluate("window.__xss") is None
    shot(user, "widget_agent_reply_links")

    # The evidence API takes the id as the console sends it, and follows the same rule.
    evidence = f"{bot.web_url}/evidence/api/agent/conversations/{quote(session_id, safe='')}"
    mine = requests.get(evidence, headers=session_of(agent), timeout=10)
    assert mine.status_code == 200 and mine.json()["conversation_id"] == session_id
    assert requests.get(evidence, headers=bot.agent_headers("dali"), timeout=10).status_code == 403

    supervisor = login_agent(browser, bot, "lin")
    expect(supervisor.locator("#agent-role")).to_have_text("（主管）")
    supervisor.locator("#audit-conversation").fill(session_id)
    supervisor.locator("#audit-form button").click()
    rows = supervisor.locator("#audit tbody tr")
    expect(rows.filter(has_text="已查看（原文）").first).to_contain_text("xiaodou", timeout=10_000)
    expect(rows.filter(has_text="已查看（已隐藏个人信息）").first).to_contain_text(session_id)
    shot(supervisor, "agent_console_audit")
    assert not agent.locator("#audit-pane").is_visible()  # an agent has no such section

    agent.locator("#close").click()
    expect(chat(user)).to_contain_text("请为人工客服小抖本次的服务打分", timeout=15_000)
    for page in (user, agent, supervisor):
        page.context.close()  # their live streams end now, not when the server stops


# --- A chat everyone can use: WCAG 2.1 AA, 长辈模式, voice input, the keyboard, replies in order -------

AXE = ROOT / "web" / "vendor" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SPEECH_SPY = """
window.__spoken = [];
if (window.speechSynthesis) {
  window.speechSynthesis.speak = (said) => window.__spoken.push({ text: said.text, lang: said.lang });
}
"""
FAKE_RECOGNITION = """
window.__recognitions = [];
class FakeRecognition {
  constructor() { window.__recognitions.push(this); }
  start() {
    setTimeout(() => {
      this.onresult({ results: [[{ transcript: "客服电话多少", confidence: 0.92 }]] });
      this.onend();
    }, 50);
  }
  stop() { this.onend(); }
}
window.SpeechRecognition = FakeRecognition;
window.webkitSpeechRecognition = FakeRecognition;
"""
NO_RECOGNITION = "delete window.SpeechRecognition; delete window.webkitSpeechRecognition;"


def axe_violations(page) -> list:
    """axe-core's WCAG 2.1 A and AA rules on the page as it is now, once its opening animations are over
    (a widget fading in is half transparent: its colours are not the page's)."""
    page.wait_for_function(
        """() => document.getAnimations().every(
               a => a.playState !== "running" || a.effect.getTiming().iterations === Infinity)"""
    )
    page.add_script_tag(path=str(AXE))
    return page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)[
        "violations"
    ]


def described(violations: list) -> str:
    return "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']}\n"
        + "\n".join(f"    {node['target']}: {node['failureSummary']}" for node in v["nodes"][:5])
        for v in violations
    )


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two computed colours ("rgb(r, g, b)")."""

    def luminance(color: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", color)[:3]]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def visible_choices(page) -> list:
    """The titles of the buttons shown under each of the bot's replies (a group of its messages)."""
    return page.locator(".rw-group-message.rw-from-response").evaluate_all(
        "groups => groups.map(g => [...g.querySelectorAll('.rw-reply')]"
        ".filter(b => b.offsetParent !== null).map(b => b.textContent))"
    )


def tab_to(page, is_target: str, key: str = "Tab", presses: int = 40) -> None:
    """Presses `key` until the focused element satisfies `is_target` (a JS predicate of the element)."""
    for _ in range(presses):
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!(el && ({is_target})); }}"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {is_target}")


def test_every_page_meets_wcag_2_1_aa(browser, bot: RunningBot, tmp_path: Path) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is missing from web/vendor/node_modules (make install)")
    from scripts import report

    # axe is injected as an inline script, which the pages' Content-Security-Policy would refuse.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.route(lambda url: not url.startswith(("http://localhost", "file:")), lambda route: route.abort())
    found = {}
    user = context.new_page()
    user.goto(bot.web_url + "/")
    user.locator(".rw-launcher").click()
    expect(chat(user)).to_contain_text("模拟器", timeout=20_000)
    say(user, "账号被封了，我要申诉")
    expect(chat(user)).to_contain_text("以上回答解决您的问题了吗", timeout=15_000)
    found["chat page, the widget open with a reply"] = axe_violations(user)
    upload = context.new_page()
    upload.goto(user.locator("a.rw-reply", has_text="上传证据").get_attribute("href"))
    expect(upload.locator("#case")).to_contain_text("工单 DY", timeout=10_000)
    found["evidence upload page"] = axe_violations(upload)
    say(user, "转人工")
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)
    user.goto(bot.web_url + "/?mode=elder")
    user.locator(".rw-launcher").wait_for()
    if not user.locator(".rw-messages-container").is_visible():
        user.locator(".rw-launcher").click()
    expect(chat(user)).to_contain_text("排在第", timeout=15_000)
    found["chat page in 长辈模式"] = axe_violations(user)

    agent = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    agent.goto(bot.web_url + "/agent")
    expect(agent.locator("#login")).to_be_visible()
    found["agent log-in"] = axe_violations(agent)
    agent.locator("#username").fill("xiaodou")
    agent.locator("#password").fill(AGENT_PASSWORD)
    agent.locator("#login button").click()
    agent.locator(".queue-item").filter(has_text="我要申诉").last.click()
    expect(agent.locator("#transcript")).to_contain_text("转人工", timeout=10_000)
    agent.locator("#take").click()
    expect(agent.locator("#owner")).to_contain_text("您正在处理", timeout=10_000)
    found["agent console, a conversation open"] = axe_violations(agent)
    user.locator(".rw-launcher").click()  # the user closes the chat; the agent's reply waits on the launcher
    agent.locator("#reply-text").fill("您好，请问是哪个账号？")
    agent.locator("#send").click()
    launcher = user.locator(".rw-launcher")
    expect(launcher).to_have_attribute("aria-label", "打开在线客服，1 条新消息", timeout=10_000)
    found["chat page, closed, with a new message"] = axe_violations(user)

    out = tmp_path / "report.html"
    tracker = f"sqlite:///{bot.workdir / 'tracker.db'}"
    assert report.main(["--tracker-db", tracker, "--service-db", bot.database_url, "--out", str(out)]) == 0
    page = context.new_page()
    page.goto(out.as_uri())
    found["report"] = axe_violations(page)
    failing = {name: violations for name, violations in found.items() if violations}
    assert not failing, "\n".join(f"{name}:\n{described(v)}" for name, v in failing.items())


def test_elder_mode_large_type_two_choices_calls_and_reads_aloud(browser, bot: RunningBot) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(SPEECH_SPY)
    user = context.new_page()
    user.goto(bot.web_url + "/?mode=elder")
    expect(user.locator("html")).to_have_class(re.compile(r"\belder\b"))
    user.locator(".rw-launcher").click()
    expect(chat(user)).to_contain_text("模拟器", timeout=20_000)
    expect(user.get_by_role("button", name="长辈模式").first).to_have_attribute("aria-pressed", "true")
    say(user, "客服电话多少")
    expect(chat(user)).to_contain_text("以上回答解决您的问题了吗", timeout=15_000)

    call = user.locator('.rw-response a[href="tel:400-992-2556"]')
    expect(call).to_be_visible()  # tap to call
    bubble = user.locator(".rw-response", has=user.locator('a[href="tel:400-992-2556"]'))
    text_size, color, background = bubble.evaluate(
        "b => [parseFloat(getComputedStyle(b.querySelector('p')).fontSize),"
        " getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
    )
    assert text_size >= 20 and contrast(color, background) >= 7, (text_size, color, background)
    choices = visible_choices(user)
    assert all(len(shown) <= 2 for shown in choices), choices
    assert choices[-1] == ["已解决", "转人工"]  # the reply's first choice and its way to a person
    for button in user.locator(".rw-reply").all():
        if button.is_visible():
            box = button.bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, box  # big touch targets
    spoken = user.evaluate("window.__spoken")
    reply = "普通热线（内地）：400-992-2556（8:00-23:00）"  # the bubble's words, without its ☎
    assert [s for s in spoken if s["text"] == reply and s["lang"] == "zh-CN"], spoken
    expect(user.locator("#chat-announcer")).to_contain_text("400-992-2556")  # for screen readers too
    shot(user, "widget_elder_mode")
    with create_engine(f"sqlite:///{bot.workdir / 'tracker.db'}").connect() as connection:
        marked = connection.execute(
            text("SELECT count(*) FROM events WHERE type_name = 'user' AND data LIKE '%\"mode\": \"elder\"%'")
        ).scalar()
    assert marked >= 1  # the page told the bot

    # Remembered without ?mode=elder; the switch in the widget's header turns it off.
    again = context.new_page()
    again.goto(bot.web_url + "/")
    expect(again.locator("html")).to_have_class(re.compile(r"\belder\b"))
    again.locator(".rw-launcher").wait_for()
    if not again.locator(".rw-messages-container").is_visible():
        again.locator(".rw-launcher").click()
    again.locator(".rw-header .elder-switch").click()
    expect(again.locator("html")).not_to_have_class(re.compile(r"\belder\b"))
    assert again.evaluate("localStorage.getItem('cs-chat-mode')") == "normal"
    say(again, "客服邮箱是多少")
    expect(chat(again)).to_contain_text("feedback@douyin.com", timeout=15_000)
    expect(again.locator('.rw-response a[href="mailto:feedback@douyin.com"]')).to_be_visible()
    read = again.evaluate("window.__spoken")
    assert not [s for s in read if "feedback" in s["text"]]  # read aloud only in 长辈模式

    # An English reply is read in English.
    english = browser.new_context(viewport={"width": 1280, "height": 900})
    english.add_init_script(SPEECH_SPY)
    page = english.new_page()
    page.goto(bot.web_url + "/?mode=elder")
    page.locator(".rw-launcher").click()
    expect(chat(page)).to_contain_text("模拟器", timeout=20_000)
    say(page, "What is the customer service phone number?")
    expect(chat(page)).to_contain_text("Hotline", timeout=15_000)
    spoken = page.evaluate("window.__spoken")
    assert [s for s in spoken if "400-992-2556" in s["text"] and s["lang"] == "en"], spoken


def test_voice_input_fills_the_input_and_is_absent_without_the_api(browser, bot: RunningBot) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FAKE_RECOGNITION)
    user = context.new_page()
    user.goto(bot.web_url + "/")
    user.locator(".rw-launcher").click()
    expect(chat(user)).to_contain_text("模拟器", timeout=20_000)
    user.get_by_role("button", name="语音输入").click()
    expect(user.locator(".rw-new-message")).to_have_value("客服电话多少")  # to check, correct and send
    assert user.evaluate("window.__recognitions[0].lang") == "zh-CN"
    user.locator(".rw-new-message").press("Enter")
    expect(chat(user)).to_contain_text("400-992-2556", timeout=15_000)

    without = browser.new_context(viewport={"width": 1280, "height": 900})
    without.add_init_script(NO_RECOGNITION)  # as in Firefox
    page = without.new_page()
    page.goto(bot.web_url + "/")
    page.locator(".rw-launcher").click()
    expect(chat(page)).to_contain_text("模拟器", timeout=20_000)
    expect(page.locator(".rw-new-message")).to_be_visible()
    expect(page.locator(".cs-mic")).to_have_count(0)


def test_keyboard_only_to_a_transfer(browser, bot: RunningBot) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(bot.web_url + "/")
    tab_to(page, "el.matches('.rw-launcher')")
    expect(page.locator(".rw-launcher")).to_have_attribute("aria-label", "打开在线客服")
    page.keyboard.press("Enter")
    expect(chat(page)).to_contain_text("模拟器", timeout=20_000)
    expect(page.locator(".rw-new-message")).to_be_focused()
    page.keyboard.type("作品被限流了怎么办")
    page.keyboard.press("Enter")
    expect(chat(page)).to_contain_text("以上回答解决您的问题了吗", timeout=15_000)
    tab_to(page, "el.matches('.rw-reply') && el.textContent === '转人工'", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(chat(page)).to_contain_text("排在第", timeout=15_000)  # the topic is known: queued
    expect(page.locator(".rw-new-message")).to_be_focused()


def test_replies_stay_under_their_question_when_the_user_types_quickly(browser, bot: RunningBot) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(bot.web_url + "/")
    page.get_by_role("button", name="作品被限流了怎么办").click()  # the page's example: opens the chat
    asked = [
        ("作品被限流了怎么办", "紧急求助"),
        ("客服电话多少", "400-992-2556"),
        ("客服邮箱是多少", "feedback@douyin.com"),
        ("人工客服几点下班", "9:00-21:00"),
    ]
    for question, _ in asked[1:]:
        say(page, question)  # without waiting for any reply
    expect(chat(page)).to_contain_text("9:00-21:00", timeout=20_000)
    shown = chat(page).inner_text()
    order = [shown.index("您好，我是抖音智能客服")] + [shown.index(piece) for pair in asked for piece in pair]
    assert order == sorted(order), shown
