"""The /metrics listener: one thread, scrapes answered in turn, a stalled client cut off."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from agent.metrics import AgentMetrics, serve
from tests.conftest import free_port


@pytest.fixture
def endpoint() -> Iterator[str]:
    port = free_port()
    stop = serve(AgentMetrics(lambda name: name), f"127.0.0.1:{port}", scrape_timeout=0.5)
    yield f"http://127.0.0.1:{port}/metrics"
    stop()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        body: bytes = response.read()
    return body.decode()


def test_scrapes_are_answered_on_one_thread(endpoint: str) -> None:
    before = {thread.name for thread in threading.enumerate()}
    for _ in range(3):
        assert "fleetsight_agent_build_info" in scrape(endpoint)
    assert {thread.name for thread in threading.enumerate()} == before


def test_a_client_that_sends_nothing_is_cut_off_and_scrapes_go_on(endpoint: str) -> None:
    host_port = endpoint.split("/")[2].split(":")
    with socket.create_connection((host_port[0], int(host_port[1])), timeout=10) as stalled:
        # The listener serves this connection first; it sends no request line.
        assert "fleetsight_agent_build_info" in scrape(endpoint)
        stalled.settimeout(10)
        assert stalled.recv(1024) == b""  # closed by the endpoint, not by us
