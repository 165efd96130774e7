"""Enrolling for a DynamicUser= service: root writes, the state directory's owner gets the files.

No operator can run ``sudo -u`` as a dynamic user (it exists only while the unit runs), so
root enrols; what root writes must end up readable by the agent's user.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.enroll import CREDENTIAL_FILE, ENROLMENT_FILE, enrol, hand_to_state_dir_owner
from agent.errors import EnrolmentError
from agent.shipper import make_client
from agent.transport import HttpClient
from tests.fakes.receiver import Receiver

TOKEN = "enrol-token-1"
SERVICE_UID = 4242  # what systemd's dynamic user might get


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(tokens={TOKEN}, department="finance") as running:
        yield running


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with make_client(timeout=10.0, ca_file=None, max_connections=1) as made:
        yield made


def enrol_into(state_dir: Path, receiver: Receiver, client: HttpClient) -> None:
    enrol(
        receiver.url,
        TOKEN,
        state_dir=state_dir,
        host_id="host-1",
        hostname="fin-ws-12",
        client=client,
    )


def test_root_hands_the_files_to_the_owner_of_the_state_directory(tmp_path: Path) -> None:
    calls: list[tuple[Path, int, int]] = []
    owner = tmp_path.stat()
    hand_to_state_dir_owner(
        tmp_path,
        (CREDENTIAL_FILE, ENROLMENT_FILE),
        euid=lambda: 0,
        chown=lambda path, uid, gid: calls.append((path, uid, gid)),
    )
    assert calls == [
        (tmp_path / CREDENTIAL_FILE, owner.st_uid, owner.st_gid),
        (tmp_path / ENROLMENT_FILE, owner.st_uid, owner.st_gid),
    ]


def test_another_user_enrolling_changes_no_ownership(tmp_path: Path) -> None:
    calls: list[tuple[Path, int, int]] = []
    hand_to_state_dir_owner(
        tmp_path,
        (CREDENTIAL_FILE,),
        euid=lambda: 1000,
        chown=lambda path, uid, gid: calls.append((path, uid, gid)),
    )
    assert calls == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")
def test_root_enrolling_into_the_services_state_directory_leaves_it_the_files(
    tmp_path: Path, receiver: Receiver, client: HttpClient
) -> None:
    state_dir = tmp_path / "fleetsight-agent"
    state_dir.mkdir(mode=0o700)
    os.chown(state_dir, SERVICE_UID, SERVICE_UID)  # the service ran before, as its user
    enrol_into(state_dir, receiver, client)
    for name in (CREDENTIAL_FILE, ENROLMENT_FILE):
        assert (state_dir / name).stat().st_uid == SERVICE_UID
        assert (state_dir / name).stat().st_gid == SERVICE_UID


def test_a_state_directory_that_cannot_be_written_is_one_sentence_saying_to_use_root(
    tmp_path: Path, receiver: Receiver, client: HttpClient
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(EnrolmentError, match=r"cannot write the credential .* enrol as root"):
        enrol_into(blocker / "state", receiver, client)
