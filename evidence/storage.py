"""Evidence files on disk and their records in the SQL store (core/store.py's `evidence` table).

Layout under the evidence directory (CS_EVIDENCE_DIR, default var/evidence):

    <ticket>/<sha256>.<ext>         the stored file, named by its content's hash
    <ticket>/<sha256>.thumb.jpg     its thumbnail (a picture's, or a video's first frame)
    .tmp/*.part                     uploads in progress, each locked (flock) by the process writing it
    .tmp/*.journal                  files being put in place or removed, locked the same way
    .locks/<ticket>.lock            serializes the commit of one ticket's files across processes

Nothing is half-stored: an upload streams into a temporary file in .tmp (never into memory), is
type-checked from its first bytes, re-encoded or probed, and only then renamed into place (atomic on
one filesystem) and recorded. A crash leaves at most an unlocked temporary file or journal, which
`recover()` removes at start-up with the files the journal names that no row refers to. Rows are
written after their files and deleted before them, so no row names a missing file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Dict, Iterator, List, Optional, Sequence, Tuple

import filetype
from sqlalchemy import and_, func, or_, select

from core import store
from evidence import media
from evidence.config import Settings
from evidence.links import TICKET_NUMBER

logger = logging.getLogger(__name__)

# Checked type -> (kind, extension). Anything else (SVG, HTML, executables, archives …) is refused.
ALLOWED: Dict[str, Tuple[str, str]] = {
    "image/png": ("image", "png"),
    "image/jpeg": ("image", "jpg"),
    "image/webp": ("image", "webp"),
    "video/mp4": ("video", "mp4"),
    "video/webm": ("video", "webm"),
    "video/quicktime": ("video", "mov"),
}
SNIFF_BYTES = 8192  # what filetype reads of a file
CHUNK = 64 * 1024
NAME_CHARS = 120
NOTE_CHARS = 200
# Characters that can disguise a name (right-to-left overrides turn "gpj.exe" around).
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}


class UploadRefused(Exception):
    """An upload that is not stored; `code` is a key of evidence/messages.py, `status` the HTTP one."""

    def __init__(self, code: str, status: int, **params: object) -> None:
        super().__init__(code)
        self.code, self.status, self.params = code, status, params


class _Raced(Exception):
    """Rolls a transaction back when another one got there first."""


@dataclass(frozen=True)
class StoredFile:
    id: int
    ticket_number: str
    conversation_id: str
    kind: str
    content_type: str
    file_name: str
    thumbnail: Optional[str]
    size: int
    sha256: str
    upload_size: int
    original_name: str
    note: str
    uploader: str
    width: Optional[int]
    height: Optional[int]
    duration: Optional[float]
    preview: str
    created_at: datetime  # naive UTC


def _row_to_file(row) -> StoredFile:
    return StoredFile(**{field: getattr(row, field) for field in StoredFile.__dataclass_fields__})


def display_name(raw: Optional[str]) -> str:
    """The name shown to agents. Never used as a path: files are stored under their hash. A name with a
    path in it is refused rather than trimmed, since no browser sends one."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if "/" in name or "\\" in name or name in (".", ".."):
        raise UploadRefused("bad_name", 400)
    if any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in name):
        raise UploadRefused("bad_name", 400)
    return name[:NAME_CHARS] or "file"


def clean_note(raw: Optional[str]) -> str:
    text = "".join(c for c in (raw or "") if unicodedata.category(c) != "Cc" and c not in BIDI_CONTROLS)
    return " ".join(text.split())[:NOTE_CHARS]


def sniff(head: bytes) -> str:
    """The checked type of a file from its first bytes (filetype), or UploadRefused."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED:
        raise UploadRefused("bad_type", 415)
    return kind.mime


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _Temporary:
    """A file in .tmp, locked while this process uses it, removed on exit unless it was renamed."""

    def __init__(self, directory: Path, suffix: str) -> None:
        descriptor, name = tempfile.mkstemp(dir=directory, suffix=suffix)
        self.path = Path(name)
        self.file: BinaryIO = os.fdopen(descriptor, "r+b")
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # before the lock goes, so recovery never sees it unlocked and in use
        self.file.close()


class Receiving:
    """One upload as its bytes arrive (EvidenceStore.begin): copied to a locked temporary file in .tmp,
    never held in memory, its type checked from its first bytes before any is written and its size
    held to the declared length. `finish()` stores it once every byte is in; leaving the `with` block
    removes the temporary file whatever happened (after `finish()` it was renamed into place)."""

    def __init__(
        self,
        store: EvidenceStore,
        temporary: _Temporary,
        ticket: str,
        conversation_id: str,
        length: int,
        name: str,
        note: str,
        uploader: str,
    ) -> None:
        self.store, self.temporary = store, temporary
        self.ticket, self.conversation_id, self.length = ticket, conversation_id, length
        self.name, self.note, self.uploader = name, note, uploader
        self.received = 0
        self.content_type: Optional[str] = None
        self._digest = hashlib.sha256()
        self._head = bytearray()

    @property
    def missing(self) -> int:
        """Bytes still expected."""
        return self.length - self.received

    def write(self, chunk: bytes) -> None:
        """The next bytes of the body; raises UploadRefused as soon as they cannot be stored."""
        if len(chunk) > self.missing:
            raise ValueError(f"{len(chunk)} bytes sent where {self.missing} were left")
        self.received += len(chunk)
        limit = self.store.settings.max_file_bytes
        if self.received > limit:  # the declared length is checked; this is belt
            raise UploadRefused("too_large", 413, name=self.name, limit=limit)
        if self.content_type is None:
            self._head += chunk
            if len(self._head) < SNIFF_BYTES and self.missing:
                return
            try:
                self.content_type = sniff(bytes(self._head[:SNIFF_BYTES]))
            except UploadRefused as refused:
                refused.params["name"] = self.name
                raise
            chunk, self._head = bytes(self._head), bytearray()
        self._digest.update(chunk)
        self.temporary.file.write(chunk)

    def finish(self) -> Tuple[StoredFile, bool]:
        """Stores the complete upload; returns the stored file and whether it was a duplicate."""
        if self.missing or self.content_type is None:
            raise UploadRefused("truncated", 400, name=self.name)
        self.temporary.file.flush()
        os.fsync(self.temporary.file.fileno())
        return self.store._store(self, self.content_type, self._digest.hexdigest())

    def close(self) -> None:
        self.temporary.close()

    def __enter__(self) -> Receiving:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class EvidenceStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.directory
        self.tmp = self.root / ".tmp"
        self.locks = self.root / ".locks"

    # --- disk helpers -------------------------------------------------------------------------

    def _ensure_directories(self) -> None:
        for directory in (self.root, self.tmp, self.locks):
            directory.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _temporary(self, suffix: str = ".part") -> Iterator[_Temporary]:
        self._ensure_directories()
        temporary = _Temporary(self.tmp, suffix)
        try:
            yield temporary
        finally:
            temporary.close()

    @contextlib.contextmanager
    def _case_lock(self, ticket: str) -> Iterator[None]:
        """One ticket's commits and removals, one at a time, across threads and processes."""
        self._ensure_directories()
        with open(self.locks / f"{ticket}.lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def _journal(self, paths: Sequence[Path]) -> Iterator[None]:
        """Names the files about to be placed or removed, for recovery after a crash in between."""
        with self._temporary(".journal") as journal:
            relative = [str(path.relative_to(self.root)) for path in paths]
            journal.file.write(json.dumps(relative).encode())
            journal.file.flush()
            os.fsync(journal.file.fileno())
            yield

    def path_of(self, ticket: str, name: str) -> Path:
        if not TICKET_NUMBER.match(ticket) or "/" in name or name.startswith("."):
            raise ValueError(f"not an evidence file: {ticket}/{name}")
        return self.root / ticket / name

    # --- the database -------------------------------------------------------------------------

    def files_of_ticket(self, ticket: str) -> List[StoredFile]:
        query = select(store.evidence).where(store.evidence.c.ticket_number == ticket)
        with store.engine().connect() as connection:
            return [_row_to_file(row) for row in connection.execute(query.order_by(store.evidence.c.id))]

    def files_of_conversation(self, conversation_id: str) -> List[StoredFile]:
        query = select(store.evidence).where(store.evidence.c.conversation_id == conversation_id)
        with store.engine().connect() as connection:
            return [_row_to_file(row) for row in connection.execute(query.order_by(store.evidence.c.id))]

    def file_by_id(self, file_id: int) -> Optional[StoredFile]:
        with store.engine().connect() as connection:
            row = connection.execute(select(store.evidence).where(store.evidence.c.id == file_id)).first()
        return _row_to_file(row) if row is not None else None

    def _duplicate(self, ticket: str, sha256: str) -> Optional[StoredFile]:
        table = store.evidence.c
        query = select(store.evidence).where(
            table.ticket_number == ticket, or_(table.sha256 == sha256, table.upload_sha256 == sha256)
        )
        with store.engine().connect() as connection:
            row = connection.execute(query).first()
        return _row_to_file(row) if row is not None else None

    def usage(self, ticket: str) -> Tuple[int, int]:
        """Files and bytes received for the ticket so far."""
        table = store.evidence.c
        query = select(func.count(), func.coalesce(func.sum(table.upload_size), 0)).where(
            table.ticket_number == ticket
        )
        with store.engine().connect() as connection:
            count, total = connection.execute(query).one()
        return int(count), int(total)

    def claim_unnotified(self, ticket: str) -> List[int]:
        """The ticket's files not yet announced in the chat, marked as announced (release on failure)."""
        table = store.evidence.c
        try:
            with store.engine().begin() as connection:
                ids = list(
                    connection.execute(
                        select(table.id).where(table.ticket_number == ticket, table.notified.is_(False))
                    ).scalars()
                )
                if ids:
                    claimed = connection.execute(
                        store.evidence.update()
                        .where(table.id.in_(ids), table.notified.is_(False))
                        .values(notified=True)
                    ).rowcount
                    if claimed != len(ids):  # another request announced some of them meanwhile
                        raise _Raced()
        except _Raced:
            return []
        return ids

    def release_notified(self, ids: Sequence[int]) -> None:
        with store.engine().begin() as connection:
            connection.execute(
                store.evidence.update().where(store.evidence.c.id.in_(list(ids))).values(notified=False)
            )

    # --- receiving ----------------------------------------------------------------------------

    def check_room(self, ticket: str, length: int, name: str) -> None:
        """Refuses before reading a byte what cannot fit (checked again when the file is committed)."""
        limits = self.settings
        if length > limits.max_file_bytes:
            raise UploadRefused("too_large", 413, name=name, limit=limits.max_file_bytes)
        count, total = self.usage(ticket)
        if count >= limits.max_files:
            raise UploadRefused("too_many", 409, name=name, limit=limits.max_files)
        if total + length > limits.max_case_bytes:
            raise UploadRefused("case_full", 413, name=name, limit=limits.max_case_bytes)

    def begin(
        self, ticket: str, conversation_id: str, length: Optional[int], name: str, note: str, uploader: str
    ) -> Receiving:
        """An upload of `length` bytes about to arrive, refused now if its size says it cannot fit; its
        bytes go to `write()` as they come (use it as a context manager: what is not stored goes)."""
        if length is None:
            raise UploadRefused("length_required", 411, name=name)
        if length <= 0:
            raise UploadRefused("empty", 400, name=name)
        self.check_room(ticket, length, name)
        self._ensure_directories()
        return Receiving(
            self, _Temporary(self.tmp, ".part"), ticket, conversation_id, length, name, note, uploader
        )

    def receive(
        self,
        ticket: str,
        conversation_id: str,
        stream: BinaryIO,
        length: Optional[int],
        name: str,
        note: str,
        uploader: str,
    ) -> Tuple[StoredFile, bool]:
        """Streams one upload of `length` bytes from `stream` and stores it; returns the stored file and
        whether it was a duplicate of one already stored for the ticket. Raises UploadRefused."""
        with self.begin(ticket, conversation_id, length, name, note, uploader) as upload:
            while upload.missing:
                try:
                    chunk = stream.read(min(CHUNK, upload.missing))
                except OSError:  # a timeout or a reset connection
                    chunk = b""
                if not chunk:
                    raise UploadRefused("truncated", 400, name=name)
                upload.write(chunk)
            return upload.finish()

    def _store(self, upload: Receiving, content_type: str, upload_sha256: str) -> Tuple[StoredFile, bool]:
        """A received upload checked, cleaned, and committed (or found to be a duplicate)."""
        ticket, name = upload.ticket, upload.name
        duplicate = self._duplicate(ticket, upload_sha256)
        if duplicate is not None:
            return duplicate, True
        kind, extension = ALLOWED[content_type]
        with self._temporary() as clean, self._temporary() as thumbnail:
            details, has_thumbnail, preview = self._prepare(
                kind, content_type, upload.temporary, clean, thumbnail, name
            )
            stored = clean if kind == "image" else upload.temporary
            sha256 = _sha256_of(stored.path) if kind == "image" else upload_sha256
            record = {
                "ticket_number": ticket,
                "conversation_id": upload.conversation_id,
                "kind": kind,
                "content_type": content_type,
                "file_name": f"{sha256}.{extension}",
                "thumbnail": f"{sha256}.thumb.jpg" if has_thumbnail else None,
                "size": stored.path.stat().st_size,
                "sha256": sha256,
                "upload_size": upload.length,
                "upload_sha256": upload_sha256,
                "original_name": name,
                "note": upload.note,
                "uploader": upload.uploader[:64],
                "width": details.width,
                "height": details.height,
                "duration": details.duration,
                "preview": preview,
                "notified": False,
            }
            return self._commit(record, stored, thumbnail if has_thumbnail else None)

    def _prepare(
        self,
        kind: str,
        content_type: str,
        upload: _Temporary,
        clean: _Temporary,
        thumbnail: _Temporary,
        name: str,
    ) -> Tuple[media.MediaInfo, bool, str]:
        """(dimensions/duration, whether a thumbnail was made, why there is no preview if none)."""
        if kind == "image":
            try:
                details = media.sanitize_image(upload.path, content_type, clean.path)
                media.image_thumbnail(clean.path, thumbnail.path)
            except (media.MediaError, OSError) as error:
                logger.info("Refused %r as a picture: %s", name, error)
                raise UploadRefused("damaged_image", 422, name=name) from None
            return details, True, ""
        try:
            probed = media.probe_video(upload.path)
        except media.MediaError as error:
            logger.info("Refused %r as a video: %s", name, error)
            raise UploadRefused("damaged_video", 422, name=name) from None
        if probed is None:
            return media.MediaInfo(), False, "no_ffmpeg"
        has_poster = media.video_poster(upload.path, thumbnail.path)
        return probed, has_poster, "" if has_poster else "no_frame"

    def _commit(
        self, record: Dict, stored: _Temporary, thumbnail: Optional[_Temporary]
    ) -> Tuple[StoredFile, bool]:
        """Limits and duplicates checked again under the ticket's lock (concurrent uploads), then the
        files renamed into place and the row written; if the row cannot be written, the files go."""
        ticket, name = record["ticket_number"], record["original_name"]
        limits = self.settings
        with self._case_lock(ticket):
            duplicate = self._duplicate(ticket, record["sha256"])
            if duplicate is not None:
                return duplicate, True
            count, total = self.usage(ticket)
            if count + 1 > limits.max_files:
                raise UploadRefused("too_many", 409, name=name, limit=limits.max_files)
            if total + record["upload_size"] > limits.max_case_bytes:
                raise UploadRefused("case_full", 413, name=name, limit=limits.max_case_bytes)
            folder = self.root / ticket
            folder.mkdir(exist_ok=True)
            final = folder / record["file_name"]
            final_thumbnail = folder / record["thumbnail"] if thumbnail else None
            placed = [path for path in (final, final_thumbnail) if path is not None]
            with self._journal(placed):
                if thumbnail and final_thumbnail:
                    os.replace(thumbnail.path, final_thumbnail)
                os.replace(stored.path, final)
                _fsync_directory(folder)
                record["created_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
                try:
                    with store.engine().begin() as connection:
                        file_id = connection.execute(
                            store.evidence.insert().values(**record)
                        ).inserted_primary_key[0]
                        store.open_draft_ticket(record["ticket_number"], connection)
                except store.StoreError:
                    for path in placed:
                        path.unlink(missing_ok=True)
                    raise
        return StoredFile(
            id=file_id, **{k: v for k, v in record.items() if k in StoredFile.__dataclass_fields__}
        ), False

    # --- recovery, retention, checks ----------------------------------------------------------

    @staticmethod
    @contextlib.contextmanager
    def _if_abandoned(path: Path) -> Iterator[bool]:
        """True (and held) when no process holds the file's lock: its writer is gone."""
        try:
            file = open(path, "rb")
        except FileNotFoundError:
            yield False
            return
        with file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def _referenced(self, ticket: str) -> set:
        table = store.evidence.c
        with store.engine().connect() as connection:
            rows = connection.execute(
                select(table.file_name, table.thumbnail).where(table.ticket_number == ticket)
            ).fetchall()
        return {name for row in rows for name in row if name}

    def recover(self) -> Dict[str, int]:
        """At start-up: removes what interrupted uploads, commits and purges left behind."""
        self._ensure_directories()
        report = {"partial_files": 0, "unrecorded_files": 0}
        for journal in sorted(self.tmp.glob("*.journal")):
            with self._if_abandoned(journal) as abandoned:
                if not abandoned:
                    continue
                try:
                    named = json.loads(journal.read_bytes() or b"[]")
                except ValueError:
                    named = []  # the crash came before the journal was written: nothing was placed
                for relative in named:
                    path = self.root / relative
                    ticket = path.parent.name
                    with self._case_lock(ticket):
                        if path.exists() and path.name not in self._referenced(ticket):
                            path.unlink()
                            report["unrecorded_files"] += 1
                journal.unlink(missing_ok=True)
        for partial in sorted(self.tmp.glob("*.part")):
            with self._if_abandoned(partial) as abandoned:
                if abandoned:
                    partial.unlink(missing_ok=True)
                    report["partial_files"] += 1
        if any(report.values()):
            logger.warning("Evidence recovery: %s", report)
        return report

    def purge(
        self, days: Optional[float] = None, ticket: Optional[str] = None, now: Optional[datetime] = None
    ) -> Dict[str, int]:
        """Deletes the evidence of `ticket`, or of every ticket whose last upload is older than `days`
        days: rows first, then files, so a crash in between leaves files the journal names, not rows."""
        table = store.evidence.c
        if ticket is not None:
            tickets = [ticket]
        elif days is not None:
            cutoff = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
            cutoff -= timedelta(days=days)
            query = (
                select(table.ticket_number)
                .group_by(table.ticket_number)
                .having(func.max(table.created_at) < cutoff)
            )
            with store.engine().connect() as connection:
                tickets = list(connection.execute(query).scalars())
        else:
            raise ValueError("purge needs days or a ticket")
        report = {"tickets": 0, "files": 0}
        for number in tickets:
            with self._case_lock(number):
                files = self.files_of_ticket(number)
                if not files:
                    continue
                paths = [self.path_of(number, f.file_name) for f in files]
                paths += [self.path_of(number, f.thumbnail) for f in files if f.thumbnail]
                with self._journal(paths):
                    with store.engine().begin() as connection:
                        connection.execute(
                            store.evidence.delete().where(
                                and_(table.ticket_number == number, table.id.in_([f.id for f in files]))
                            )
                        )
                    for path in paths:
                        path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    (self.root / number).rmdir()  # only when empty
            report["tickets"] += 1
            report["files"] += len(files)
        return report

    def check(self) -> Dict[str, List[str]]:
        """Rows whose file is missing and files no row names (neither should exist): a report only,
        since a wrong CS_EVIDENCE_DIR or CS_DATABASE_URL would make every file look unrecorded."""
        with store.engine().connect() as connection:
            rows = connection.execute(select(store.evidence)).fetchall()
        missing, named = [], set()
        for row in rows:
            for name in filter(None, (row.file_name, row.thumbnail)):
                relative = f"{row.ticket_number}/{name}"
                named.add(relative)
                if not (self.root / relative).is_file():
                    missing.append(relative)
        on_disk = {
            f"{path.parent.name}/{path.name}"
            for path in self.root.glob("*/*")
            if path.is_file() and not path.parent.name.startswith(".")
        }
        return {"rows_without_file": sorted(missing), "files_without_row": sorted(on_disk - named)}
