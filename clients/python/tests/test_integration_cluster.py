"""Against a real broker and pipeline (see test_integration.py): a node list whose first node is down,
and a connection the broker closes (through the management API, as an operator or a dying node would)
while a proposal is published or awaited. Closing needs AGENTBUS_RABBITMQ_MANAGEMENT_URL,
AGENTBUS_RABBITMQ_ADMIN_USER and AGENTBUS_RABBITMQ_ADMIN_PASSWORD, which ops/test.sh exports."""

import base64
import concurrent.futures
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from agentbus import AgentBusClient
from agentbus.wire import Endpoint

pytestmark = pytest.mark.integration

TIMEOUT = 30.0
MANAGEMENT_ENV = ("AGENTBUS_RABBITMQ_MANAGEMENT_URL", "AGENTBUS_RABBITMQ_ADMIN_USER", "AGENTBUS_RABBITMQ_ADMIN_PASSWORD")
needs_management = pytest.mark.skipif(
    any(not os.environ.get(name) for name in MANAGEMENT_ENV),
    reason=f"set {', '.join(MANAGEMENT_ENV)} to close the client's connection through the RabbitMQ management API")


def run_id() -> str:
    return "run-py-cluster-" + uuid.uuid4().hex[:12]


def ticket(title: str) -> dict:
    return {"title": f"{title} {uuid.uuid4().hex[:8]}", "priority": "high"}


def broker_node() -> str:
    return f"{os.environ['AGENTBUS_RABBITMQ_HOST']}:{os.environ.get('AGENTBUS_RABBITMQ_PORT') or 5672}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def management(method: str, path: str):
    url = os.environ["AGENTBUS_RABBITMQ_MANAGEMENT_URL"].rstrip("/") + path
    token = base64.b64encode(f"{os.environ['AGENTBUS_RABBITMQ_ADMIN_USER']}:{os.environ['AGENTBUS_RABBITMQ_ADMIN_PASSWORD']}".encode()).decode()
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Basic {token}", "X-Reason": "python client reconnect test"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def client_connections(client: AgentBusClient) -> list[str]:
    vhost = urllib.parse.quote(client._core.settings.vhost, safe="")
    return [c["name"] for c in management("GET", f"/api/vhosts/{vhost}/connections")
            if c.get("user") == client.agent_id
            and (c.get("client_properties") or {}).get("connection_name") == f"agent:{client.agent_id} (python)"]


def shows(client: AgentBusClient) -> list[str]:
    """The management API lists a new connection only once its statistics came in (seconds)."""
    deadline = time.monotonic() + 20
    while not (names := client_connections(client)):
        assert time.monotonic() < deadline, "the client's connection never showed in the management API"
        time.sleep(0.25)
    return names


def force_close(client: AgentBusClient) -> None:
    """Closes the client's connection from the broker's side, as an operator or a dying node would."""
    for name in shows(client):
        try:
            management("DELETE", f"/api/connections/{urllib.parse.quote(name, safe='')}")
        except urllib.error.HTTPError as error:
            if error.code != 404:  # an earlier client's connection, gone meanwhile
                raise
    # The broker closes it a moment after answering; the listing itself lags by seconds, too long to wait for.
    time.sleep(1)


def eventually(condition, what: str, within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def hold_io_thread(client: AgentBusClient) -> threading.Event:
    """Parks the client's I/O thread, so what the broker sends meanwhile stays unread and what the caller
    publishes stays queued: the broker's close then falls exactly where the test wants it."""
    release = threading.Event()
    parked = threading.Event()

    def park() -> None:
        parked.set()
        release.wait(TIMEOUT)

    client._core.transport.submit(park)
    assert parked.wait(10), "the I/O thread never ran the parking work"
    return release


@pytest.fixture
def client():
    with AgentBusClient.connect(connect_timeout=10) as connected:
        yield connected


@pytest.fixture
def warnings(caplog):
    caplog.set_level(logging.WARNING, "agentbus")
    return caplog


def test_a_node_list_whose_first_node_is_down_connects_to_the_next_one_and_works(monkeypatch):
    down = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AGENTBUS_RABBITMQ_ENDPOINTS", f"{down},{broker_node()}")

    with AgentBusClient.connect(connect_timeout=5) as client:
        assert str(client._core.transport.node) == broker_node()
        assert client._core.settings.endpoints[0] == Endpoint("127.0.0.1", int(down.rsplit(":", 1)[1]))
        result = client.run("ticketing.create_ticket", ticket("Second node"), run_id(), timeout=TIMEOUT)

    assert result.status == "succeeded", result


@needs_management
def test_replies_the_broker_sent_before_closing_the_connection_still_reach_the_waiting_caller(client, warnings):
    shows(client)  # before parking: a parked client sends no heartbeats
    action_id = client.propose("ticketing.create_ticket", ticket("Closed while awaited"), run_id())
    release = hold_io_thread(client)
    try:
        time.sleep(2)  # the decision and the outcome reach the client's socket, unread and unacked
        force_close(client)
    finally:
        release.set()

    result = client.wait(action_id, timeout=TIMEOUT)

    assert result.status == "succeeded", result
    eventually(lambda: client._core.transport.reconnects >= 1, "the client never reconnected")
    assert "reconnected to RabbitMQ at" in warnings.text
    assert client.is_open


@needs_management
def test_a_proposal_being_published_when_the_broker_closes_the_connection_is_published_again_and_answered(warnings):
    # The test parks the I/O thread for a few seconds before the publish; that must not count against the confirm.
    client = AgentBusClient.connect(connect_timeout=10, publish_timeout=TIMEOUT)
    shows(client)
    release = hold_io_thread(client)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            proposing = pool.submit(client.propose, "ticketing.create_ticket", ticket("Closed while publishing"), run_id())
            force_close(client)
        finally:
            release.set()
        action_id = proposing.result(timeout=TIMEOUT)  # no exception: the reconnect is the client's business

    result = client.wait(action_id, timeout=TIMEOUT)

    assert result.status == "succeeded", result
    assert client._core.transport.reconnects >= 1
    assert "reconnected to RabbitMQ at" in warnings.text
    assert "publishing 1 unconfirmed message(s) again with the same message id" in warnings.text
    client.close()


@needs_management
def test_a_connection_closed_right_after_a_proposal_changes_nothing_for_the_caller(client, warnings):
    run = run_id()
    shows(client)
    action_id = client.propose("ticketing.create_ticket", ticket("Closed right after"), run)
    force_close(client)

    result = client.wait(action_id, timeout=TIMEOUT)
    report_id = client.report_spend(0.001, "inference", run, "after a reconnect")

    assert result.status == "succeeded", result
    assert report_id
    eventually(lambda: client._core.transport.reconnects >= 1, "the client never reconnected")
