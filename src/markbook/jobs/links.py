"""Share links: a signed, expiring token that downloads one job's file without signing in.

The token carries the job id and its own expiry, signed with the server's secret
key (HMAC-SHA1 via itsdangerous, salted so no other signed value of ours can pass
as a link). Nothing is stored: a link works until it expires or the file does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from markbook.errors import MarkbookError

_SALT = "markbook.job-download"


class LinkInvalid(MarkbookError):
    status = 403
    code = "link-invalid"


class LinkExpired(MarkbookError):
    status = 410
    code = "link-expired"


@dataclass(frozen=True)
class Link:
    token: str
    job_id: str
    expires_at: dt.datetime


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)

    def sign(self, job_id: str, expires_at: dt.datetime) -> Link:
        token = self._serializer.dumps({"j": job_id, "e": int(expires_at.timestamp())})
        return Link(token, job_id, dt.datetime.fromtimestamp(int(expires_at.timestamp()), dt.UTC))

    def job_for(self, token: str, now: dt.datetime) -> str:
        """The job a link names; 403 if it was not made by us, 410 once expired."""
        try:
            payload = self._serializer.loads(token)
            job_id, expires = str(payload["j"]), int(payload["e"])
        except (BadSignature, KeyError, TypeError, ValueError):
            raise LinkInvalid(
                "This download link is not valid: it may have been cut short or changed. "
                "Ask whoever shared it for a new one."
            ) from None
        if now.timestamp() >= expires:
            raise LinkExpired(
                "This download link has expired. Ask whoever shared it for a new one "
                "(POST /api/v1/jobs/{id}/link)."
            )
        return job_id
