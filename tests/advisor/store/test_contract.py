"""The Enrolments and Ingest contract (advisor.store.Store).

Tests taking ``hosts`` call only the interface and run on every implementation: in memory
(tests/advisor/api/memory_store.py) and SQL on SQLite and PostgreSQL (conftest.py). Tests taking
``store`` and ``engine`` also read the tables: they are the SQL implementation's own.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from advisor.errors import EnrolmentRefused, UnstorableBatch
from advisor.store import AuthenticatedHost, Enrolment, IngestResult, Store, VersionSpan
from advisor.store.models import (
    BatchRecord,
    CurrentPackage,
    EnrolmentToken,
    Host,
    LaunchCountRow,
    LaunchRow,
    MetricSummaryRow,
    UpgradablePackageRow,
)
from advisor.store.sql import SqlStore
from advisor.store.tokens import secret_sha256
from agent.shared.wire import (
    Batch,
    Disk,
    Hardware,
    HostIdentity,
    InstalledPackage,
    Interval,
    Inventory,
    LaunchCount,
    LaunchEvent,
    MetricSummary,
    UpgradablePackage,
)

T0 = 1_764_000_000.0
DAY = 86_400.0

# One minute of a desktop's summaries: the metric names and labels the agent's collectors emit.
SERIES: list[tuple[str, dict[str, str]]] = [
    ("cpu_utilization_ratio", {}),
    ("cpu_iowait_ratio", {}),
    ("cpu_steal_ratio", {}),
    ("memory_used_ratio", {}),
    ("memory_available_bytes", {}),
    ("swap_used_bytes", {}),
    ("swap_in_bytes_per_second", {}),
    ("swap_out_bytes_per_second", {}),
    ("major_page_faults_per_second", {}),
    ("pressure_cpu_some_ratio", {}),
    ("pressure_cpu_full_ratio", {}),
    ("pressure_memory_some_ratio", {}),
    ("pressure_memory_full_ratio", {}),
    ("pressure_io_some_ratio", {}),
    ("pressure_io_full_ratio", {}),
    ("disk_used_ratio", {"mount": "/"}),
    ("disk_free_bytes", {"mount": "/"}),
    ("disk_io_latency_seconds", {"device": "nvme0n1"}),
    ("disk_io_utilization_ratio", {"device": "nvme0n1"}),
    ("disk_read_bytes_per_second", {"device": "nvme0n1"}),
    ("disk_write_bytes_per_second", {"device": "nvme0n1"}),
    ("network_receive_bytes_per_second", {"interface": "enp3s0"}),
    ("network_transmit_bytes_per_second", {"interface": "enp3s0"}),
    ("network_errors_per_second", {"interface": "enp3s0"}),
    ("app_cpu_utilization_ratio", {"app": "firefox"}),
    ("app_rss_bytes", {"app": "firefox"}),
    ("app_cpu_utilization_ratio", {"app": "libreoffice"}),
    ("app_rss_bytes", {"app": "libreoffice"}),
    ("app_cpu_utilization_ratio", {"app": "thunderbird"}),
    ("app_rss_bytes", {"app": "thunderbird"}),
]


def summaries(scale: float = 1.0) -> list[MetricSummary]:
    """Thirty summaries with distinct, checkable values."""
    return [
        MetricSummary(
            name=name,
            labels=labels,
            count=12,
            sum=12 * 0.25 * scale * (i + 1),
            min=0.01 * (i + 1),
            max=0.9 * (i + 1),
            p50=0.2 * (i + 1),
            p90=0.5 * (i + 1),
            p99=0.8 * (i + 1),
        )
        for i, (name, labels) in enumerate(SERIES)
    ]


def launches(start: float) -> list[LaunchEvent]:
    return [
        LaunchEvent(
            app="libreoffice",
            version="4:7.4.7-1+deb12u8",
            method="passive",
            outcome="ok",
            started_at=start + 11.2,
            duration_seconds=2.31,
            ready_signal="cpu_settled",
            start_kind="cold",
        ),
        LaunchEvent(
            app="intranet",
            version=None,
            method="probe",
            outcome="ok",
            started_at=start + 30.0,
            duration_seconds=0.412,
            ready_signal="http_response",
            phases={"dns": 0.004, "connect": 0.011, "tls": 0.052, "first_byte": 0.38},
            probe="https://intranet.example/",
        ),
        LaunchEvent(
            app="firefox",
            version="115.5.0esr",
            method="reported",
            outcome="timeout",
            started_at=start + 45.5,
            duration_seconds=None,
            ready_signal="reported",
            detail="login script gave up\n\tafter 30 s",
        ),
    ]


def make_batch(
    host_id: str,
    *,
    sequence: int = 1,
    created_at: float = T0 + 60,
    inventory: Inventory | None = None,
    launch_counts: list[LaunchCount] | None = None,
) -> Batch:
    """A realistic batch: one minute of summaries, three launches, their counts."""
    start = created_at - 60
    return Batch(
        batch_id=f"{host_id}-{sequence:06d}",
        sequence=sequence,
        created_at=created_at,
        host=HostIdentity(host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1.0"),
        intervals=[Interval(start=start, end=created_at, metrics=summaries())],
        launches=launches(start),
        launch_counts=(
            [
                LaunchCount(app="libreoffice", day="2025-11-24", method="passive", count=1),
                LaunchCount(app="intranet", day="2025-11-24", method="probe", count=1),
            ]
            if launch_counts is None
            else launch_counts
        ),
        inventory=inventory,
    )


HARDWARE = Hardware(
    cpu_model="Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
    cpu_cores=6,
    cpu_threads=6,
    cpu_max_mhz=4100.0,
    memory_bytes=8 * 1024**3,
    swap_bytes=2 * 1024**3,
    disks=[Disk(name="sda", kind="hdd", size_bytes=500_107_862_016, rotational=True)],
    machine_vendor="Dell Inc.",
    machine_model="OptiPlex 3060",
    bios_date="2019-05-13",
    os_name="Debian GNU/Linux",
    os_version="12",
    kernel="6.1.0-26-amd64",
    arch="x86_64",
)


def inventory(
    collected_at: float, packages: dict[str, str], *, memory_gib: int = 8, upgradable: int = 0
) -> Inventory:
    """An inventory with dpkg ``packages`` (name -> version); each is its own watched app."""
    return Inventory(
        collected_at=collected_at,
        digest=f"digest-{collected_at}",
        hardware=replace(HARDWARE, memory_bytes=memory_gib * 1024**3),
        software=[
            InstalledPackage(package=name, version=version, source="dpkg", arch="amd64", app=name)
            for name, version in packages.items()
        ],
        upgradable=[
            UpgradablePackage(
                package=f"lib{i}",
                installed="1.0",
                candidate="1.1",
                origin="Debian-Security",
                arch="amd64",
            )
            for i in range(upgradable)
        ],
    )


def enrolled(store: Store, host_id: str = "host-a", department: str = "finance") -> Enrolment:
    secret, _ = store.create_token(department=department, expires_at=T0 + 7 * DAY, now=T0)
    return store.enrol(
        token=secret, host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1.0", now=T0
    )


def rows(engine: sa.Engine, model: type[Any], **where: object) -> list[dict[str, Any]]:
    """The rows of a model's table matching ``where``, as dicts, in primary-key order."""
    table: sa.Table = model.__table__
    query = sa.select(table).order_by(*table.primary_key.columns)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def span(package: str, version: str, since: float, until: float | None) -> VersionSpan:
    return VersionSpan(
        host_id="host-a",
        source="dpkg",
        package=package,
        app=package,
        version=version,
        since=since,
        until=until,
        arch="amd64",
    )


# -- enrolment tokens ----------------------------------------------------------------------


def test_a_token_secret_is_returned_once_and_only_its_hash_is_stored(
    store: SqlStore, engine: sa.Engine
) -> None:
    secret, record = store.create_token(
        department="finance", expires_at=T0 + DAY, now=T0, max_uses=50, note="floor 3"
    )

    assert secret.startswith("fst_")
    assert len(secret) == len("fst_") + 32  # 24 bytes of urlsafe base64
    assert store.list_tokens() == [record]
    assert (record.department, record.uses, record.max_uses, record.note) == (
        "finance",
        0,
        50,
        "floor 3",
    )
    stored = rows(engine, EnrolmentToken)
    assert len(stored) == 1
    assert secret not in {str(value) for value in stored[0].values()}


def test_tokens_are_listed_oldest_first_with_their_state(hosts: Store) -> None:
    _, first = hosts.create_token(department="finance", expires_at=T0 + DAY, now=T0)
    _, second = hosts.create_token(department="legal", expires_at=T0 + DAY, now=T0 + 5)
    assert hosts.revoke_token(first.token_id, now=T0 + 10)

    listed = hosts.list_tokens()

    assert [token.token_id for token in listed] == [first.token_id, second.token_id]
    assert [token.revoked_at for token in listed] == [T0 + 10, None]


def test_revoking_a_token_twice_keeps_the_first_time_and_unknown_tokens_are_reported(
    hosts: Store,
) -> None:
    _, record = hosts.create_token(department="finance", expires_at=T0 + DAY, now=T0)

    assert hosts.revoke_token(record.token_id, now=T0 + 1)
    assert hosts.revoke_token(record.token_id, now=T0 + 2)
    assert hosts.revoke_token("no-such-token", now=T0 + 3) is False
    assert hosts.list_tokens()[0].revoked_at == T0 + 1


def test_a_token_with_no_use_limit_enrols_a_whole_department_until_it_expires(
    hosts: Store,
) -> None:
    secret, _ = hosts.create_token(department="finance", expires_at=T0 + DAY, now=T0)

    for n in range(3):
        hosts.enrol(token=secret, host_id=f"h{n}", hostname=f"h{n}", agent_version="0.1", now=T0)

    assert hosts.list_tokens()[0].uses == 3
    assert {host.department for host in hosts.list_hosts()} == {"finance"}
    with pytest.raises(EnrolmentRefused) as refused:
        hosts.enrol(
            token=secret, host_id="late", hostname="late", agent_version="0.1", now=T0 + DAY
        )
    assert refused.value.reason == "expired"
    assert "expired" in str(refused.value)


def test_a_token_is_used_up_at_max_uses(hosts: Store) -> None:
    secret, record = hosts.create_token(
        department="finance", expires_at=T0 + DAY, now=T0, max_uses=2
    )
    hosts.enrol(token=secret, host_id="h1", hostname="h1", agent_version="0.1", now=T0)
    hosts.enrol(token=secret, host_id="h2", hostname="h2", agent_version="0.1", now=T0)

    with pytest.raises(EnrolmentRefused) as refused:
        hosts.enrol(token=secret, host_id="h3", hostname="h3", agent_version="0.1", now=T0)

    assert refused.value.reason == "used_up"
    assert "used up" in str(refused.value)
    assert record.token_id in str(refused.value)
    assert hosts.list_tokens()[0].uses == 2
    assert [host.host_id for host in hosts.list_hosts()] == ["h1", "h2"]


def test_hosts_are_listed_by_hostname_then_id(hosts: Store) -> None:
    secret, _ = hosts.create_token(department="finance", expires_at=T0 + DAY, now=T0)
    for host_id, hostname in (("h1", "zeta"), ("h2", "alpha"), ("h0", "alpha")):
        hosts.enrol(token=secret, host_id=host_id, hostname=hostname, agent_version="0.1", now=T0)

    assert [host.host_id for host in hosts.list_hosts()] == ["h0", "h2", "h1"]


def test_enrolment_with_an_unknown_token_is_refused(hosts: Store) -> None:
    hosts.create_token(department="finance", expires_at=T0 + DAY, now=T0)

    with pytest.raises(EnrolmentRefused) as refused:
        hosts.enrol(
            token="fst_not-a-real-token", host_id="h", hostname="h", agent_version="0", now=T0
        )

    assert refused.value.reason == "unknown"
    assert "not known" in str(refused.value)
    assert hosts.list_hosts() == []


def test_enrolment_with_a_revoked_token_is_refused(hosts: Store) -> None:
    secret, record = hosts.create_token(department="finance", expires_at=T0 + DAY, now=T0)
    hosts.revoke_token(record.token_id, now=T0 + 1)

    with pytest.raises(EnrolmentRefused) as refused:
        hosts.enrol(token=secret, host_id="h", hostname="h", agent_version="0", now=T0 + 2)

    assert refused.value.reason == "revoked"
    assert "revoked" in str(refused.value)
    assert hosts.list_tokens()[0].uses == 0


# -- hosts ---------------------------------------------------------------------------------


def test_enrolment_gives_a_credential_that_authenticates_the_host_in_the_tokens_department(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolment = enrolled(store, "host-a", department="legal")

    assert enrolment.credential.startswith("fsc_")
    assert len(enrolment.credential) == len("fsc_") + 43  # 32 bytes of urlsafe base64
    assert enrolment.department == "legal"
    authenticated = store.authenticate(enrolment.credential)
    assert authenticated is not None
    assert (authenticated.host_id, authenticated.department) == ("host-a", "legal")
    [host] = store.list_hosts()
    assert (host.host_id, host.hostname, host.department, host.enrolled_at) == (
        "host-a",
        "host-a.example",
        "legal",
        T0,
    )
    assert (host.last_seen_at, host.revoked_at) == (None, None)
    assert enrolment.credential not in {str(value) for value in rows(engine, Host)[0].values()}


def test_unknown_credentials_do_not_authenticate(hosts: Store) -> None:
    enrolled(hosts)

    assert hosts.authenticate("fsc_" + "A" * 43) is None
    assert hosts.authenticate("") is None
    assert hosts.authenticate("Bearer nonsense") is None


def token_for(store: Store, department: str = "finance") -> str:
    secret, _ = store.create_token(department=department, expires_at=T0 + 7 * DAY, now=T0)
    return secret


def enrol_again(
    store: Store,
    department: str = "finance",
    current_credential: str | None = None,
    host_id: str = "host-a",
) -> Enrolment:
    return store.enrol(
        token=token_for(store, department),
        host_id=host_id,
        hostname="reinstalled.example",
        agent_version="0.2.0",
        now=T0 + 100,
        current_credential=current_credential,
    )


def test_reenrolment_with_the_current_credential_replaces_it(hosts: Store) -> None:
    first = enrolled(hosts, "host-a", department="finance")

    second = enrol_again(hosts, "finance", current_credential=first.credential)

    assert hosts.authenticate(first.credential) is None
    assert hosts.authenticate(second.credential) is not None
    [host] = hosts.list_hosts()
    assert (host.department, host.hostname, host.agent_version) == (
        "finance",
        "reinstalled.example",
        "0.2.0",
    )


def test_another_departments_token_never_takes_over_or_moves_a_host(hosts: Store) -> None:
    first = enrolled(hosts, "host-a", department="finance")
    hr_token = token_for(hosts, "hr")

    with pytest.raises(EnrolmentRefused) as refused:
        hosts.enrol(
            token=hr_token,
            host_id="host-a",
            hostname="evil",
            agent_version="6.6.6",
            now=T0 + 100,
            current_credential=first.credential,
        )

    assert refused.value.reason == "other_department"
    assert hosts.authenticate(first.credential) is not None
    [host] = hosts.list_hosts()
    assert (host.department, host.hostname) == ("finance", "host-a.example")
    assert {t.uses for t in hosts.list_tokens() if t.department == "hr"} == {0}


def test_reenrolment_without_proof_of_the_credential_is_refused(hosts: Store) -> None:
    first = enrolled(hosts, "host-a", department="finance")

    for proof in (None, "fsc_" + "A" * 43, "not-a-credential"):
        with pytest.raises(EnrolmentRefused) as refused:
            enrol_again(hosts, "finance", current_credential=proof)
        assert refused.value.reason == "host_enrolled"

    assert hosts.authenticate(first.credential) is not None


def test_reenrolment_never_lifts_a_revocation(hosts: Store) -> None:
    first = enrolled(hosts, "host-a", department="finance")
    assert hosts.revoke_host("host-a", now=T0 + 10)

    with pytest.raises(EnrolmentRefused) as refused:
        enrol_again(hosts, "finance", current_credential=first.credential)

    assert refused.value.reason == "host_revoked"
    [host] = hosts.list_hosts()
    assert host.revoked_at == T0 + 10


def test_a_released_host_is_taken_over_by_its_departments_next_enrolment(
    hosts: Store,
) -> None:
    first = enrolled(hosts, "host-a", department="finance")
    assert hosts.revoke_host("host-a", now=T0 + 10)

    assert hosts.release_host("host-a", now=T0 + 20)
    assert hosts.release_host("no-such-host", now=T0 + 20) is False
    assert hosts.authenticate(first.credential) is None
    second = enrol_again(hosts, "finance")

    assert hosts.authenticate(second.credential) is not None
    [host] = hosts.list_hosts()
    assert (host.department, host.revoked_at) == ("finance", None)
    # Released once, taken once: the next enrolment needs proof again.
    with pytest.raises(EnrolmentRefused):
        enrol_again(hosts, "finance")


def test_an_admin_moves_a_host_to_another_department_by_releasing_it(hosts: Store) -> None:
    enrolled(hosts, "host-a", department="finance")

    assert hosts.release_host("host-a", now=T0 + 20, department="legal")
    with pytest.raises(EnrolmentRefused) as refused:
        enrol_again(hosts, "finance")
    moved = enrol_again(hosts, "legal")

    assert refused.value.reason == "other_department"
    assert moved.department == "legal"
    assert [host.department for host in hosts.list_hosts()] == ["legal"]


def test_active_credentials_are_the_unrevoked_hosts_by_credential_hash(hosts: Store) -> None:
    a = enrolled(hosts, "host-a", department="finance")
    b = enrolled(hosts, "host-b", department="legal")
    enrolled(hosts, "host-c")
    hosts.revoke_host("host-c", now=T0 + 1)

    active = hosts.active_credentials()

    assert active == {
        secret_sha256(a.credential): AuthenticatedHost("host-a", "finance"),
        secret_sha256(b.credential): AuthenticatedHost("host-b", "legal"),
    }


def test_revoking_a_host_stops_its_credential(hosts: Store) -> None:
    enrolment = enrolled(hosts)

    assert hosts.revoke_host("host-a", now=T0 + 10)
    assert hosts.revoke_host("no-such-host", now=T0 + 10) is False

    assert hosts.authenticate(enrolment.credential) is None
    assert hosts.list_hosts()[0].revoked_at == T0 + 10


# -- ingest --------------------------------------------------------------------------------


def test_ingest_stores_every_summary_with_its_fields(store: SqlStore, engine: sa.Engine) -> None:
    enrolled(store)
    batch = make_batch("host-a")

    result = store.ingest("host-a", batch, received_at=T0 + 61, sent_at=T0 + 60.5)

    assert result == IngestResult(batch_id=batch.batch_id, stored=True)
    stored = rows(engine, MetricSummaryRow)
    assert len(stored) == len(SERIES)
    latency = next(row for row in stored if row["name"] == "disk_io_latency_seconds")
    index = [name for name, _ in SERIES].index("disk_io_latency_seconds")
    assert latency == {
        "id": latency["id"],
        "host_id": "host-a",
        "batch_id": batch.batch_id,
        "interval_start": T0,
        "interval_end": T0 + 60,
        "name": "disk_io_latency_seconds",
        "labels": '{"device":"nvme0n1"}',
        "count": 12,
        "sum": pytest.approx(3.0 * (index + 1)),
        "min": pytest.approx(0.01 * (index + 1)),
        "max": pytest.approx(0.9 * (index + 1)),
        "p50": pytest.approx(0.2 * (index + 1)),
        "p90": pytest.approx(0.5 * (index + 1)),
        "p99": pytest.approx(0.8 * (index + 1)),
    }
    [record] = rows(engine, BatchRecord)
    assert (record["host_id"], record["sequence"], record["received_at"]) == ("host-a", 1, T0 + 61)


def test_ingest_stores_every_launch_with_its_fields(store: SqlStore, engine: sa.Engine) -> None:
    enrolled(store)
    batch = make_batch("host-a")

    store.ingest("host-a", batch, received_at=T0 + 61, sent_at=None)

    stored = {row["app"]: row for row in rows(engine, LaunchRow)}
    assert set(stored) == {"libreoffice", "intranet", "firefox"}
    probe = stored["intranet"]
    assert probe["phases"] == {"dns": 0.004, "connect": 0.011, "tls": 0.052, "first_byte": 0.38}
    assert (probe["method"], probe["probe"], probe["version"]) == (
        "probe",
        "https://intranet.example/",
        None,
    )
    office = stored["libreoffice"]
    assert (office["version"], office["start_kind"], office["ready_signal"]) == (
        "4:7.4.7-1+deb12u8",
        "cold",
        "cpu_settled",
    )
    assert office["started_at"] == pytest.approx(T0 + 11.2)
    assert office["duration_seconds"] == pytest.approx(2.31)
    timeout = stored["firefox"]
    assert (timeout["outcome"], timeout["duration_seconds"], timeout["detail"]) == (
        "timeout",
        None,
        "login script gave up\n\tafter 30 s",
    )
    assert {row["batch_id"] for row in stored.values()} == {batch.batch_id}


def test_a_retried_batch_is_acknowledged_and_stores_nothing_more(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolled(store)
    batch = make_batch("host-a", inventory=inventory(T0, {"firefox": "115.5.0esr"}))
    store.ingest("host-a", batch, received_at=T0 + 61, sent_at=T0 + 60)

    again = store.ingest("host-a", batch, received_at=T0 + 300, sent_at=T0 + 250)

    assert again == IngestResult(batch_id=batch.batch_id, stored=False)
    assert len(rows(engine, BatchRecord)) == 1
    assert len(rows(engine, MetricSummaryRow)) == len(SERIES)
    assert len(rows(engine, LaunchRow)) == 3
    assert {row["count"] for row in rows(engine, LaunchCountRow)} == {1}
    assert len(store.version_history("host-a")) == 1
    [host] = rows(engine, Host)
    assert (host["last_seen_at"], host["clock_skew_seconds"]) == (T0 + 61, 1.0)


def test_launch_counts_add_up_across_batches(store: SqlStore, engine: sa.Engine) -> None:
    enrolled(store)
    store.ingest("host-a", make_batch("host-a", sequence=1), received_at=T0 + 61, sent_at=None)
    store.ingest(
        "host-a",
        make_batch(
            "host-a",
            sequence=2,
            created_at=T0 + 120,
            launch_counts=[
                LaunchCount(app="libreoffice", day="2025-11-24", method="passive", count=4),
                LaunchCount(app="libreoffice", day="2025-11-24", method="passive", count=2),
                LaunchCount(app="libreoffice", day="2025-11-25", method="passive", count=1),
            ],
        ),
        received_at=T0 + 121,
        sent_at=None,
    )

    counts = {
        (row["app"], row["day"], row["method"]): row["count"]
        for row in rows(engine, LaunchCountRow, host_id="host-a")
    }
    assert counts == {
        ("intranet", "2025-11-24", "probe"): 1,
        ("libreoffice", "2025-11-24", "passive"): 7,
        ("libreoffice", "2025-11-25", "passive"): 1,
    }


def test_ingest_records_last_seen_agent_version_and_clock_skew(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolled(store)
    newer = make_batch("host-a", sequence=2, created_at=T0 + 120)
    newer = replace(newer, host=replace(newer.host, agent_version="0.2.0"))

    store.ingest("host-a", newer, received_at=T0 + 125, sent_at=T0 + 128)
    # Committed later but received earlier (two advisors): last seen does not move back, and
    # without a Sent-At header the skew stays what it was.
    store.ingest("host-a", make_batch("host-a", sequence=1), received_at=T0 + 100, sent_at=None)

    [host] = store.list_hosts()
    assert (host.last_seen_at, host.agent_version) == (T0 + 125, "0.1.0")
    assert rows(engine, Host)[0]["clock_skew_seconds"] == -3.0


# -- inventory and version history ---------------------------------------------------------


def test_version_history_follows_an_install_an_upgrade_and_a_removal(hosts: Store) -> None:
    enrolled(hosts)
    t1, t2, t3 = T0, T0 + DAY, T0 + 2 * DAY
    inventories = [
        inventory(t1, {"firefox": "115.4.0esr", "libreoffice": "4:7.4.7-1"}),
        inventory(t2, {"firefox": "115.5.0esr", "libreoffice": "4:7.4.7-1"}),
        inventory(t3, {"firefox": "115.5.0esr", "thunderbird": "1:115.5.0"}),
    ]
    for n, inv in enumerate(inventories, start=1):
        hosts.ingest(
            "host-a",
            make_batch("host-a", sequence=n, created_at=inv.collected_at + 60, inventory=inv),
            received_at=inv.collected_at + 61,
            sent_at=None,
        )

    assert hosts.version_history("host-a") == [
        span("firefox", "115.4.0esr", t1, t2),
        span("firefox", "115.5.0esr", t2, None),
        span("libreoffice", "4:7.4.7-1", t1, t3),
        span("thunderbird", "1:115.5.0", t3, None),
    ]


def test_inventory_replaces_current_and_upgradable_packages_and_hardware(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolled(store)
    first = inventory(T0, {"firefox": "115.4.0esr", "vlc": "3.0.20"}, upgradable=3)
    second = inventory(T0 + DAY, {"firefox": "115.5.0esr"}, memory_gib=16, upgradable=1)
    store.ingest("host-a", make_batch("host-a", inventory=first), received_at=T0, sent_at=None)
    store.ingest(
        "host-a",
        make_batch("host-a", sequence=2, inventory=second),
        received_at=T0 + DAY,
        sent_at=None,
    )

    current = [
        (row["package"], row["version"], row["arch"]) for row in rows(engine, CurrentPackage)
    ]
    assert current == [("firefox", "115.5.0esr", "amd64")]
    assert [row["package"] for row in rows(engine, UpgradablePackageRow)] == ["lib0"]
    [host] = rows(engine, Host)
    assert host["hardware"]["memory_bytes"] == 16 * 1024**3
    assert host["hardware"]["disks"][0]["kind"] == "hdd"
    assert host["inventory_collected_at"] == T0 + DAY


def test_an_older_inventory_arriving_late_does_not_rewrite_history(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolled(store)
    t1, t2, t3 = T0, T0 + DAY, T0 + 2 * DAY
    store.ingest(
        "host-a",
        make_batch("host-a", sequence=1, inventory=inventory(t1, {"firefox": "115.4.0esr"})),
        received_at=t1,
        sent_at=None,
    )
    store.ingest(
        "host-a",
        make_batch(
            "host-a", sequence=3, inventory=inventory(t3, {"firefox": "115.6.0esr"}, memory_gib=16)
        ),
        received_at=t3,
        sent_at=None,
    )

    # The batch spooled during an outage arrives last, with the inventory taken in between.
    late = store.ingest(
        "host-a",
        make_batch("host-a", sequence=2, inventory=inventory(t2, {"firefox": "115.5.0esr"})),
        received_at=t3 + 60,
        sent_at=None,
    )

    assert late.stored
    assert store.version_history("host-a") == [
        span("firefox", "115.4.0esr", t1, t3),
        span("firefox", "115.6.0esr", t3, None),
    ]
    assert [row["version"] for row in rows(engine, CurrentPackage)] == ["115.6.0esr"]
    assert rows(engine, Host)[0]["hardware"]["memory_bytes"] == 16 * 1024**3
    # Everything else in the late batch is stored as usual.
    assert len(rows(engine, MetricSummaryRow, batch_id=late.batch_id)) == len(SERIES)


def test_version_history_is_kept_per_host(hosts: Store) -> None:
    enrolled(hosts, "host-a")
    enrolled(hosts, "host-b")
    for host_id, version in (("host-a", "115.4.0esr"), ("host-b", "115.5.0esr")):
        hosts.ingest(
            host_id,
            make_batch(host_id, inventory=inventory(T0, {"firefox": version})),
            received_at=T0,
            sent_at=None,
        )

    assert [s.version for s in hosts.version_history("host-b")] == ["115.5.0esr"]
    assert hosts.version_history("host-c") == []


# -- concurrency ---------------------------------------------------------------------------


def test_two_advisors_ingesting_the_same_batch_at_once_store_it_once(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolled(store)
    batches = [make_batch("host-a", sequence=n, created_at=T0 + 60 * n) for n in range(1, 6)]

    for batch in batches:
        barrier = threading.Barrier(2, timeout=30)
        results: list[IngestResult] = []
        errors: list[BaseException] = []

        def ingest(
            batch: Batch = batch,
            barrier: threading.Barrier = barrier,
            results: list[IngestResult] = results,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                barrier.wait()
                results.append(
                    store.ingest("host-a", batch, received_at=batch.created_at, sent_at=None)
                )
            except BaseException as exc:  # re-raised below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=ingest) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert sorted(result.stored for result in results) == [False, True]

    assert len(rows(engine, BatchRecord)) == len(batches)
    assert len(rows(engine, MetricSummaryRow)) == len(batches) * len(SERIES)
    assert len(rows(engine, LaunchRow)) == len(batches) * 3
    assert rows(engine, LaunchCountRow, app="libreoffice")[0]["count"] == len(batches)


def test_a_package_without_arch_that_becomes_a_watched_app_keeps_its_span(
    store: SqlStore, engine: sa.Engine
) -> None:
    enrolled(store)

    def snap(collected_at: float, app: str | None) -> Inventory:
        return replace(
            inventory(collected_at, {}),
            software=[InstalledPackage(package="code", version="1.85.1", source="snap", app=app)],
        )

    for n, inv in enumerate([snap(T0, None), snap(T0 + DAY, "vscode")], start=1):
        store.ingest(
            "host-a", make_batch("host-a", sequence=n, inventory=inv), received_at=T0, sent_at=None
        )

    assert store.version_history("host-a") == [
        VersionSpan(
            host_id="host-a",
            source="snap",
            package="code",
            app="vscode",
            version="1.85.1",
            since=T0,
            until=None,
        )
    ]
    [package] = rows(engine, CurrentPackage)
    assert (package["arch"], package["app"]) == ("", "vscode")


def test_each_architecture_of_a_multiarch_package_has_its_own_span(hosts: Store) -> None:
    enrolled(hosts)
    both = replace(
        inventory(T0, {}),
        software=[
            InstalledPackage(package="libc6", version="2.36-9", source="dpkg", arch=arch)
            for arch in ("amd64", "i386")
        ],
    )
    hosts.ingest(
        "host-a", make_batch("host-a", sequence=1, inventory=both), received_at=T0, sent_at=None
    )
    spans = hosts.version_history("host-a")
    assert sorted((s.package, s.arch, s.version) for s in spans) == [
        ("libc6", "amd64", "2.36-9"),
        ("libc6", "i386", "2.36-9"),
    ]


# -- batch ids per host, and database refusals ------------------------------------------------


def test_another_hosts_batch_with_a_used_id_is_stored_not_dropped(
    store: SqlStore, engine: sa.Engine
) -> None:
    a = enrolled(store, "host-a")
    b = enrolled(store, "host-b")
    batch_a = make_batch("host-a")
    batch_b = replace(make_batch("host-b"), batch_id=batch_a.batch_id)

    first = store.ingest_with_credential(a.credential, batch_a, received_at=T0 + 61, sent_at=None)
    second = store.ingest_with_credential(b.credential, batch_b, received_at=T0 + 62, sent_at=None)
    retry = store.ingest_with_credential(b.credential, batch_b, received_at=T0 + 63, sent_at=None)

    assert (first.stored, second.stored, retry.stored) == (True, True, False)
    stored = rows(engine, MetricSummaryRow, batch_id=batch_a.batch_id)
    assert {row["host_id"] for row in stored} == {"host-a", "host-b"}
    assert len(stored) == 2 * len(SERIES)


def test_a_launch_count_sum_past_64_bits_is_refused_or_silently_a_float_by_backend(
    store: SqlStore, engine: sa.Engine, backend: str
) -> None:
    """Why the API bounds every count first: PostgreSQL refuses the sum for good
    (UnstorableBatch, not an outage); SQLite quietly turns it into a float."""
    enrolled(store)
    # Each count fits in 64 bits; their sum does not.
    huge = [LaunchCount(app="libreoffice", day="2025-11-24", method="passive", count=3 * 2**61)]
    store.ingest(
        "host-a", make_batch("host-a", launch_counts=huge), received_at=T0 + 61, sent_at=None
    )
    second = make_batch("host-a", sequence=2, launch_counts=huge)

    if backend == "postgresql":
        with pytest.raises(UnstorableBatch, match="out of range"):
            store.ingest("host-a", second, received_at=T0 + 61, sent_at=None)
        return
    store.ingest("host-a", second, received_at=T0 + 61, sent_at=None)
    [row] = rows(engine, LaunchCountRow, app="libreoffice")
    assert isinstance(row["count"], float)  # every later addition rounds
