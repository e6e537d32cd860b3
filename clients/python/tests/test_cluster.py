"""A cluster of nodes: endpoint settings, connecting to the first node that answers, and reconnecting
after a lost connection, against a fake broker in place of pika's BlockingConnection (no servers)."""

import asyncio
import json
import logging
import socket
import threading
import time
import types

import pika
import pika.exceptions
import pytest

from agentbus import (AgentBusClient, AsyncAgentBusClient, AuthenticationError, BrokerUnreachableError, ConfigurationError,
                      ConnectionLostError, Settings)
from agentbus.client import Core
from agentbus.transport import Transport
from agentbus.wire import Endpoint

A, B, C = 5692, 5693, 5694
NODES = f"127.0.0.1:{A},127.0.0.1:{B},127.0.0.1:{C}"
POLICY = "agentbus-policy"


# -- settings --------------------------------------------------------------------------------------

def settings(env=None, **kwargs):
    return Settings.from_env("python-agent", "pw", env=env or {}, **kwargs)


def test_endpoints_from_the_environment_name_every_node_in_order():
    s = settings({"AGENTBUS_RABBITMQ_ENDPOINTS": f" 127.0.0.1:{A}, 127.0.0.1:{B} ,127.0.0.1:{C}"})
    assert s.endpoints == (Endpoint("127.0.0.1", A), Endpoint("127.0.0.1", B), Endpoint("127.0.0.1", C))
    assert (s.host, s.port) == ("127.0.0.1", A)
    assert NODES.replace(",", ", ") in repr(s)


def test_a_node_without_a_port_gets_the_configured_port_or_5672():
    assert settings({"AGENTBUS_RABBITMQ_ENDPOINTS": "rabbit-0,rabbit-1:5673"}).endpoints == (
        Endpoint("rabbit-0", 5672), Endpoint("rabbit-1", 5673))
    env = {"AGENTBUS_RABBITMQ_ENDPOINTS": "rabbit-0,rabbit-1", "AGENTBUS_RABBITMQ_PORT": "5700"}
    assert [n.port for n in settings(env).endpoints] == [5700, 5700]
    assert [n.port for n in settings(endpoints=["rabbit-0"], port=5800).endpoints] == [5800]


def test_the_endpoints_argument_wins_over_the_environment_and_takes_a_string_or_a_list():
    env = {"AGENTBUS_RABBITMQ_ENDPOINTS": "env-node:1", "AGENTBUS_RABBITMQ_HOST": "env-host"}
    assert settings(env, endpoints="x:1,y:2").endpoints == (Endpoint("x", 1), Endpoint("y", 2))
    assert settings(env, endpoints=["x:1", "y"]).endpoints == (Endpoint("x", 1), Endpoint("y", 5672))


def test_a_host_argument_wins_over_the_endpoints_variable():
    s = settings({"AGENTBUS_RABBITMQ_ENDPOINTS": "env-node:1"}, host="given", port=2)
    assert s.endpoints == (Endpoint("given", 2),)


def test_without_endpoints_host_and_port_are_the_one_node_as_before():
    assert settings({"AGENTBUS_RABBITMQ_HOST": "h", "AGENTBUS_RABBITMQ_PORT": "1234"}).endpoints == (Endpoint("h", 1234),)
    assert settings({"AGENTBUS_RABBITMQ_ENDPOINTS": "  "}).endpoints == (Endpoint("127.0.0.1", 5672),)
    assert Settings("a", "p", "h", 7).endpoints == (Endpoint("h", 7),)


@pytest.mark.parametrize("value, says", [
    ("rabbit-0:notaport", "'rabbit-0:notaport' is not host:port"),
    ("rabbit-0:0", "'rabbit-0:0' is not host:port"),
    ("rabbit-0:65536", "'rabbit-0:65536' is not host:port"),
    ("ok:1,:5672", "':5672' names no valid host"),
    ("user@rabbit:5672", "'user@rabbit:5672' names no valid host"),
    ("amqp://rabbit:5672", "'amqp://rabbit:5672' names no valid host"),
    ("::1:5672", "'::1:5672' names no valid host"),
    (",", "names no broker node"),
])
def test_a_bad_endpoint_is_a_configuration_error_naming_the_item(value, says):
    with pytest.raises(ConfigurationError, match=says) as raised:
        settings({"AGENTBUS_RABBITMQ_ENDPOINTS": value})
    assert "AGENTBUS_RABBITMQ_ENDPOINTS" in str(raised.value)
    with pytest.raises(ConfigurationError, match=says):
        settings(endpoints=value)


@pytest.mark.parametrize("value", [[], "", " , "])
def test_an_empty_endpoints_argument_is_a_configuration_error(value):
    with pytest.raises(ConfigurationError, match="endpoints names no broker node"):
        settings(endpoints=value)


def test_endpoints_and_host_together_are_a_configuration_error():
    with pytest.raises(ConfigurationError, match="endpoints or host, not both"):
        settings(endpoints="a:1", host="b")


@pytest.mark.parametrize("value", [0, -1, float("inf"), "30"])
def test_reconnect_timeout_must_be_a_positive_number_of_seconds(value):
    with pytest.raises(ConfigurationError, match="reconnect_timeout"):
        settings(reconnect_timeout=value)


# -- a fake broker ---------------------------------------------------------------------------------

class FakeChannel:
    def __init__(self, connection):
        self.connection = connection
        self.is_open = True
        self.consumers = {}
        self.on_cancel = None
        self.acked = []

    def confirm_delivery(self):
        pass

    def basic_qos(self, prefetch_count):
        pass

    def basic_consume(self, queue, callback, auto_ack):
        assert auto_ack is False
        self.consumers[queue] = callback

    def add_on_cancel_callback(self, callback):
        self.on_cancel = callback

    def basic_ack(self, tag):
        if not self.connection.is_open:
            raise pika.exceptions.ChannelWrongStateError("Channel is closed.")
        self.acked.append(tag)

    def basic_publish(self, exchange, key, body, properties, mandatory):
        connection = self.connection
        if not connection.is_open:
            raise pika.exceptions.ChannelWrongStateError("Channel is closed.")
        connection.broker.published.append((connection.node, properties.message_id, body))
        if connection.die_on_publish:
            # Sent, but the connection died before the confirm: the broker may or may not have it.
            connection.is_open = False
            raise pika.exceptions.StreamLostError("Transport indicated EOF")


class FakeConnection:
    def __init__(self, broker, node):
        self.broker = broker
        self.node = node
        self.is_open = True
        self.channels = []
        self.die_on_publish = False
        self.lose = False
        self.cancel = False
        self.deliveries = []
        self.wake = threading.Event()

    def channel(self):
        if not self.is_open:
            raise pika.exceptions.ConnectionWrongStateError("Connection is closed.")
        channel = FakeChannel(self)
        self.channels.append(channel)
        return channel

    def add_callback_threadsafe(self, callback):
        if not self.is_open:
            raise pika.exceptions.ConnectionWrongStateError("Connection is closed.")
        self.wake.set()

    def process_data_events(self, time_limit):
        self.wake.wait(min(time_limit, 0.02))
        self.wake.clear()
        if self.lose:
            self.is_open = False
            raise pika.exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - Closed via management plugin")
        replies = next(c for c in self.channels if c.consumers)
        if self.cancel:
            self.cancel = False
            replies.on_cancel(types.SimpleNamespace())
        while self.deliveries:
            properties, body = self.deliveries.pop(0)
            replies.consumers["agentbus.agent.python-agent"](replies, types.SimpleNamespace(delivery_tag=1), properties, body)

    def close(self):
        self.is_open = False


class FakeBroker:
    """Nodes by port; a node that is not up refuses the connection."""

    def __init__(self, *up):
        self.up = set(up)
        self.attempts = []
        self.connections = []
        self.published = []
        self.refuse_login = False

    def connect(self, parameters):
        node = parameters.port
        self.attempts.append(node)
        if self.refuse_login:
            raise pika.exceptions.ProbableAuthenticationError("ConnectionClosedByBroker: (403) 'ACCESS_REFUSED'")
        if node not in self.up:
            raise pika.exceptions.AMQPConnectionError(ConnectionRefusedError(111, "Connection refused"))
        connection = FakeConnection(self, node)
        self.connections.append(connection)
        return connection

    @property
    def current(self):
        return self.connections[-1]


def transport(broker, **options):
    core = Core(settings(endpoints=NODES, **options), None)
    core.transport = Transport(core.settings, core.router, connect=broker.connect)
    return core


def eventually(condition, within=5.0):
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


@pytest.fixture
def started():
    cores = []

    def start(broker, **options):
        core = transport(broker, **options)
        core.transport.start()
        cores.append(core)
        return core

    yield start
    for core in cores:
        core.transport.close()


def decided(action_id, sender=POLICY):
    body = dict(actionId=action_id, runId="run-1", agentId="python-agent", tool="ticketing", decision="denied",
                reasonCode="no_grant", reason="r")
    return pika.BasicProperties(type="ActionDecided", user_id=sender), json.dumps(body).encode()


# -- connecting ------------------------------------------------------------------------------------

def test_connecting_tries_the_nodes_in_order_and_uses_the_first_that_answers(started):
    broker = FakeBroker(B, C)
    core = started(broker)
    assert broker.attempts == [A, B]
    assert core.transport.node == Endpoint("127.0.0.1", B)


def test_when_no_node_answers_the_error_names_every_node_tried():
    broker = FakeBroker()
    with pytest.raises(BrokerUnreachableError) as raised:
        transport(broker).transport.start()
    for port in (A, B, C):
        assert f"127.0.0.1:{port}: cannot connect to RabbitMQ at 127.0.0.1:{port}" in str(raised.value)
    assert "Connection refused" in str(raised.value)
    assert broker.attempts == [A, B, C]


def test_a_refused_login_is_an_answer_and_no_other_node_is_tried():
    broker = FakeBroker(A, B, C)
    broker.refuse_login = True
    with pytest.raises(AuthenticationError, match=f"127.0.0.1:{A}"):
        transport(broker).transport.start()
    assert broker.attempts == [A]


def test_connect_with_real_closed_ports_names_both_in_the_error():
    def closed_port():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    first, second = closed_port(), closed_port()
    with pytest.raises(BrokerUnreachableError, match=f"any of 127.0.0.1:{first}, 127.0.0.1:{second}"):
        AgentBusClient.connect("python-agent", "pw", endpoints=[f"127.0.0.1:{first}", f"127.0.0.1:{second}"], connect_timeout=2)


# -- reconnecting ----------------------------------------------------------------------------------

def test_a_publish_cut_off_before_its_confirm_goes_again_with_the_same_message_id_on_the_next_node(started, caplog):
    broker = FakeBroker(A, B)
    core = started(broker)
    broker.current.die_on_publish = True
    caplog.set_level(logging.WARNING, "agentbus")

    confirmed = core.transport.publish("agentbus.proposals", b"{}", "ActionProposed", "message-1")

    assert confirmed.result(timeout=5) == "message-1"
    assert [(node, message_id) for node, message_id, _ in broker.published] == [(A, "message-1"), (B, "message-1")]
    assert core.transport.node == Endpoint("127.0.0.1", B) and core.transport.reconnects == 1
    assert f"reconnected to RabbitMQ at 127.0.0.1:{B}" in caplog.text
    assert "1 unconfirmed message(s) again with the same message id" in caplog.text
    assert all(r.levelno == logging.WARNING for r in caplog.records if "reconnect" in r.getMessage())


def test_after_a_reconnect_the_reply_queue_is_consumed_again_and_waits_get_their_answer(started):
    broker = FakeBroker(A, B)
    core = started(broker)
    tracker = core.router.track("a-1", "ticketing", "message-1")
    first = broker.current

    first.lose = True
    eventually(lambda: core.transport.reconnects == 1)

    assert not tracker.finished.done(), "a wait must go on across a reconnect"
    second = broker.current
    assert second is not first and any("agentbus.agent.python-agent" in c.consumers for c in second.channels)
    second.deliveries.append(decided("a-1"))
    assert tracker.finished.result(timeout=5).status == "denied"


def test_the_lost_node_is_tried_last_when_reconnecting(started):
    broker = FakeBroker(A, B, C)
    core = started(broker)
    broker.attempts.clear()
    broker.current.lose = True
    eventually(lambda: core.transport.reconnects == 1)
    assert broker.attempts == [B]


def test_the_same_node_is_fine_when_it_is_the_only_one_left(started):
    broker = FakeBroker(A)
    core = started(broker)
    broker.current.lose = True
    eventually(lambda: core.transport.reconnects == 1)
    assert broker.attempts[-3:] == [B, C, A] and core.transport.node.port == A


def test_publishes_made_while_reconnecting_wait_for_the_new_connection(started):
    broker = FakeBroker(A)
    core = started(broker)
    broker.up.clear()
    broker.current.lose = True
    eventually(lambda: core.transport.reconnecting)

    confirmed = core.transport.publish("agentbus.spend-reports", b"{}", "SpendReported", "report-1")
    time.sleep(0.3)
    assert not confirmed.done()
    broker.up.add(C)

    assert confirmed.result(timeout=5) == "report-1"
    assert [(node, message_id) for node, message_id, _ in broker.published] == [(C, "report-1")]


def test_a_consumer_cancelled_by_the_broker_reconnects_instead_of_going_deaf(started):
    broker = FakeBroker(A, B)
    core = started(broker)
    broker.current.cancel = True
    eventually(lambda: core.transport.reconnects == 1)
    assert core.transport.is_open


def test_an_unexpected_failure_opening_one_node_moves_on_to_the_next(started):
    broker = FakeBroker(A, B, C)
    core = started(broker)
    connect = broker.connect

    def odd(parameters):
        if parameters.port == B:
            raise ValueError("a bug in a node's answer")
        return connect(parameters)

    core.transport._connect = odd
    broker.current.lose = True
    eventually(lambda: core.transport.reconnects == 1)
    assert core.transport.node.port == C and core.transport.is_open


def test_when_no_node_takes_a_new_connection_in_time_everything_pending_fails_naming_the_nodes(started, caplog):
    broker = FakeBroker(A)
    core = started(broker, reconnect_timeout=0.5)
    tracker = core.router.track("a-1", "ticketing", "message-1")
    broker.up.clear()
    broker.current.die_on_publish = True
    began = time.monotonic()

    confirmed = core.transport.publish("agentbus.proposals", b"{}", "ActionProposed", "message-1")

    with pytest.raises(ConnectionLostError) as raised:
        confirmed.result(timeout=10)
    assert time.monotonic() - began < 5
    message = str(raised.value)
    assert "within reconnect_timeout 0.5 s" in message and f"127.0.0.1:{A}" in message and f"127.0.0.1:{C}" in message
    with pytest.raises(ConnectionLostError):
        tracker.finished.result(timeout=5)
    eventually(lambda: not core.transport.is_open)
    with pytest.raises(ConnectionLostError):
        core.transport.publish("agentbus.proposals", b"{}", "ActionProposed").result(timeout=1)


def test_closing_the_client_while_it_reconnects_ends_at_once(started):
    broker = FakeBroker(A)
    core = started(broker, reconnect_timeout=30)
    broker.up.clear()
    broker.current.lose = True
    eventually(lambda: core.transport.reconnecting)
    pending = core.transport.publish("agentbus.proposals", b"{}", "ActionProposed")

    began = time.monotonic()
    core.transport.close()

    assert time.monotonic() - began < 3
    with pytest.raises(ConnectionLostError, match="closed"):
        pending.result(timeout=1)


# -- what the caller sees ----------------------------------------------------------------------------

def slow_reconnect(broker, after):
    """The node comes back `after` seconds after the connection is lost under a publish."""
    broker.current.die_on_publish = True
    broker.up.clear()
    threading.Timer(after, lambda: broker.up.add(A)).start()


def test_propose_returns_normally_when_the_reconnect_takes_longer_than_the_publish_timeout(started):
    broker = FakeBroker(A)
    core = started(broker, publish_timeout=0.2)
    client = AgentBusClient(core)
    slow_reconnect(broker, 0.8)

    action_id = client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")

    bodies = [json.loads(body) for _, _, body in broker.published]
    assert [b["actionId"] for b in bodies] == [action_id, action_id]
    assert len({message_id for _, message_id, _ in broker.published}) == 1
    broker.current.deliveries.append(decided(action_id))
    assert client.wait(action_id, timeout=5).status == "denied"


def test_the_async_client_also_waits_out_a_reconnect(started):
    broker = FakeBroker(A)
    core = started(broker, publish_timeout=0.2)
    client = AsyncAgentBusClient(core)
    slow_reconnect(broker, 0.8)

    async def scenario():
        action_id = await client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
        broker.current.deliveries.append(decided(action_id))
        return await client.wait(action_id, timeout=5)

    assert asyncio.run(scenario()).status == "denied"
    assert core.transport.reconnects == 1
