"""Assemble the inventory and decide when it is worth sending.

The inventory is sent when it changed since the last send, and at least every
``inventory.interval`` (daily by default) so the advisor knows the host is still as it was.
What was last sent (its digest and time) is kept in a small JSON state file, so a restart does
not resend an unchanged inventory; a missing or unreadable state file only means "send now".
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.config import Config
from agent.inventory.hardware import read_hardware
from agent.inventory.software import SoftwareInventory, read_software
from agent.shared.wire import Hardware, Inventory, inventory_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Sent:
    digest: str
    sent_at: float


class InventoryCollector:
    """Collects the inventory, tells when it is due, and remembers what was sent.

    Thread-safe: the scheduler calls :meth:`take_due` and :meth:`mark_sent` from its job
    threads while the launch watcher and report endpoint call :meth:`version_of` for every
    launch, which only reads what the last :meth:`refresh` cached.
    """

    def __init__(
        self,
        config: Config,
        *,
        state_path: Path,
        read_hardware: Callable[[], Hardware] = read_hardware,
        read_software: Callable[[Config], SoftwareInventory] = read_software,
        clock: Callable[[], float] = time.time,
    ):
        self._config = config
        self._state_path = state_path
        self._read_hardware = read_hardware
        self._read_software = read_software
        self._clock = clock
        self._lock = threading.Lock()
        self._app_versions: dict[str, str] = {}
        self._sent: _Sent | None = None
        self._state_loaded = False

    def refresh(self) -> Inventory:
        """Read hardware and software now and cache the result and the apps' versions.

        Exceptions from the readers propagate; the cache then keeps the previous values.
        """
        hardware = self._read_hardware()
        software = self._read_software(self._config)
        inventory = Inventory(
            collected_at=self._clock(),
            digest=inventory_digest(hardware, software.installed, software.upgradable),
            hardware=hardware,
            software=software.installed,
            upgradable=software.upgradable,
        )
        with self._lock:
            self._app_versions = dict(software.app_versions)
        return inventory

    def take_due(self) -> Inventory | None:
        """Refresh, then return the inventory if it should be sent, else None.

        Due when nothing was sent yet (or the state file is missing or corrupt), when the digest
        differs from the last one sent, when the last send is ``inventory.interval`` old, or when
        the clock is now before the last send (the recorded time cannot be trusted).
        """
        inventory = self.refresh()
        with self._lock:
            sent = self._last_sent()
        if sent is None or sent.digest != inventory.digest:
            return inventory
        age = inventory.collected_at - sent.sent_at
        if age < 0 or age >= self._config.inventory.interval:
            return inventory
        return None

    def mark_sent(self, inventory: Inventory) -> None:
        """Remember that ``inventory`` is on its way (spooled), in memory and in the state file.

        A state file that cannot be written is logged, not raised: the worst outcome is one
        extra inventory after a restart.
        """
        sent = _Sent(inventory.digest, self._clock())
        with self._lock:
            self._sent = sent
            self._state_loaded = True
            try:
                self._write_state(sent)
            except OSError as exc:
                log.warning("cannot write the inventory state %s: %s", self._state_path, exc)

    def version_of(self, app: str) -> str | None:
        """The installed version of watched ``app`` as of the last refresh; no I/O."""
        with self._lock:
            return self._app_versions.get(app)

    def _last_sent(self) -> _Sent | None:
        if not self._state_loaded:
            self._sent = self._read_state()
            self._state_loaded = True
        return self._sent

    def _read_state(self) -> _Sent | None:
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable inventory state %s: %s", self._state_path, exc)
            return None
        digest = data.get("digest") if isinstance(data, dict) else None
        sent_at = data.get("sent_at") if isinstance(data, dict) else None
        if (
            not isinstance(digest, str)
            or isinstance(sent_at, bool)
            or not isinstance(sent_at, int | float)
        ):
            log.warning("ignoring malformed inventory state %s", self._state_path)
            return None
        return _Sent(digest, float(sent_at))

    def _write_state(self, sent: _Sent) -> None:
        # Written aside and renamed over the old file, so a crash mid-write leaves the old
        # state or the new one, never half of one.
        directory = self._state_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            dir=directory, prefix=f".{self._state_path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"digest": sent.digest, "sent_at": sent.sent_at}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(self._state_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
