"""The web server's metrics on GET /metrics (scripts/web.py): evidence uploads, accepted or refused,
counted by evidence/http.py as it answers them."""

from __future__ import annotations

from typing import Tuple

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

UPLOADS = Counter(
    "douyin_cs_uploads",
    "Evidence uploads answered: outcome accepted (reason stored or duplicate) or refused (reason: the "
    "refusal's code, e.g. too_large, bad_type, too_many, link (a bad or expired link), server_error)",
    ["outcome", "reason"],
)


def count_upload(accepted: bool, reason: str) -> None:
    UPLOADS.labels("accepted" if accepted else "refused", reason).inc()


def metrics() -> Tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
