"""Evidence for appeals and reports (evidence/): signed links, the offer in the actions, storage and its
bad inputs through the real web server over HTTP, pictures without EXIF, video previews with ffmpeg,
retention, and a kill -9 of the web server during an upload. Real files, a real SQLite database and
real servers; nothing mocked."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select

from actions.smart_answer import ActionAnswerTopic
from actions.tickets import ActionCreateTicket, ActionQueryTicket, evidence_summary
from analytics.figures import service_counts
from core import store
from evidence import links, media
from evidence.config import Settings
from evidence.storage import EvidenceStore
from scripts.servers import free_port, web_server
from scripts.web import start_web_server
from tests.conftest import ROOT, make_tracker, run_action, slot_events

SECRET = "test-evidence-secret"
TOKEN = "test-agent-token"
CONVERSATION = "conv-evidence-1"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
HAS_FFMPEG = media.ffmpeg_available()


# --- files made by the tests ------------------------------------------------------------------


def png_bytes(color=(220, 30, 60), size=(64, 48), gps: bool = True) -> bytes:
    """A PNG carrying EXIF with a camera and a GPS position (what must not be stored)."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    if gps:
        exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG", exif=exif.tobytes())
    return buffer.getvalue()


def jpeg_bytes(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # rotate 90°: the stored picture must be turned, not the tag kept
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (80, 40), (10, 120, 200)).save(
        buffer, "JPEG", exif=exif.tobytes(), comment=b"taken at home"
    )
    return buffer.getvalue()


def mp4_file(directory: Path, seconds: float = 1.0) -> Path:
    path = directory / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc=size=160x120:rate=10:duration={seconds}", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" * 64
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
GARBAGE_PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'


# --- a web server with evidence settings, and its state -------------------------------------------


class Site:
    """The real web server (scripts/web.py) in this process, on the test's own database and directory."""

    def __init__(self, directory: Path, **limits: str) -> None:
        env = {
            "CS_EVIDENCE_SECRET": SECRET,
            "CS_EVIDENCE_DIR": str(directory),
            "CS_AGENT_TOKEN": TOKEN,
            **{f"CS_EVIDENCE_{name.upper()}": value for name, value in limits.items()},
        }
        self.settings = Settings.from_env(env, rasa_port=free_port())  # no Rasa server: notices fail
        self.port = free_port()
        self.server = start_web_server(self.port, free_port(), "127.0.0.1", self.settings)
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = EvidenceStore(self.settings)

    def ticket(self, conversation: str = CONVERSATION) -> str:
        return store.create_ticket(conversation, "account_ban", "被封了", "app", conversation, NOW).number

    def token(self, ticket: str, conversation: str = CONVERSATION, hours: float = 1) -> str:
        return links.sign(SECRET, ticket, conversation, int(time.time() + hours * 3600))

    def upload(
        self,
        ticket: str,
        body: bytes,
        name: str = "a.png",
        token: Optional[str] = None,
        lang: str = "zh",
        note: str = "",
        path_ticket: Optional[str] = None,
    ) -> requests.Response:
        return requests.post(
            f"{self.url}/evidence/api/case/{path_ticket or ticket}/files",
            params={"t": token if token is not None else self.token(ticket), "lang": lang},
            data=body,
            headers={"X-File-Name": requests.utils.quote(name), "X-File-Note": requests.utils.quote(note)},
            timeout=30,
        )

    def rows(self, ticket: Optional[str] = None) -> int:
        query = select(func.count()).select_from(store.evidence)
        if ticket:
            query = query.where(store.evidence.c.ticket_number == ticket)
        with store.engine().connect() as connection:
            return connection.execute(query).scalar_one()

    def files_on_disk(self) -> List[str]:
        """Every file under the evidence directory except the lock files."""
        root = self.settings.directory
        return sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.parent.name != ".locks"
        )

    def assert_consistent(self) -> None:
        """Every row's file is on disk, every file on disk has its row, and nothing is half-written."""
        assert self.store.check() == {"rows_without_file": [], "files_without_row": []}
        assert list((self.settings.directory / ".tmp").iterdir()) == []

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    running = Site(tmp_path / "evidence")
    yield running
    running.stop()


# --- links ------------------------------------------------------------------------------------


def test_a_link_is_bound_to_its_ticket_and_conversation_and_expires() -> None:
    token = links.sign(SECRET, "DY20261125-000001", "conv", 2_000_000_000)
    claims = links.verify(SECRET, token, "DY20261125-000001", now=1_900_000_000)
    assert (claims.ticket, claims.conversation_id) == ("DY20261125-000001", "conv")
    payload, signature = token.split(".")
    forged = links.sign(SECRET, "DY20261125-000002", "conv", 2_000_000_000).split(".")[0] + "." + signature
    cases = {
        "link_invalid": [
            (SECRET, forged, "DY20261125-000002"),
            ("another-secret", token, "DY20261125-000001"),
            (SECRET, token[:-2], "DY20261125-000001"),
            (SECRET, "", "DY20261125-000001"),
            (SECRET, "not-a-token", "DY20261125-000001"),
        ],
        "link_expired": [
            (SECRET, links.sign(SECRET, "DY20261125-000001", "conv", 1_800_000_000), "DY20261125-000001")
        ],
        "link_other_case": [(SECRET, token, "DY20261125-000002")],
    }
    for code, attempts in cases.items():
        for secret, candidate, ticket in attempts:
            with pytest.raises(links.LinkError) as refused:
                links.verify(secret, candidate, ticket, now=1_900_000_000)
            assert refused.value.code == code


def test_the_upload_url_carries_the_language_and_a_24_hour_token_by_default() -> None:
    settings = Settings.from_env(
        {"CS_EVIDENCE_SECRET": SECRET, "CS_EVIDENCE_URL": "http://example.test:8080/"}
    )
    url = links.upload_url(settings, "DY20261125-000007", "conv", "en", now=1_000_000)
    assert url.startswith("http://example.test:8080/evidence/DY20261125-000007?lang=en&t=")
    token = requests.utils.unquote(url.split("t=", 1)[1])
    assert links.verify(SECRET, token, "DY20261125-000007", now=1_000_000).expires_at == 1_000_000 + 24 * 3600
    hours = Settings.from_env({"CS_EVIDENCE_SECRET": SECRET, "CS_EVIDENCE_LINK_HOURS": "2"})
    assert hours.link_hours == 2
    with pytest.raises(ValueError):
        Settings.from_env({"CS_EVIDENCE_MAX_FILES": "ten"})


# --- the offer in the conversation (actions) ---------------------------------------------------


@pytest.fixture
def evidence_on(monkeypatch: pytest.MonkeyPatch, sim_now) -> None:
    monkeypatch.setenv("CS_EVIDENCE_SECRET", SECRET)
    monkeypatch.setenv("CS_EVIDENCE_URL", "http://localhost:8080")
    sim_now("10:00")


def offered_link(messages: List[Dict]) -> Tuple[str, Dict]:
    offer = next(m for m in messages if m.get("response") == "utter_evidence_offer")
    (button,) = offer["buttons"]
    return button["url"], button


@pytest.mark.parametrize("topic", ["account_ban", "throttling", "report_content", "copyright_complaint"])
def test_the_four_topics_offer_an_upload_link_for_a_new_ticket(evidence_on, topic) -> None:
    messages, events = run_action(ActionAnswerTopic(), make_tracker(topic, "帮帮我", sender_id="conv-a"))
    names = [m.get("response") for m in messages]
    # The answer first, then the offer, then the question (or green channel) that expects a reply.
    assert names[1] == "utter_evidence_offer" and names[2] in ("utter_ask_resolved", "utter_green_channel")
    url, button = offered_link(messages)
    assert button["title"] == "上传证据" and button["type"] == "web_url" and button["payload"] == url
    number = slot_events(events)["ticket_number"]
    ticket = store.find_ticket(number)
    assert (ticket.conversation_id, ticket.topic, ticket.contact_channel, ticket.contact_detail) == (
        "conv-a", topic, "app", "conv-a"
    )  # fmt: skip
    assert url.startswith(f"http://localhost:8080/evidence/{number}?lang=zh&t=")
    claims = links.verify(SECRET, requests.utils.unquote(url.split("t=", 1)[1]), number)
    assert claims.conversation_id == "conv-a"
    assert ticket.status == store.DRAFT  # a link, not yet a ticket


def test_offers_open_no_tickets_until_a_file_arrives(evidence_on, tmp_path) -> None:
    numbers = []
    for n in range(20):  # twenty new users asking about a ban: twenty links, no ticket
        _, events = run_action(ActionAnswerTopic(), make_tracker("account_ban", "封号了", sender_id=f"u{n}"))
        numbers.append(slot_events(events)["ticket_number"])
    assert service_counts(store.database_url())["tickets_by_status"] == {}
    shown, _ = run_action(
        ActionQueryTicket(), make_tracker("query_ticket", f"查询工单 {numbers[0]}", sender_id="u0")
    )
    assert shown[0]["response"] == "utter_no_ticket_yet"
    elsewhere = make_tracker("query_ticket", f"查询工单 {numbers[0]}", sender_id="u1")
    shown, _ = run_action(ActionQueryTicket(), elsewhere)
    assert shown[0]["response"] == "utter_ticket_not_found"
    evidence = EvidenceStore(
        Settings.from_env({"CS_EVIDENCE_SECRET": SECRET, "CS_EVIDENCE_DIR": str(tmp_path)})
    )
    body = png_bytes()
    evidence.receive(numbers[0], "u0", io.BytesIO(body), len(body), "封号提示.png", "", "user@test")
    assert service_counts(store.database_url())["tickets_by_status"] == {"open": 1}
    shown, _ = run_action(
        ActionQueryTicket(), make_tracker("query_ticket", f"查询工单 {numbers[0]}", sender_id="u0")
    )
    assert shown[0]["response"] == "utter_ticket_status"


def test_the_same_case_keeps_its_ticket_and_english_gets_an_english_button(evidence_on) -> None:
    slots = {"language": "en", "disclaimer_languages": ["en"]}
    first, events = run_action(
        ActionAnswerTopic(), make_tracker("account_ban", "banned", slots, sender_id="c")
    )
    again, more = run_action(
        ActionAnswerTopic(),
        make_tracker("account_ban", "still banned", {**slots, **slot_events(events)}, sender_id="c"),
    )
    assert slot_events(events)["ticket_number"] == slot_events(more)["ticket_number"]
    url, button = offered_link(again)
    assert button["title"] == "Upload evidence" and "lang=en" in url


def test_no_offer_elsewhere_or_without_a_secret(evidence_on, monkeypatch) -> None:
    messages, events = run_action(ActionAnswerTopic(), make_tracker("phone_hotline", "客服电话"))
    assert "utter_evidence_offer" not in [m.get("response") for m in messages]
    monkeypatch.delenv("CS_EVIDENCE_SECRET")
    messages, events = run_action(ActionAnswerTopic(), make_tracker("account_ban", "封号了"))
    assert "utter_evidence_offer" not in [m.get("response") for m in messages]
    assert "ticket_number" not in slot_events(events)
    with store.engine().connect() as connection:
        assert connection.execute(select(func.count()).select_from(store.tickets)).scalar_one() == 0


def test_the_ticket_form_completes_the_cases_ticket_and_offers_the_link_again(evidence_on) -> None:
    _, events = run_action(
        ActionAnswerTopic(), make_tracker("report_content", "有人发违规视频", sender_id="c2")
    )
    number = slot_events(events)["ticket_number"]
    slots = {
        **slot_events(events),
        "contact_channel": "email",
        "contact_detail": "me@example.org",
    }
    created, _ = run_action(ActionCreateTicket(), make_tracker("create_ticket", "", slots, sender_id="c2"))
    assert created[0]["ticket_number"] == number  # completed, not a second ticket
    assert store.find_ticket(number).contact_detail == "me@example.org"
    assert store.find_ticket(number).status == "open"  # asked for: a ticket now
    assert f"/evidence/{number}?" in created[0]["buttons"][0]["url"]
    # Once completed, another form opens a new ticket.
    second, _ = run_action(ActionCreateTicket(), make_tracker("create_ticket", "", slots, sender_id="c2"))
    assert second[0]["ticket_number"] != number


def test_the_ticket_status_lists_its_evidence(evidence_on, tmp_path) -> None:
    number = store.create_ticket("c3", "account_ban", "被封", "app", "c3", NOW).number
    query = make_tracker("query_ticket", f"查询工单 {number}", sender_id="c3")
    shown, _ = run_action(ActionQueryTicket(), query)
    assert shown[0]["evidence"] == "无"
    evidence = EvidenceStore(
        Settings.from_env({"CS_EVIDENCE_SECRET": SECRET, "CS_EVIDENCE_DIR": str(tmp_path)})
    )
    for name, color in (("封号提示.png", (1, 2, 3)), ("申诉页面.png", (4, 5, 6))):
        body = png_bytes(color)
        evidence.receive(number, "c3", io.BytesIO(body), len(body), name, "", "user@test")
    shown, _ = run_action(ActionQueryTicket(), query)
    assert shown[0]["evidence"] == "2 个文件（封号提示.png、申诉页面.png）"
    assert (
        evidence_summary([f"{i}.png" for i in range(7)], "en")
        == "7 file(s) (0.png, 1.png, 2.png, 3.png, 4.png, …)"
    )


# --- pictures and videos ----------------------------------------------------------------------


def test_pictures_are_stored_without_exif_gps_or_comments_and_the_right_way_up(tmp_path) -> None:
    for name, body, content_type in (
        ("p.png", png_bytes(), "image/png"),
        ("j.jpg", jpeg_bytes(), "image/jpeg"),
    ):
        source = tmp_path / name
        source.write_bytes(body)
        assert Image.open(source).getexif()  # the test file does carry EXIF
        target = tmp_path / f"clean-{name}"
        details = media.sanitize_image(source, content_type, target)
        clean = Image.open(target)
        clean.load()
        assert dict(clean.getexif()) == {} and "exif" not in clean.info and "comment" not in clean.info
        assert b"TestCam" not in target.read_bytes() and b"taken at home" not in target.read_bytes()
        if content_type == "image/jpeg":
            assert clean.size == (40, 80)  # orientation 6 applied to the pixels
        else:
            assert (details.width, details.height) == clean.size == (64, 48)
    webp = tmp_path / "w.webp"
    Image.open(io.BytesIO(png_bytes())).save(webp, "WEBP", exif=Image.open(io.BytesIO(png_bytes())).getexif())
    media.sanitize_image(webp, "image/webp", tmp_path / "clean.webp")
    assert dict(Image.open(tmp_path / "clean.webp").getexif()) == {}


# The smallest file with an MP4 signature (an ISO BMFF "ftyp" box, brand isom) and an empty media box.
MP4_SIGNATURE = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x10mdat" + b"\x00" * 8


def test_a_video_without_ffmpeg_is_stored_with_a_no_preview_note(site: Site, tmp_path, monkeypatch) -> None:
    ticket = site.ticket()
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the server looks ffprobe up on PATH for each upload
    response = site.upload(ticket, MP4_SIGNATURE, "clip.mp4")
    assert response.status_code == 201, response.text
    stored = response.json()["file"]
    assert stored["kind"] == "video" and stored["content_type"] == "video/mp4"
    assert stored["thumbnail_url"] is None and stored["preview_note"] == "无预览：服务器未安装 ffmpeg"
    assert stored["duration"] is None
    site.assert_consistent()


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed (make install adds it)")
def test_a_file_that_only_looks_like_a_video_is_refused_when_ffprobe_can_check(site: Site) -> None:
    response = site.upload(site.ticket(), MP4_SIGNATURE, "clip.mp4")
    assert (response.status_code, response.json()["error"]) == (422, "damaged_video")
    assert site.rows() == 0 and site.files_on_disk() == []


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed (make install adds it)")
def test_a_video_gets_its_duration_and_first_frame(site: Site, tmp_path) -> None:
    ticket = site.ticket()
    response = site.upload(ticket, mp4_file(tmp_path, seconds=2).read_bytes(), "录屏.mp4", lang="en")
    assert response.status_code == 201, response.text
    stored = response.json()["file"]
    assert stored["kind"] == "video" and stored["content_type"] == "video/mp4" and stored["duration"] == 2.0
    thumbnail = requests.get(site.url + stored["thumbnail_url"], timeout=10)
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).width == 160
    assert response.json()["message"] == "Received “录屏.mp4”."


# --- the upload page and its API over HTTP -------------------------------------------------------


def test_a_picture_is_received_listed_and_served_to_agents_only(site: Site) -> None:
    ticket = site.ticket()
    body = png_bytes()
    response = site.upload(ticket, body, "封号提示.png", note="被封时的提示")
    assert response.status_code == 201 and response.json()["message"] == "已收到“封号提示.png”。"
    listed = requests.get(f"{site.url}/evidence/api/case/{ticket}", params={"t": site.token(ticket)}).json()
    (file,) = listed["files"]
    assert (file["name"], file["note"], file["kind"], file["width"]) == (
        "封号提示.png",
        "被封时的提示",
        "image",
        64,
    )
    assert listed["limits"] == {"max_files": 10, "max_file_bytes": 50 * 2**20, "max_case_bytes": 200 * 2**20}
    with store.engine().connect() as connection:
        row = connection.execute(select(store.evidence)).one()
    stored = site.settings.directory / ticket / row.file_name
    assert row.file_name == f"{row.sha256}.png" and stored.is_file()
    assert (row.conversation_id, row.upload_size, row.uploader) == (CONVERSATION, len(body), "user@127.0.0.1")
    assert b"TestCam" not in stored.read_bytes()  # the stored copy has no EXIF

    agent = f"{site.url}/evidence/api/agent"
    assert requests.get(f"{agent}/conversations/{CONVERSATION}", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.get(f"{agent}/files/{row.id}", headers=wrong, timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    files = requests.get(f"{agent}/conversations/{CONVERSATION}", headers=auth, timeout=10).json()["files"]
    assert files[0]["sha256"] == row.sha256 and files[0]["ticket"] == ticket
    served = requests.get(f"{agent}/files/{row.id}", headers=auth, timeout=10)
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.content == stored.read_bytes()

    page = requests.get(f"{site.url}/evidence/{ticket}", params={"t": site.token(ticket)}, timeout=10)
    policy = page.headers["Content-Security-Policy"]
    assert (
        "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert page.headers["Referrer-Policy"] == "no-referrer" and "<script>" not in page.text
    site.assert_consistent()


REFUSALS = [
    # (what, body, name, expected status, error code, words of the message)
    ("an .exe renamed .mp4", EXE, "video.mp4", 415, "bad_type", "不是支持的格式"),
    ("an HTML file named .png", HTML, "photo.png", 415, "bad_type", "不是支持的格式"),
    ("an SVG", SVG, "image.svg", 415, "bad_type", "不是支持的格式"),
    ("zero bytes", b"", "empty.png", 400, "empty", "空文件"),
    ("a path in the name", png_bytes(), "../../x.png", 400, "bad_name", "不能包含路径"),
    ("a control character in the name", png_bytes(), "a\x07.png", 400, "bad_name", "不能包含路径"),
    ("a PNG signature on garbage", GARBAGE_PNG, "fake.png", 422, "damaged_image", "无法作为图片打开"),
]  # fmt: skip


@pytest.mark.parametrize("what, body, name, status, code, words", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_files_are_refused_and_nothing_is_stored(
    site: Site, what, body, name, status, code, words
) -> None:
    ticket = site.ticket()
    response = site.upload(ticket, body, name)
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert words in response.json()["message"]
    assert site.rows() == 0 and site.files_on_disk() == []
    assert not (site.settings.directory.parent / "x.png").exists()
    site.assert_consistent()


def test_refusals_speak_the_pages_language(site: Site) -> None:
    ticket = site.ticket()
    response = site.upload(ticket, HTML, "photo.png", lang="en")
    assert response.json()["message"].startswith("“photo.png” is not a supported format")


def test_links_that_are_forged_expired_or_for_another_case_are_refused(site: Site) -> None:
    mine, theirs = site.ticket(), site.ticket("conv-someone-else")
    token = site.token(mine)
    attempts = {
        "forged": (mine, token[:-3] + "abc", "link_invalid", "链接无效"),
        "missing": (mine, "", "link_invalid", "链接无效"),
        "expired": (mine, site.token(mine, hours=-1), "link_expired", "已过期"),
        "another ticket's link": (theirs, token, "link_other_case", "不属于这张工单"),
        # Signed for the other ticket, but by this conversation: that ticket is not this conversation's.
        "another conversation's ticket": (theirs, site.token(theirs), "link_other_case", "不属于这张工单"),
        "no such ticket": ("DY20261125-999999", site.token("DY20261125-999999"), "no_ticket", "找不到"),
    }
    for what, (ticket, candidate, code, words) in attempts.items():
        response = site.upload(ticket, png_bytes(), "a.png", token=candidate)
        assert response.json()["error"] == code, what
        assert response.status_code in (403, 404) and words in response.json()["message"], what
        listed = requests.get(f"{site.url}/evidence/api/case/{ticket}", params={"t": candidate}, timeout=10)
        assert listed.status_code in (403, 404) and "files" not in listed.json(), what
    assert site.rows() == 0 and site.files_on_disk() == []
    site.assert_consistent()


def test_the_same_file_twice_is_stored_once(site: Site) -> None:
    ticket = site.ticket()
    body = png_bytes()
    assert site.upload(ticket, body, "first.png").status_code == 201
    again = site.upload(ticket, body, "second-name.png")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["message"] == "“second-name.png”已经上传过，不会重复保存。"
    assert site.rows(ticket) == 1 and len(site.files_on_disk()) == 2  # the file and its thumbnail
    site.assert_consistent()


def noise_png() -> bytes:
    """A PNG of about 40 KB: noise does not compress."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (120, 110), os.urandom(120 * 110 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_limits_per_file_and_per_ticket_are_enforced(tmp_path) -> None:
    site = Site(tmp_path / "evidence", max_files="2", max_file_mb="0.05")
    try:
        ticket = site.ticket()
        big = png_bytes(size=(200, 200)) + b"\0" * 60_000  # over 0.05 MB: refused before it is read
        response = site.upload(ticket, big, "big.png")
        assert (response.status_code, response.json()["error"]) == (413, "too_large")
        assert "“big.png”超过单个文件 51 KB 的上限" in response.json()["message"]
        assert site.rows() == 0 and site.files_on_disk() == []
        assert site.upload(ticket, noise_png(), "one.png").status_code == 201
        assert site.upload(ticket, noise_png(), "two.png").status_code == 201
        third = site.upload(ticket, png_bytes(), "three.png", lang="en")
        assert (third.status_code, third.json()["error"]) == (409, "too_many")
        assert third.json()["message"] == "A ticket takes at most 2 files; “three.png” was not saved."
        assert site.rows(ticket) == 2 and len(site.files_on_disk()) == 4  # two files, two thumbnails
        site.assert_consistent()
    finally:
        site.stop()


def test_the_total_per_ticket_is_enforced(tmp_path) -> None:
    site = Site(tmp_path / "evidence", max_file_mb="0.05", max_case_mb="0.06")
    try:
        ticket = site.ticket()
        assert site.upload(ticket, noise_png(), "noise.png").status_code == 201
        response = site.upload(ticket, noise_png(), "more.png")
        assert (response.status_code, response.json()["error"]) == (413, "case_full")
        assert "本工单的证据总量已达上限（61 KB），“more.png”没有保存" in response.json()["message"]
        assert site.upload(ticket, png_bytes(), "small.png").status_code == 201  # a small one still fits
        assert site.rows(ticket) == 2
        site.assert_consistent()
    finally:
        site.stop()


def raw_upload(site: Site, ticket: str, declared: int, body: bytes, chunked: bool = False) -> socket.socket:
    """An upload that sends `body` under a declared size, by hand (requests would not lie)."""
    target = f"/evidence/api/case/{ticket}/files?t={site.token(ticket)}&lang=zh"
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared}"
    head = f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-File-Name: cut.png\r\n{length}\r\n\r\n"
    connection = socket.create_connection(("127.0.0.1", site.port), timeout=30)
    connection.sendall(head.encode() + body)
    return connection


def response_of(connection: socket.socket) -> Tuple[int, Dict]:
    data = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    connection.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_truncated_upload_is_refused_and_leaves_nothing(site: Site) -> None:
    ticket = site.ticket()
    body = png_bytes() + os.urandom(20_000)
    connection = raw_upload(site, ticket, declared=len(body) + 50_000, body=body)
    connection.shutdown(socket.SHUT_WR)  # the connection drops mid-file
    status, answer = response_of(connection)
    assert (status, answer["error"]) == (400, "truncated") and "没有传完" in answer["message"]
    assert site.rows() == 0 and site.files_on_disk() == []
    site.assert_consistent()


def test_an_upload_without_a_declared_size_is_refused(site: Site) -> None:
    ticket = site.ticket()
    connection = raw_upload(site, ticket, declared=0, body=b"5\r\nhello\r\n0\r\n\r\n", chunked=True)
    status, answer = response_of(connection)
    assert (status, answer["error"]) == (411, "length_required")
    assert site.rows() == 0 and site.files_on_disk() == []


# --- recovery and retention -------------------------------------------------------------------


def test_an_interrupted_commit_is_undone_at_start_up_and_recorded_files_stay(site: Site) -> None:
    """A crash after a file was renamed into place but before its row was written: its journal names
    it, no row does, so start-up recovery removes it; a recorded file is left alone."""
    ticket = site.ticket()
    assert site.upload(ticket, png_bytes(), "kept.png").status_code == 201
    kept = site.files_on_disk()
    orphan = site.settings.directory / ticket / ("0" * 64 + ".png")
    orphan.write_bytes(png_bytes((1, 1, 1)))
    journal = site.settings.directory / ".tmp" / "crashed.journal"
    journal.write_text(json.dumps([f"{ticket}/{orphan.name}", f"{ticket}/{kept[0].split('/')[1]}"]))
    partial = site.settings.directory / ".tmp" / "crashed.part"
    partial.write_bytes(b"\x89PNG half")
    assert site.store.recover() == {"partial_files": 1, "unrecorded_files": 1}
    assert site.files_on_disk() == kept
    site.assert_consistent()


def test_purge_deletes_a_tickets_evidence_after_the_retention_period(site: Site) -> None:
    old, recent = site.ticket(), site.ticket("conv-2")
    assert site.upload(old, png_bytes((9, 9, 9)), "old.png").status_code == 201
    assert site.upload(recent, png_bytes(), "new.png", token=site.token(recent, "conv-2")).status_code == 201
    with store.engine().begin() as connection:
        connection.execute(
            store.evidence.update()
            .where(store.evidence.c.ticket_number == old)
            .values(created_at=datetime.utcnow() - timedelta(days=91))
        )
    env = {**os.environ, "CS_EVIDENCE_DIR": str(site.settings.directory), "PYTHONPATH": str(ROOT)}
    purge = [sys.executable, str(ROOT / "scripts" / "purge_evidence.py")]
    done = subprocess.run([*purge, "--days", "90"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "1 ticket(s): 1 file(s)" in done.stdout, done.stderr
    assert site.rows(old) == 0 and site.rows(recent) == 1
    assert not (site.settings.directory / old).exists()
    check = subprocess.run([*purge, "--check"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    assert site.store.purge(ticket=recent) == {"tickets": 1, "files": 1}
    assert site.files_on_disk() == []
    site.assert_consistent()


@pytest.mark.servers
def test_kill_9_during_an_upload_leaves_no_partial_file_or_row_after_restart(tmp_path, database) -> None:
    directory = tmp_path / "evidence"
    port = free_port()
    env = {
        "CS_DATABASE_URL": database,
        "CS_EVIDENCE_DIR": str(directory),
        "CS_EVIDENCE_SECRET": SECRET,
        "CS_AGENT_TOKEN": TOKEN,
    }
    web = web_server(port, 1, tmp_path / "web.log", env).start(60)  # scripts/web.py, its own process
    site = Site.__new__(Site)  # the helpers, pointed at the separate process
    site.settings = Settings.from_env({**env})
    site.port, site.url, site.store = port, f"http://127.0.0.1:{port}", EvidenceStore(site.settings)
    try:
        ticket = site.ticket()
        assert site.upload(ticket, png_bytes(), "before.png").status_code == 201
        before = site.files_on_disk()
        body = png_bytes((5, 5, 5)) + os.urandom(400_000)
        connection = raw_upload(site, ticket, declared=len(body) + 4_000_000, body=body)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            parts = [p for p in (directory / ".tmp").glob("*.part") if p.stat().st_size > 0]
            if parts:
                break
            time.sleep(0.05)
        assert parts, "the upload never reached the disk"
        web.stop(signal.SIGKILL)
        connection.close()
        assert [p.name for p in (directory / ".tmp").glob("*.part")]  # the crash left it behind
        web.start(60)  # start-up recovery
        assert list((directory / ".tmp").iterdir()) == []
        assert site.files_on_disk() == before and site.rows(ticket) == 1
        site.assert_consistent()
        assert site.upload(ticket, png_bytes((7, 7, 7)), "after.png").status_code == 201
    finally:
        web.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_link_buttons_reach_the_widget_as_links_and_other_buttons_as_buttons() -> None:
    from channels.reliable import link_buttons_message

    assert (
        link_buttons_message({"text": "t", "buttons": [{"title": "转人工", "payload": "/request_human"}]})
        is None
    )
    message = {
        "text": "视频举证",
        "buttons": [
            {
                "title": "上传证据",
                "payload": "http://x/evidence/D",
                "url": "http://x/evidence/D",
                "type": "web_url",
            },
            {"title": "转人工", "payload": "/request_human"},
        ],
    }
    assert link_buttons_message(message) == {
        "data": {
            "text": "视频举证",
            "buttons": [
                {"type": "web_url", "title": "上传证据", "url": "http://x/evidence/D"},
                {"type": "postback", "title": "转人工", "payload": "/request_human"},
            ],
        }
    }
