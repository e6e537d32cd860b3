"""The I/O thread's pika edges with fake channels: acks, publish errors, connect errors (no broker)."""

import socket
import types

import pika
import pika.exceptions
import pytest

from agentbus import (AccessDeniedError, AgentBusClient, AsyncAgentBusClient, AuthenticationError, BrokerUnreachableError,
                      PublishError, Settings)
from agentbus.replies import ReplyRouter
from agentbus.transport import Transport, connect_error

SETTINGS = Settings.from_env("python-agent", "pw", "127.0.0.1", 5672, "agentbus", env={})


class FakeChannel:
    def __init__(self, raises=None):
        self.acked = []
        self.raises = raises
        self.is_open = True
        self.published = []

    def basic_ack(self, tag):
        self.acked.append(tag)

    def basic_publish(self, exchange, key, body, properties, mandatory):
        self.published.append((exchange, key, body, properties, mandatory))
        if self.raises is not None:
            raise self.raises


def delivery(tag=1):
    return types.SimpleNamespace(delivery_tag=tag)


@pytest.mark.parametrize("body", [b"\x00garbage", b"{}", b'{"actionId": 1}'])
def test_every_reply_is_acknowledged_whatever_it_is(body):
    transport = Transport(SETTINGS, ReplyRouter())
    channel = FakeChannel()
    transport._on_reply(channel, delivery(7), pika.BasicProperties(type="ActionDecided", user_id="agentbus-policy"), body)
    assert channel.acked == [7]


def test_a_reply_is_acknowledged_even_when_handling_it_fails():
    class Exploding(ReplyRouter):
        def dispatch(self, *args):
            raise RuntimeError("boom")

    transport = Transport(SETTINGS, Exploding())
    channel = FakeChannel()
    transport._on_reply(channel, delivery(3), pika.BasicProperties(type="ActionDecided"), b"{}")
    assert channel.acked == [3]


def test_a_proposal_goes_out_persistent_mandatory_and_as_the_agent():
    transport = Transport(SETTINGS, ReplyRouter())
    transport._publisher = FakeChannel()
    properties = pika.BasicProperties(message_id="m-1", user_id="python-agent", delivery_mode=2)
    assert transport._publish("agentbus.proposals", b"{}", properties) == "m-1"
    exchange, key, _, sent, mandatory = transport._publisher.published[0]
    assert (exchange, key, mandatory, sent.user_id, sent.delivery_mode) == ("agentbus.proposals", "", True, "python-agent", 2)


@pytest.mark.parametrize("error, says", [
    (pika.exceptions.UnroutableError([]), "nothing is bound to exchange agentbus.proposals"),
    (pika.exceptions.NackError([]), "nacked"),
    (pika.exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED - user_id property set to 'x'"), "406 PRECONDITION_FAILED"),
])
def test_a_message_the_broker_did_not_take_is_a_publish_error_that_says_why(error, says):
    transport = Transport(SETTINGS, ReplyRouter())
    transport._publisher = FakeChannel(raises=error)
    with pytest.raises(PublishError, match=says):
        transport._publish("agentbus.proposals", b"{}", pika.BasicProperties(message_id="m-1"))


@pytest.mark.parametrize("error, expected, says", [
    (pika.exceptions.ProbableAuthenticationError("ConnectionClosedByBroker: (403) 'ACCESS_REFUSED'"), AuthenticationError, "refused the login of user 'python-agent'"),
    (pika.exceptions.AMQPConnectionError(pika.exceptions.ConnectionClosedByBroker(403, "ACCESS_REFUSED")), AuthenticationError, "password"),
    (pika.exceptions.ProbableAccessDeniedError("vhost"), AccessDeniedError, "may not use vhost 'agentbus'"),
    (pika.exceptions.AMQPConnectionError(pika.exceptions.ConnectionClosedByBroker(530, "NOT_ALLOWED")), AccessDeniedError, "530"[:0] + "vhost"),
    (pika.exceptions.AMQPConnectionError(ConnectionRefusedError(111, "Connection refused")), BrokerUnreachableError, "cannot connect to RabbitMQ at 127.0.0.1:5672"),
])
def test_connection_failures_map_to_specific_errors(error, expected, says):
    mapped = connect_error(error, SETTINGS)
    assert type(mapped) is expected
    assert says in str(mapped)


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connecting_to_a_port_nobody_listens_on_is_broker_unreachable():
    port = closed_port()
    with pytest.raises(BrokerUnreachableError, match=f"127.0.0.1:{port}"):
        AgentBusClient.connect("python-agent", "pw", "127.0.0.1", port, connect_timeout=2)


def test_the_async_client_reports_an_unreachable_broker_the_same_way():
    import asyncio

    port = closed_port()
    with pytest.raises(BrokerUnreachableError):
        asyncio.run(AsyncAgentBusClient.connect("python-agent", "pw", "127.0.0.1", port, connect_timeout=2))
