"""An in-memory :class:`advisor.store.Store` for the API tests: the whole protocol, in dicts.

The API's tests need a store that behaves like the real one (hashed secrets, refusal reasons,
idempotent ingest, revocation) without a database, and it passes the same contract suite as
the SQL store (tests/advisor/store/test_contract.py, the tests taking ``hosts``).
Beyond the protocol it exposes what it holds (``batches``, ``ingest_calls``) for assertions,
and ``hold_ingest`` to keep ingests waiting while a test looks at the API under load.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, replace

from advisor.errors import EnrolmentRefused, UnknownCredential, WrongHost
from advisor.store import (
    AuthenticatedHost,
    Enrolment,
    HostRecord,
    IngestResult,
    TokenRecord,
    VersionSpan,
)
from advisor.store.sql import CREDENTIAL_BYTES, CREDENTIAL_PREFIX
from agent.shared.wire import Batch, InstalledPackage


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredBatch:
    host_id: str
    batch: Batch
    received_at: float
    sent_at: float | None


class MemoryStore:
    """Implements :class:`advisor.store.Store`; thread-safe behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenRecord] = {}
        self._token_ids_by_digest: dict[str, str] = {}
        self._hosts: dict[str, HostRecord] = {}
        self._host_ids_by_credential: dict[str, str] = {}
        self._spans: list[VersionSpan] = []
        self._inventory_at: dict[str, float] = {}
        self._released: set[str] = set()
        # By batch id, for the tests' assertions (they use distinct ids); idempotency goes by
        # (host id, batch id), as in the SQL store.
        self.batches: dict[str, StoredBatch] = {}
        self._stored_keys: set[tuple[str, str]] = set()
        self.ingest_calls = 0
        self.closed = False
        # Set by hold_ingest: ingest() announces itself on ``entered`` and waits for ``release``.
        self.entered: threading.Semaphore | None = None
        self.release: threading.Event | None = None

    def hold_ingest(self) -> tuple[threading.Semaphore, threading.Event]:
        """From now on every ingest signals the semaphore, then waits until the event is set."""
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        return self.entered, self.release

    def create_token(
        self,
        *,
        department: str,
        expires_at: float,
        now: float,
        max_uses: int | None = None,
        note: str | None = None,
    ) -> tuple[str, TokenRecord]:
        secret = secrets.token_urlsafe(24)
        record = TokenRecord(
            token_id=secrets.token_hex(8),
            department=department,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            uses=0,
            max_uses=max_uses,
            note=note,
        )
        with self._lock:
            self._tokens[record.token_id] = record
            self._token_ids_by_digest[_digest(secret)] = record.token_id
        return secret, record

    def list_tokens(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.token_id))

    def revoke_token(self, token_id: str, *, now: float) -> bool:
        with self._lock:
            record = self._tokens.get(token_id)
            if record is None:
                return False
            if record.revoked_at is None:
                self._tokens[token_id] = replace(record, revoked_at=now)
            return True

    def enrol(
        self,
        *,
        token: str,
        host_id: str,
        hostname: str,
        agent_version: str,
        now: float,
        current_credential: str | None = None,
    ) -> Enrolment:
        with self._lock:
            token_id = self._token_ids_by_digest.get(_digest(token))
            record = self._tokens.get(token_id) if token_id is not None else None
            if record is None:
                raise EnrolmentRefused(
                    "unknown",
                    "the enrolment token is not known to this advisor: check it was copied whole",
                )
            if record.revoked_at is not None:
                raise EnrolmentRefused("revoked", f"token {record.token_id} was revoked")
            if now >= record.expires_at:
                raise EnrolmentRefused("expired", f"token {record.token_id} has expired")
            if record.max_uses is not None and record.uses >= record.max_uses:
                raise EnrolmentRefused("used_up", f"token {record.token_id} is used up")
            existing = self._hosts.get(host_id)
            if existing is not None:
                self._check_enrol_again(existing, record.department, current_credential)
            self._tokens[record.token_id] = replace(record, uses=record.uses + 1)
            credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(CREDENTIAL_BYTES)
            self._forget_credentials_of(host_id)
            self._host_ids_by_credential[_digest(credential)] = host_id
            self._released.discard(host_id)
            self._hosts[host_id] = HostRecord(
                host_id=host_id,
                hostname=hostname,
                department=record.department,
                agent_version=agent_version,
                enrolled_at=now,
                last_seen_at=None if existing is None else existing.last_seen_at,
                revoked_at=None,
                clock_skew_seconds=None if existing is None else existing.clock_skew_seconds,
            )
            return Enrolment(host_id=host_id, department=record.department, credential=credential)

    def _check_enrol_again(
        self, host: HostRecord, department: str, current_credential: str | None
    ) -> None:
        if host.department != department:
            raise EnrolmentRefused("other_department", f"{host.host_id} is another department's")
        if host.host_id in self._released:
            return
        if host.revoked_at is not None:
            raise EnrolmentRefused("host_revoked", f"{host.host_id} was revoked")
        proven = (
            current_credential is not None
            and self._host_ids_by_credential.get(_digest(current_credential)) == host.host_id
        )
        if not proven:
            raise EnrolmentRefused("host_enrolled", f"{host.host_id} is enrolled already")

    def _forget_credentials_of(self, host_id: str) -> None:
        self._host_ids_by_credential = {
            digest: owner
            for digest, owner in self._host_ids_by_credential.items()
            if owner != host_id
        }

    def release_host(self, host_id: str, *, now: float, department: str | None = None) -> bool:
        with self._lock:
            host = self._hosts.get(host_id)
            if host is None:
                return False
            self._forget_credentials_of(host_id)
            self._released.add(host_id)
            if department is not None:
                self._hosts[host_id] = replace(host, department=department)
            return True

    def authenticate(self, credential: str) -> AuthenticatedHost | None:
        with self._lock:
            host_id = self._host_ids_by_credential.get(_digest(credential))
            host = self._hosts.get(host_id) if host_id is not None else None
            if host is None or host.revoked_at is not None:
                return None
            return AuthenticatedHost(host_id=host.host_id, department=host.department)

    def active_credentials(self) -> dict[str, AuthenticatedHost]:
        with self._lock:
            return {
                digest: AuthenticatedHost(host_id, self._hosts[host_id].department)
                for digest, host_id in self._host_ids_by_credential.items()
                if self._hosts[host_id].revoked_at is None
            }

    def revoke_host(self, host_id: str, *, now: float) -> bool:
        with self._lock:
            host = self._hosts.get(host_id)
            if host is None:
                return False
            if host.revoked_at is None:
                self._hosts[host_id] = replace(host, revoked_at=now)
            return True

    def list_hosts(self) -> list[HostRecord]:
        with self._lock:
            return sorted(self._hosts.values(), key=lambda host: (host.hostname, host.host_id))

    def ingest(
        self, host_id: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        entered, release = self.entered, self.release
        if entered is not None and release is not None:
            entered.release()
            release.wait(timeout=60)
        with self._lock:
            self.ingest_calls += 1
            if (host_id, batch.batch_id) in self._stored_keys:
                return IngestResult(batch_id=batch.batch_id, stored=False)
            self._stored_keys.add((host_id, batch.batch_id))
            self.batches[batch.batch_id] = StoredBatch(host_id, batch, received_at, sent_at)
            host = self._hosts.get(host_id)
            if host is not None:
                skew = host.clock_skew_seconds if sent_at is None else received_at - sent_at
                self._hosts[host_id] = replace(
                    host, last_seen_at=received_at, clock_skew_seconds=skew
                )
            if batch.inventory is not None:
                self._record_versions(host_id, batch)
            return IngestResult(batch_id=batch.batch_id, stored=True)

    def ingest_with_credential(
        self, credential: str, batch: Batch, *, received_at: float, sent_at: float | None
    ) -> IngestResult:
        owner = self.authenticate(credential)
        if owner is None:
            raise UnknownCredential("unknown credential")
        if owner.host_id != batch.host.host_id:
            raise WrongHost(owner.host_id)
        return self.ingest(owner.host_id, batch, received_at=received_at, sent_at=sent_at)

    def _record_versions(self, host_id: str, batch: Batch) -> None:
        inventory = batch.inventory
        assert inventory is not None
        at = inventory.collected_at
        if at <= self._inventory_at.get(host_id, float("-inf")):
            return  # an older inventory arriving late does not rewrite history
        self._inventory_at[host_id] = at
        # Multi-arch packages (libc6 amd64 and i386) have a span each, as in SqlStore.
        installed: dict[tuple[str, str, str], InstalledPackage] = {
            (item.source, item.package, item.arch or ""): item for item in inventory.software
        }
        still_open: set[tuple[str, str, str]] = set()
        for index, span in enumerate(self._spans):
            if span.host_id != host_id or span.until is not None:
                continue
            key = (span.source, span.package, span.arch or "")
            now_installed = installed.get(key)
            if now_installed is not None and now_installed.version == span.version:
                still_open.add(key)
            else:
                self._spans[index] = replace(span, until=at)
        for key, item in installed.items():
            if key not in still_open:
                self._spans.append(
                    VersionSpan(
                        host_id,
                        item.source,
                        item.package,
                        item.app,
                        item.version,
                        at,
                        None,
                        item.arch,
                    )
                )

    def version_history(self, host_id: str) -> list[VersionSpan]:
        with self._lock:
            mine = [span for span in self._spans if span.host_id == host_id]
        return sorted(mine, key=lambda s: (s.source, s.package, s.arch or "", s.since))

    def close(self) -> None:
        self.closed = True
