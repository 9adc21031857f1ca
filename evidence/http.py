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
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlsplit

from agents import access, accounts
from core import store
from evidence import links, messages
from evidence.config import Settings
from evidence.notify import tell_conversation
from evidence.storage import CHUNK, EvidenceStore, StoredFile, UploadRefused, display_name
from observability.web_server import count_upload

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parent.parent / "web" / "evidence.html"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
FILE_POLICY = "default-src 'none'; sandbox"  # a file opened directly runs nothing
INLINE_KINDS = ("image/", "video/")
DRAIN_SECONDS = 5.0
LINK_STATUS = {"link_invalid": 403, "link_expired": 403, "link_other_case": 403, "no_ticket": 404}


class _CountingReader:
    """The request body as read so far: what is left is drained after a refusal."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.read_bytes = stream, 0

    def read(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.read_bytes += len(data)
        return data


class EvidenceHTTP:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = EvidenceStore(settings)

    def start(self) -> Dict[str, int]:
        """Cleans up after a crash before the first request (evidence/storage.py, recover)."""
        return self.store.recover()

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/evidence" or path.startswith("/evidence/")

    # --- responses ----------------------------------------------------------------------------

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        policy: str = API_POLICY,
        extra: Optional[Dict[str, str]] = None,
    ) -> None:
        handler.send_response(status)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": policy,
            "Referrer-Policy": "no-referrer",  # the page's address holds the link's token
            "Cache-Control": "no-store",
            **(extra or {}),
        }
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _json(self, handler: BaseHTTPRequestHandler, status: int, data: Dict[str, Any]) -> None:
        body = json.dumps(data, ensure_ascii=False).encode()
        self._send(handler, status, body, "application/json; charset=utf-8")

    def _refuse(
        self, handler: BaseHTTPRequestHandler, status: int, code: str, language: str, **params
    ) -> None:
        if "limit" in params and code in ("too_large", "case_full"):
            params["limit"] = messages.size_label(int(params["limit"]))
        params.setdefault("name", "")
        self._json(handler, status, {"error": code, "message": messages.text(code, language, **params)})

    def _send_file(self, handler: BaseHTTPRequestHandler, path: Path, content_type: str, name: str) -> None:
        """Streams a stored file; inline only for pictures and videos."""
        try:
            file = open(path, "rb")
        except FileNotFoundError:
            return self._json(handler, 404, {"error": "missing"})
        with file:
            size = path.stat().st_size
            disposition = "inline" if content_type.startswith(INLINE_KINDS) else "attachment"
            handler.send_response(200)
            for header, value in {
                "Content-Type": content_type,
                "Content-Length": str(size),
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
                "Content-Security-Policy": FILE_POLICY,
                "Cache-Control": "private, no-store",
            }.items():
                handler.send_header(header, value)
            handler.end_headers()
            for block in iter(lambda: file.read(CHUNK), b""):
                handler.wfile.write(block)

    # --- routing ------------------------------------------------------------------------------

    @staticmethod
    def _parts(handler: BaseHTTPRequestHandler) -> Tuple[list, Dict[str, str]]:
        url = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        return [unquote(part) for part in url.path.split("/")[2:]], query

    def get(self, handler: BaseHTTPRequestHandler) -> None:
        parts, query = self._parts(handler)
        language = messages.language_of(query.get("lang"))
        if len(parts) == 1 and links.TICKET_NUMBER.match(parts[0]):
            # The pages' own policy (scripts/web.py): scripts from this host only, none inline.
            policy = getattr(handler, "_content_security_policy", lambda: API_POLICY)()
            return self._send(handler, 200, PAGE.read_bytes(), "text/html; charset=utf-8", policy)
        if parts[:2] == ["api", "case"] and len(parts) == 3:
            return self._case_info(handler, parts[2], query, language)
        if parts[:2] == ["api", "case"] and len(parts) == 5 and parts[3] == "thumbnails":
            return self._case_thumbnail(handler, parts[2], parts[4], query, language)
        if parts[:2] == ["api", "agent"] and len(parts) == 4:
            allowed, agent = self._agent(handler)
            if not allowed:
                return self._json(handler, 401, {"error": "unauthorized"})
            if parts[2] == "conversations":
                return self._agent_files(handler, parts[3], agent)
            if parts[2] in ("files", "thumbnails"):
                return self._agent_file(handler, parts[3], agent, thumbnail=parts[2] == "thumbnails")
        return self._json(handler, 404, {"error": "not found"})

    def post(self, handler: BaseHTTPRequestHandler) -> None:
        parts, query = self._parts(handler)
        language = messages.language_of(query.get("lang"))
        if parts[:2] == ["api", "case"] and len(parts) == 4 and parts[3] == "files":
            return self._upload(handler, parts[2], query, language)
        if parts[:2] == ["api", "case"] and len(parts) == 4 and parts[3] == "notify":
            return self._notify(handler, parts[2], query, language)
        self._drain(handler, _CountingReader(handler.rfile))
        return self._json(handler, 404, {"error": "not found"})

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

    def _checked(self, handler, ticket: str, query: Dict[str, str], language: str) -> Optional[links.Claims]:
        try:
            return self._claims(ticket, query)
        except links.LinkError as error:
            self._refuse(handler, LINK_STATUS.get(error.code, 403), error.code, language)
        except store.StoreError:
            logger.exception("The database failed checking a link for %s", ticket)
            self._refuse(handler, 503, "server_error", language)
        return None

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

    def _case_info(self, handler, ticket: str, query: Dict[str, str], language: str) -> None:
        claims = self._checked(handler, ticket, query, language)
        if claims is None:
            return None
        files = self.store.files_of_ticket(ticket)
        limits = self.settings
        return self._json(
            handler,
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

    def _case_thumbnail(self, handler, ticket: str, file_id: str, query, language: str) -> None:
        if self._checked(handler, ticket, query, language) is None:
            return None
        file = self.store.file_by_id(int(file_id)) if file_id.isdigit() else None
        if file is None or file.ticket_number != ticket or not file.thumbnail:
            return self._json(handler, 404, {"error": "not found"})
        return self._send_file(handler, self.store.path_of(ticket, file.thumbnail), "image/jpeg", "thumb.jpg")

    def _upload(self, handler, ticket: str, query: Dict[str, str], language: str) -> None:
        body = _CountingReader(handler.rfile)
        name = unquote(handler.headers.get("X-File-Name") or "")
        try:
            claims = self._checked(handler, ticket, query, language)
            if claims is None:
                count_upload(False, "link")
                return None
            name = display_name(name)
            length = self._length(handler)
            stored, duplicate = self.store.receive(
                ticket=ticket,
                conversation_id=claims.conversation_id,
                stream=body,
                length=length,
                name=name,
                note=unquote(handler.headers.get("X-File-Note") or ""),
                uploader=self._uploader(handler),
            )
        except UploadRefused as refused:
            count_upload(False, refused.code)
            params = {"name": name, **refused.params}
            self._refuse(handler, refused.status, refused.code, language, **params)
            return None
        except store.StoreError:
            count_upload(False, "server_error")
            logger.exception("The database failed storing evidence for %s", ticket)
            self._refuse(handler, 503, "server_error", language)
            return None
        except OSError:  # e.g. a full disk: the temporary files are already gone
            count_upload(False, "server_error")
            logger.exception("Could not store evidence for %s", ticket)
            self._refuse(handler, 500, "server_error", language)
            return None
        finally:
            self._drain(handler, body)
        code = "duplicate" if duplicate else "stored"
        count_upload(True, code)
        return self._json(
            handler,
            200 if duplicate else 201,
            {
                "file": self._public(stored, query["t"], language),
                "duplicate": duplicate,
                "message": messages.text(code, language, name=name),
            },
        )

    @staticmethod
    def _length(handler: BaseHTTPRequestHandler) -> Optional[int]:
        if handler.headers.get("Transfer-Encoding"):
            return None  # chunked bodies are not read: their size is unknown until the end
        raw = handler.headers.get("Content-Length")
        return int(raw) if raw is not None and raw.strip().isdigit() else None

    @staticmethod
    def _uploader(handler: BaseHTTPRequestHandler) -> str:
        """The user's address (nginx passes it as X-Real-IP in the production profile)."""
        address = handler.headers.get("X-Real-IP") or handler.client_address[0]
        return f"user@{address}"[:64]

    def _drain(self, handler: BaseHTTPRequestHandler, body: _CountingReader) -> None:
        """Reads and drops what a refused upload still sends (for a few seconds at most), so that the
        client reads the refusal instead of a reset connection. Nothing of it is kept."""
        length = self._length(handler) or 0
        remaining = length - body.read_bytes
        if remaining <= 0:
            return
        handler.close_connection = True
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            handler.connection.settimeout(1.0)
            while remaining > 0 and time.monotonic() < deadline:
                data = handler.rfile.read1(min(CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
        except OSError:
            pass

    def _notify(self, handler, ticket: str, query: Dict[str, str], language: str) -> None:
        claims = self._checked(handler, ticket, query, language)
        if claims is None:
            return None
        ids = self.store.claim_unnotified(ticket)
        if not ids:
            return self._json(handler, 200, {"notified": 0, "message": ""})
        if not tell_conversation(self.settings, claims.conversation_id, ticket, len(ids)):
            self.store.release_notified(ids)
            return self._refuse(handler, 502, "notify_failed", language)
        message = messages.text("notified", language, count=len(ids))
        return self._json(handler, 200, {"notified": len(ids), "message": message})

    # --- the agent console (token) ------------------------------------------------------------

    def _agent(self, handler: BaseHTTPRequestHandler) -> Tuple[bool, Optional[accounts.Agent]]:
        """(allowed, agent): an agent's session (agents/accounts.py, the shared database), or the API
        token (no agent: every conversation)."""
        header = handler.headers.get("Authorization") or ""
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

    def _agent_files(self, handler, conversation_id: str, agent: Optional[accounts.Agent]) -> None:
        if not self._may_read(agent, conversation_id):
            return self._json(handler, 403, {"error": access.ReadRefused.message})
        files = self.store.files_of_conversation(conversation_id)
        base = "/evidence/api/agent"
        return self._json(
            handler,
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

    def _agent_file(self, handler, file_id: str, agent: Optional[accounts.Agent], thumbnail: bool) -> None:
        file = self.store.file_by_id(int(file_id)) if file_id.isdigit() else None
        if file is None or (thumbnail and not file.thumbnail):
            return self._json(handler, 404, {"error": "not found"})
        if not self._may_read(agent, file.conversation_id):
            return self._json(handler, 403, {"error": access.ReadRefused.message})
        if thumbnail:
            path = self.store.path_of(file.ticket_number, file.thumbnail)
            return self._send_file(handler, path, "image/jpeg", f"{file.original_name}.thumb.jpg")
        path = self.store.path_of(file.ticket_number, file.file_name)
        return self._send_file(handler, path, file.content_type, file.original_name)
