"""The evidence endpoints of the web server (scripts/web.py), for the upload page and the agent console.

    GET  /evidence/<ticket>?lang=&t=                    the upload page (web/evidence.html)
    GET  /evidence/api/case/<ticket>?t=                 the case, its limits and the files received
    POST /evidence/api/case/<ticket>/files?t=&lang=     one file, the raw body (X-File-Name, X-File-Note
                                                        headers, URL-encoded); streamed to disk
    POST /evidence/api/case/<ticket>/notify?t=&lang=    "已收到 N 个文件" in the chat for the new files
    GET  /evidence/api/case/<ticket>/thumbnails/<id>?t= a thumbnail of the case's own file
    GET  /evidence/api/agent/conversations/<id>         agent token (Authorization: Bearer): the files
    GET  /evidence/api/agent/files/<id>                 agent token: a file, as its checked type
    GET  /evidence/api/agent/thumbnails/<id>            agent token: its thumbnail

The case endpoints trust only the signed link (evidence/links.py); the agent endpoints only the
console's token. Files are served with the type checked at upload, `nosniff`, and as an attachment
unless they are a picture or a video.

An upload's body is taken from the connection as it arrives (a Sanic stream route) and written to a
temporary file (evidence/storage.py, Receiving): the declared size is checked before a byte is read,
the type from the first bytes, and a client that sends nothing for `stall_seconds`, or has not
finished after `upload_seconds`, is answered "truncated" and dropped. The database, the pictures and
the videos are handled in the server's threads, so that the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union
from urllib.parse import parse_qs, quote, unquote

from sanic.exceptions import SanicException
from sanic.http import Stage
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.server.protocols.http_protocol import HttpProtocol

from agents import access, accounts
from core import store
from evidence import links, messages
from evidence.config import Settings
from evidence.notify import tell_conversation
from evidence.storage import CHUNK, EvidenceStore, Receiving, StoredFile, UploadRefused, display_name
from observability.web_server import count_upload

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parent.parent / "web" / "evidence.html"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
FILE_POLICY = "default-src 'none'; sandbox"  # a file opened directly runs nothing
JSON_TYPE = "application/json; charset=utf-8"
INLINE_KINDS = ("image/", "video/")
DRAIN_SECONDS = 5.0
STALL_SECONDS = 60.0  # a client may send nothing for this long in the middle of an upload
UPLOAD_SECONDS = 1800.0  # an upload's whole body: 50 MB at 30 KB/s
LINK_STATUS = {"link_invalid": 403, "link_expired": 403, "link_other_case": 403, "no_ticket": 404}

Result = TypeVar("Result")


class HalfClosedProtocol(HttpProtocol):
    """Sanic's HTTP/1.1 protocol, except that a client which ends its side of the connection in the
    middle of a request (an upload cut off) still reads the answer ("truncated") instead of finding
    the connection closed."""

    __slots__ = ("client_done",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_done = False

    def eof_received(self) -> bool:
        self.client_done = True
        if self._data_received:
            self._data_received.set()  # wakes a read waiting for more of the body
        if self._http is None or self._http.stage not in (Stage.HANDLER, Stage.RESPONSE):
            return False  # between requests: closed, as Sanic does
        self._http.keep_alive = False
        return True  # open for the answer, closed after it


def _client_done(request: Request) -> bool:
    return bool(getattr(request.stream.protocol, "client_done", False))


@dataclass(frozen=True)
class Reply:
    """An answer: `body`, or the file at `file` streamed from disk."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: Dict[str, str] = field(default_factory=dict)
    file: Optional[Path] = None


def _api_headers(policy: str = API_POLICY) -> Dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",  # the page's address holds the link's token
        "Cache-Control": "no-store",
    }


def json_reply(status: int, data: Dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), JSON_TYPE, _api_headers())


def refusal(status: int, code: str, language: str, **params: Any) -> Reply:
    if "limit" in params and code in ("too_large", "case_full"):
        params["limit"] = messages.size_label(int(params["limit"]))
    params.setdefault("name", "")
    return json_reply(status, {"error": code, "message": messages.text(code, language, **params)})


def file_reply(path: Path, content_type: str, name: str) -> Reply:
    """A stored file; inline only for pictures and videos."""
    disposition = "inline" if content_type.startswith(INLINE_KINDS) else "attachment"
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "Content-Security-Policy": FILE_POLICY,
        "Cache-Control": "private, no-store",
    }
    return Reply(200, content_type=content_type, headers=headers, file=path)


async def in_thread(function: Callable[..., Result], *args: Any) -> Result:
    """Blocking work (the database, the disk, Pillow, ffprobe) in the server's threads."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))


async def answer(request: Request, reply: Reply) -> None:
    """Sends the reply now (the handler may still read what the client sends after it)."""
    if reply.file is None:
        response = await request.respond(
            HTTPResponse(reply.body, reply.status, reply.headers, reply.content_type)
        )
        await response.send(end_stream=True)
        return
    try:
        file = await in_thread(open, reply.file, "rb")
    except FileNotFoundError:
        return await answer(request, json_reply(404, {"error": "missing"}))
    try:
        size = os.fstat(file.fileno()).st_size
        headers = {**reply.headers, "Content-Length": str(size)}
        response = await request.respond(
            status=reply.status, headers=headers, content_type=reply.content_type
        )
        while True:
            block = await in_thread(file.read, CHUNK)
            if not block:
                break
            await response.send(block)
        await response.send(end_stream=True)
    finally:
        file.close()


async def drain(request: Request) -> None:
    """Reads and drops what a refused request still sends (for a few seconds at most), so that the
    client reads the refusal instead of a reset connection; the connection then closes. Nothing of it
    is kept."""
    stream = request.stream
    if stream is None:
        return
    if stream.request_body is True and not stream.request_bytes_left:
        await stream.read()  # nothing left to come: the body is done, the connection can stay open
    if not stream.request_body:
        return
    stream.keep_alive = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    try:
        while stream.request_body and not (_client_done(request) and not stream.recv_buffer):
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.wait_for(stream.read(), min(1.0, left))
    except (asyncio.TimeoutError, ConnectionError, SanicException):
        pass
    stream.request_body = None  # Sanic would otherwise read the rest, however long, before closing


def query_of(request: Request) -> Dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.query_string).items()}


class EvidenceHTTP:
    def __init__(
        self, settings: Settings, stall_seconds: float = STALL_SECONDS, upload_seconds: float = UPLOAD_SECONDS
    ) -> None:
        self.settings = settings
        self.store = EvidenceStore(settings)
        self.stall_seconds, self.upload_seconds = stall_seconds, upload_seconds

    def start(self) -> Dict[str, int]:
        """Cleans up after a crash before the first request (evidence/storage.py, recover)."""
        return self.store.recover()

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/evidence" or path.startswith("/evidence/")

    @staticmethod
    def _parts(request: Request) -> List[str]:
        return [unquote(part) for part in request.path.split("/")[2:]]

    # --- routing ------------------------------------------------------------------------------

    async def get(self, request: Request, page_policy: str) -> None:
        """GET /evidence/...; `page_policy`: the pages' Content-Security-Policy (scripts/web.py)."""
        parts, query = self._parts(request), query_of(request)
        authorization = request.headers.get("Authorization") or ""
        reply = await in_thread(self._get, parts, query, authorization, page_policy)
        await answer(request, reply)

    def _get(self, parts: List[str], query: Dict[str, str], authorization: str, page_policy: str) -> Reply:
        language = messages.language_of(query.get("lang"))
        if len(parts) == 1 and links.TICKET_NUMBER.match(parts[0]):
            # The pages' own policy: scripts from this host only, none inline.
            headers = _api_headers(page_policy)
            return Reply(200, PAGE.read_bytes(), "text/html; charset=utf-8", headers)
        if parts[:2] == ["api", "case"] and len(parts) == 3:
            return self._case_info(parts[2], query, language)
        if parts[:2] == ["api", "case"] and len(parts) == 5 and parts[3] == "thumbnails":
            return self._case_thumbnail(parts[2], parts[4], query, language)
        if parts[:2] == ["api", "agent"] and len(parts) == 4:
            allowed, agent = self._agent(authorization)
            if not allowed:
                return json_reply(401, {"error": "unauthorized"})
            if parts[2] == "conversations":
                return self._agent_files(parts[3], agent)
            if parts[2] in ("files", "thumbnails"):
                return self._agent_file(parts[3], agent, thumbnail=parts[2] == "thumbnails")
        return json_reply(404, {"error": "not found"})

    async def post(self, request: Request) -> None:
        """POST /evidence/... (a stream route: nothing of the body is read before this)."""
        parts, query = self._parts(request), query_of(request)
        language = messages.language_of(query.get("lang"))
        if parts[:2] == ["api", "case"] and len(parts) == 4 and parts[3] == "files":
            reply = await self._upload(request, parts[2], query, language)
        elif parts[:2] == ["api", "case"] and len(parts) == 4 and parts[3] == "notify":
            reply = await in_thread(self._notify, parts[2], query, language)
        else:
            reply = json_reply(404, {"error": "not found"})
        await answer(request, reply)
        await drain(request)

    # --- the case (signed link) ---------------------------------------------------------------

    def _claims(self, ticket: str, query: Dict[str, str]) -> links.Claims:
        """The link's claims, checked against the ticket in the database (it must be the
        conversation's own ticket)."""
        claims = links.verify(self.settings.secret, query.get("t"), ticket)
        found = store.find_ticket(ticket)
        if found is None:
            raise links.LinkError("no_ticket")
        if not hmac.compare_digest(found.conversation_id.encode(), claims.conversation_id.encode()):
            raise links.LinkError("link_other_case")
        return claims

    def _checked(self, ticket: str, query: Dict[str, str], language: str) -> Union[links.Claims, Reply]:
        """The link's claims, or the refusal to send."""
        try:
            return self._claims(ticket, query)
        except links.LinkError as error:
            return refusal(LINK_STATUS.get(error.code, 403), error.code, language)
        except store.StoreError:
            logger.exception("The database failed checking a link for %s", ticket)
            return refusal(503, "server_error", language)

    def _public(self, file: StoredFile, token: str, language: str) -> Dict[str, Any]:
        """What the uploader sees of a file: no hashes, no other case's details."""
        thumbnail = None
        if file.thumbnail:
            thumbnail = f"/evidence/api/case/{file.ticket_number}/thumbnails/{file.id}?t={quote(token)}"
        return {
            "id": file.id,
            "name": file.original_name,
            "kind": file.kind,
            "content_type": file.content_type,
            "size": file.size,
            "upload_size": file.upload_size,
            "width": file.width,
            "height": file.height,
            "duration": file.duration,
            "note": file.note,
            "thumbnail_url": thumbnail,
            "preview_note": messages.text("no_preview", language) if file.preview == "no_ffmpeg" else "",
        }

    def _case_info(self, ticket: str, query: Dict[str, str], language: str) -> Reply:
        claims = self._checked(ticket, query, language)
        if isinstance(claims, Reply):
            return claims
        files = self.store.files_of_ticket(ticket)
        limits = self.settings
        return json_reply(
            200,
            {
                "ticket": ticket,
                "expires_at": claims.expires_at,
                "limits": {
                    "max_files": limits.max_files,
                    "max_file_bytes": limits.max_file_bytes,
                    "max_case_bytes": limits.max_case_bytes,
                },
                "files": [self._public(file, query["t"], language) for file in files],
            },
        )

    def _case_thumbnail(self, ticket: str, file_id: str, query: Dict[str, str], language: str) -> Reply:
        checked = self._checked(ticket, query, language)
        if isinstance(checked, Reply):
            return checked
        file = self.store.file_by_id(int(file_id)) if file_id.isdigit() else None
        if file is None or file.ticket_number != ticket or not file.thumbnail:
            return json_reply(404, {"error": "not found"})
        return file_reply(self.store.path_of(ticket, file.thumbnail), "image/jpeg", "thumb.jpg")

    # --- uploads ------------------------------------------------------------------------------

    def _begin(
        self, ticket: str, query: Dict[str, str], language: str, name: str, request: Dict[str, Any]
    ) -> Union[Receiving, Reply]:
        """The link checked, then the upload begun (refused now if its declared size cannot fit)."""
        claims = self._checked(ticket, query, language)
        if isinstance(claims, Reply):
            count_upload(False, "link")
            return claims
        return self.store.begin(
            ticket=ticket,
            conversation_id=claims.conversation_id,
            length=request["length"],
            name=display_name(name),
            note=request["note"],
            uploader=request["uploader"],
        )

    async def _upload(self, request: Request, ticket: str, query: Dict[str, str], language: str) -> Reply:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.upload_seconds
        name = unquote(request.headers.get("X-File-Name") or "")
        details = {
            "length": self._length(request),
            "note": unquote(request.headers.get("X-File-Note") or ""),
            "uploader": self._uploader(request),
        }
        finishing = False
        upload: Optional[Receiving] = None
        try:
            begun = await in_thread(self._begin, ticket, query, language, name, details)
            if isinstance(begun, Reply):
                return begun
            upload = begun
            while upload.missing:
                chunk = await self._next_chunk(request, deadline)
                if not chunk:
                    raise UploadRefused("truncated", 400, name=upload.name)
                # Written here, not in a thread: a chunk is at most the server's 64 KiB read buffer,
                # and one writer per file needs no lock against the `finally` below.
                upload.write(chunk)
            finishing = True  # the thread removes the temporary file itself, even if this is cancelled
            stored, duplicate = await in_thread(self._finish, upload)
        except UploadRefused as refused:
            count_upload(False, refused.code)
            params = {"name": name, **refused.params}
            return refusal(refused.status, refused.code, language, **params)
        except store.StoreError:
            count_upload(False, "server_error")
            logger.exception("The database failed storing evidence for %s", ticket)
            return refusal(503, "server_error", language)
        except OSError:  # e.g. a full disk: the temporary files are already gone
            count_upload(False, "server_error")
            logger.exception("Could not store evidence for %s", ticket)
            return refusal(500, "server_error", language)
        finally:
            if upload is not None and not finishing:
                upload.close()
        code = "duplicate" if duplicate else "stored"
        count_upload(True, code)
        return json_reply(
            200 if duplicate else 201,
            {
                "file": self._public(stored, query["t"], language),
                "duplicate": duplicate,
                "message": messages.text(code, language, name=upload.name),
            },
        )

    @staticmethod
    def _finish(upload: Receiving) -> Tuple[StoredFile, bool]:
        with upload:
            return upload.finish()

    async def _next_chunk(self, request: Request, deadline: float) -> bytes:
        """The next bytes of the body as they arrive; b"" when the client has ended the connection,
        sent nothing for `stall_seconds`, or is past the upload's deadline."""
        loop = asyncio.get_running_loop()
        stream = request.stream
        while True:
            if _client_done(request) and not stream.recv_buffer:
                return b""
            wait = min(self.stall_seconds, deadline - loop.time())
            if wait <= 0:
                return b""
            try:
                data = await asyncio.wait_for(stream.read(), wait)
            except asyncio.TimeoutError:
                logger.info("Dropped a stalled upload from %s", request.ip)
                return b""
            if data is None:  # the end of the body
                return b""
            if data:
                return data

    @staticmethod
    def _length(request: Request) -> Optional[int]:
        if request.headers.get("Transfer-Encoding"):
            return None  # chunked bodies are not read: their size is unknown until the end
        raw = request.headers.get("Content-Length")
        return int(raw) if raw is not None and raw.strip().isdigit() else None

    @staticmethod
    def _uploader(request: Request) -> str:
        """The user's address (nginx passes it as X-Real-IP in the production profile)."""
        address = request.headers.get("X-Real-IP") or request.ip
        return f"user@{address}"[:64]

    def _notify(self, ticket: str, query: Dict[str, str], language: str) -> Reply:
        claims = self._checked(ticket, query, language)
        if isinstance(claims, Reply):
            return claims
        ids = self.store.claim_unnotified(ticket)
        if not ids:
            return json_reply(200, {"notified": 0, "message": ""})
        if not tell_conversation(self.settings, claims.conversation_id, ticket, len(ids)):
            self.store.release_notified(ids)
            return refusal(502, "notify_failed", language)
        message = messages.text("notified", language, count=len(ids))
        return json_reply(200, {"notified": len(ids), "message": message})

    # --- the agent console (token) ------------------------------------------------------------

    def _agent(self, header: str) -> Tuple[bool, Optional[accounts.Agent]]:
        """(allowed, agent): an agent's session (agents/accounts.py, the shared database), or the API
        token (no agent: every conversation)."""
        given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not given:
            return False, None
        token = self.settings.agent_token
        if token and hmac.compare_digest(given.encode(), token.encode()):
            return True, None
        agent = accounts.session_agent(given)
        return agent is not None, agent

    @staticmethod
    def _may_read(agent: Optional[accounts.Agent], conversation_id: str) -> bool:
        """The console's rule (agents/access.py): an agent sees the files of the conversations they may
        read."""
        return agent is None or access.reading(agent, conversation_id).allowed

    def _agent_files(self, conversation_id: str, agent: Optional[accounts.Agent]) -> Reply:
        if not self._may_read(agent, conversation_id):
            return json_reply(403, {"error": access.ReadRefused.message})
        files = self.store.files_of_conversation(conversation_id)
        base = "/evidence/api/agent"
        return json_reply(
            200,
            {
                "conversation_id": conversation_id,
                "files": [
                    {
                        "id": file.id,
                        "ticket": file.ticket_number,
                        "name": file.original_name,
                        "kind": file.kind,
                        "content_type": file.content_type,
                        "size": file.size,
                        "sha256": file.sha256,
                        "width": file.width,
                        "height": file.height,
                        "duration": file.duration,
                        "note": file.note,
                        "uploader": file.uploader,
                        "uploaded_at": file.created_at.isoformat() + "Z",
                        "file_url": f"{base}/files/{file.id}",
                        "thumbnail_url": f"{base}/thumbnails/{file.id}" if file.thumbnail else None,
                        "preview_note": messages.text("no_preview", "zh")
                        if file.preview == "no_ffmpeg"
                        else "",
                    }
                    for file in files
                ],
            },
        )

    def _agent_file(self, file_id: str, agent: Optional[accounts.Agent], thumbnail: bool) -> Reply:
        file = self.store.file_by_id(int(file_id)) if file_id.isdigit() else None
        if file is None or (thumbnail and not file.thumbnail):
            return json_reply(404, {"error": "not found"})
        if not self._may_read(agent, file.conversation_id):
            return json_reply(403, {"error": access.ReadRefused.message})
        if thumbnail:
            path = self.store.path_of(file.ticket_number, file.thumbnail)
            return file_reply(path, "image/jpeg", f"{file.original_name}.thumb.jpg")
        path = self.store.path_of(file.ticket_number, file.file_name)
        return file_reply(path, file.content_type, file.original_name)
