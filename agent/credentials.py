"""Where the agent keeps what enrolment gave it: the credential (secret) and the enrolment record.

``STATE_DIR/credential`` holds the bearer secret alone, mode 0600. It is written to a temporary
file created 0600 (so it is never readable by others, not even for a moment, whatever the
umask), fsynced, renamed over the old one and the directory fsynced: a crash leaves either the
old credential or the new one, never half of one.

``STATE_DIR/enrolment.json`` records where and as whom the agent enrolled; no secret in it::

    {"advisor_url": "https://advisor.example:8443", "host_id": "4c1d...",
     "department": "finance", "enrolled_at": 1764000000.0}
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.errors import EnrolmentError

CREDENTIAL_MODE = 0o600
ENROLMENT_MODE = 0o644


@dataclass(frozen=True, slots=True)
class Enrolment:
    """The public half of an enrolment: which advisor, which host id, which department."""

    advisor_url: str
    host_id: str
    department: str | None
    enrolled_at: float


def load_credential(path: Path) -> str | None:
    """The stored secret, or None when the agent is not enrolled (no file, or an empty one).

    An unreadable file raises :class:`EnrolmentError`: "not enrolled" would send the operator
    looking in the wrong place.
    """
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnrolmentError(f"cannot read the credential {path}: {exc}") from exc
    return secret or None


def load_enrolment(path: Path) -> Enrolment | None:
    """The enrolment record, or None before the first enrolment.

    A damaged record raises :class:`EnrolmentError` naming the file (re-enrolling rewrites it).
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnrolmentError(f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(raw)
        department = data.get("department")
        enrolment = Enrolment(
            advisor_url=str(data["advisor_url"]),
            host_id=str(data["host_id"]),
            department=None if department is None else str(department),
            enrolled_at=float(data["enrolled_at"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise EnrolmentError(
            f"{path} is not a valid enrolment record ({exc!r}); enrol again to rewrite it"
        ) from exc
    return enrolment


def store_credential(path: Path, secret: str) -> None:
    """Write the secret atomically, mode 0600 from the first byte."""
    _write_atomically(path, (secret.strip() + "\n").encode(), CREDENTIAL_MODE)


def store_enrolment(path: Path, enrolment: Enrolment) -> None:
    """Write the enrolment record atomically."""
    body = json.dumps(asdict(enrolment), indent=2, sort_keys=True) + "\n"
    _write_atomically(path, body.encode(), ENROLMENT_MODE)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # left by a crash of an earlier run with the same pid
    # O_EXCL: never write into a file someone else prepared (a symlink, a wider mode).
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed it; never widens beyond mode
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
