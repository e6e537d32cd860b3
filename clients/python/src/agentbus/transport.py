"""The one AMQP connection of a client, owned by a dedicated I/O thread.

Why a thread and not pika's AsyncioConnection: pika's connections are not thread-safe, and a
BlockingConnection must be pumped to deliver replies, send heartbeats and receive confirms. One
thread that owns the connection and pumps it all the time serves the sync client (callers block on
concurrent.futures.Future) and the asyncio client (the same futures, bridged to the caller's loop)
with one implementation of the contract; heartbeats and replies keep flowing while the caller's
code, or its event loop, is busy; and a caller never has to drive pika itself. AsyncioConnection
would tie the connection to one event loop and leave the sync client needing a second
implementation. Every pika call happens on the I/O thread; other threads hand it work through a
queue and wake it with add_callback_threadsafe, the one thread-safe call pika has.

A cluster: the settings name one or more nodes. The first connection goes to the first node that
answers. When the connection is lost, the I/O thread reconnects to any node (the next one first,
since the one it lost may be the one that died) for at most `reconnect_timeout` seconds, consumes
the reply queue again, and republishes, with the same message id, the message it was publishing
when the connection went: its confirm never came, so the broker may or may not have it. Every
message this client publishes is safe to repeat (contracts/README.md sections 9 and 9a: a repeated
actionId gets its first answer again and never runs twice; a repeated reportId never charges twice;
RunCompleted has one message id per run). Waits for replies simply go on: the reply queue is
durable, and replies not yet acked are delivered again on the new connection.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from . import wire
from .errors import (
    AccessDeniedError,
    AgentBusError,
    AuthenticationError,
    BrokerUnreachableError,
    ConnectionLostError,
    PublishError,
)
from .replies import ReplyRouter

log = logging.getLogger("agentbus")

_PUMP_SECONDS = 1.0
# Between rounds over every node while reconnecting: short, since the overall bound is what limits it.
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 2.0


def _noop() -> None:
    pass


def _causes(error: BaseException) -> list[BaseException]:
    """pika wraps the real cause in the args of AMQPConnectionError; look through them."""
    seen: list[BaseException] = [error]
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            seen.extend(_causes(arg))
    return seen


def _reason(error: BaseException) -> str:
    """The innermost cause, short enough to list one per node."""
    causes = _causes(error)
    return repr(causes[-1])


def connect_error(error: BaseException, settings: wire.Settings, node: wire.Endpoint | None = None) -> AgentBusError:
    """The specific error for a failed connection attempt to one node."""
    node = node or settings.endpoints[0]
    where = f"RabbitMQ at {node} vhost '{settings.vhost}'"
    for cause in _causes(error):
        code = getattr(cause, "reply_code", None)
        text = getattr(cause, "reply_text", "")
        if isinstance(cause, (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)) or code == 403:
            return AuthenticationError(
                f"{where} refused the login of user '{settings.agent_id}': check the agent id and its password "
                f"(AGENTBUS_AGENT_ID, AGENTBUS_AGENT_PASSWORD){': ' + text if text else ''}")
        if isinstance(cause, pika.exceptions.ProbableAccessDeniedError) or code == 530:
            return AccessDeniedError(
                f"user '{settings.agent_id}' may not use vhost '{settings.vhost}' on {node}"
                f"{': ' + text if text else ''} (is AGENTBUS_RABBITMQ_VHOST right?)")
    return BrokerUnreachableError(f"cannot connect to {where}: {_reason(error)}")


class _Lost(pika.exceptions.AMQPConnectionError):
    """The connection is no use any more, though pika said so through a channel (a channel error on a
    closed connection, or the broker cancelling the reply consumer)."""


# What a piece of work raises when the connection, not the message, is the problem.
_CONNECTION_LOST = (pika.exceptions.AMQPConnectionError,)


@dataclass(eq=False)
class _Work:
    run: Callable[[], Any]
    future: Future[Any]
    republish: bool  # safe to run again after a reconnect when the connection died under it
    started: bool = False


class Transport:
    """Connects, consumes the agent's reply queue into a ReplyRouter, and publishes on request."""

    def __init__(self, settings: wire.Settings, router: ReplyRouter,
                 connect: Callable[[pika.ConnectionParameters], Any] = pika.BlockingConnection) -> None:
        self.settings = settings
        self._router = router
        self._connect = connect  # a seam for tests: anything shaped like a BlockingConnection
        self._work: queue.Queue[_Work] = queue.Queue()
        self._resume: deque[_Work] = deque()  # cut off by a lost connection; run first after reconnecting
        self._lock = threading.Lock()
        self._wake = threading.Event()  # ends a backoff sleep when the client closes
        self._stopping = False
        self._ended: BaseException | None = None
        self._connection: Any = None
        self._publisher: BlockingChannel | None = None
        self._ready: Future[None] = Future()
        self._consumer_cancelled = False
        self.node: wire.Endpoint | None = None  # the node connected to now
        self.reconnects = 0
        self.reconnecting = False
        self._thread = threading.Thread(target=self._run, name=f"agentbus-io:{settings.agent_id}", daemon=True)

    # -- any thread ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connects; returns once the reply queue is being consumed, or raises the specific error."""
        self._thread.start()
        # pika bounds each attempt itself (socket, stack and blocked timeouts); this is the backstop.
        self._ready.result(timeout=(self.settings.connect_timeout * 3 + 5) * len(self.settings.endpoints))

    def submit(self, work: Callable[[], Any], republish: bool = False) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._ended is not None or self._stopping:
                future.set_exception(self._ended or ConnectionLostError("the client is closed"))
                return future
            # While reconnecting there is no connection: the work waits in the queue for the next one.
            self._work.put(_Work(work, future, republish))
            if self._connection is not None:
                try:
                    self._connection.add_callback_threadsafe(_noop)  # wakes process_data_events at once
                except pika.exceptions.ConnectionWrongStateError:
                    pass  # the I/O thread reconnects or ends, and then sees the queue
        return future

    def publish(self, exchange: str, body: bytes, kind: str, message_id: str | None = None,
                headers: dict[str, Any] | None = None) -> Future[str]:
        """Publishes persistently as the agent (user_id), mandatory, on the confirm channel. The future
        is the message id, set once the broker has confirmed the message, or a PublishError. When the
        connection is lost before the confirm, the same message (same message id) is published again
        after reconnecting."""
        message_id = message_id or str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type=wire.CONTENT_TYPE,
            delivery_mode=wire.PERSISTENT,
            message_id=message_id,
            user_id=self.settings.agent_id,
            type=kind,
            timestamp=int(time.time()),
            headers=headers,
        )
        return self.submit(lambda: self._publish(exchange, body, properties), republish=True)

    @property
    def is_open(self) -> bool:
        return self._ended is None and not self._stopping and self._ready.done() and self._ready.exception() is None

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            connection = self._connection
        self._wake.set()
        if connection is not None:
            try:
                connection.add_callback_threadsafe(_noop)
            except pika.exceptions.ConnectionWrongStateError:
                pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the I/O thread --------------------------------------------------------------------------

    def _parameters(self, node: wire.Endpoint, timeout: float) -> pika.ConnectionParameters:
        s = self.settings
        return pika.ConnectionParameters(
            host=node.host,
            port=node.port,
            virtual_host=s.vhost,
            credentials=pika.PlainCredentials(s.agent_id, s.password),
            heartbeat=s.heartbeat,
            connection_attempts=1,
            socket_timeout=timeout,
            stack_timeout=timeout * 1.5,
            # A broker under a resource alarm blocks publishers; fail instead of hanging.
            blocked_connection_timeout=max(s.publish_timeout * 3, 10.0),
            client_properties={"connection_name": f"agent:{s.agent_id} (python)"},
        )

    def _open(self, node: wire.Endpoint, timeout: float) -> None:
        s = self.settings
        try:
            connection = self._connect(self._parameters(node, timeout))
        except pika.exceptions.AMQPError as error:
            raise connect_error(error, s, node) from None
        except OSError as error:
            raise BrokerUnreachableError(f"cannot connect to RabbitMQ at {node}: {error}") from None
        try:
            publisher = self._open_publisher(connection)
            replies = connection.channel()
            replies.basic_qos(prefetch_count=64)
            # The queue exists already (`agentbus broker apply`); an agent may read it, never declare it.
            replies.basic_consume(wire.reply_queue(s.agent_id), self._on_reply, auto_ack=False)
            replies.add_on_cancel_callback(self._on_consumer_cancelled)
        except pika.exceptions.ChannelClosedByBroker as error:
            self._close_quietly(connection)
            raise AccessDeniedError(
                f"cannot read reply queue {wire.reply_queue(s.agent_id)} in vhost '{s.vhost}' on {node}: "
                f"{error.reply_code} {error.reply_text} (has the operator run `agentbus broker apply` for this agent?)") from None
        except pika.exceptions.AMQPError as error:
            self._close_quietly(connection)
            raise BrokerUnreachableError(f"RabbitMQ at {node} closed the new connection: {_reason(error)}") from None
        with self._lock:
            self._connection = connection
        self._publisher = publisher
        self._consumer_cancelled = False
        self.node = node

    def _connect_first(self) -> None:
        """The first node that answers, in order. A refused login or vhost is an answer, the same on every
        node of a cluster: it ends the attempt at once."""
        failures: list[tuple[wire.Endpoint, BrokerUnreachableError]] = []
        for node in self.settings.endpoints:
            try:
                self._open(node, self.settings.connect_timeout)
                return
            except BrokerUnreachableError as error:
                log.debug("RabbitMQ at %s did not answer: %s", node, error)
                failures.append((node, error))
        if len(failures) == 1:
            raise failures[0][1]
        raise BrokerUnreachableError(
            f"cannot connect to RabbitMQ (vhost '{self.settings.vhost}') at any of {self.settings.nodes}: "
            + "; ".join(f"{node}: {error}" for node, error in failures))

    def _open_publisher(self, connection: Any = None) -> BlockingChannel:
        connection = connection or self._connection
        assert connection is not None
        channel = connection.channel()
        channel.confirm_delivery()  # basic_publish now returns once the broker acked, and raises otherwise
        return channel

    def _run(self) -> None:
        try:
            self._connect_first()
        except BaseException as error:  # noqa: BLE001 - handed to the caller of start()
            refused = error if isinstance(error, AgentBusError) else BrokerUnreachableError(f"cannot connect: {error!r}")
            self._end(refused)
            self._ready.set_exception(refused)
            return
        self._ready.set_result(None)
        failure: BaseException | None = None
        while failure is None and not self._stopping:
            try:
                while not self._stopping:
                    self._drain()
                    self._connection.process_data_events(time_limit=_PUMP_SECONDS)
                    if self._consumer_cancelled:
                        raise _Lost(f"the broker cancelled the consumer of {wire.reply_queue(self.settings.agent_id)}")
                break
            except pika.exceptions.AMQPError as error:
                lost: BaseException = error
            except BaseException as error:  # noqa: BLE001 - never die silently with waiters pending
                failure = ConnectionLostError(f"the client's I/O thread failed: {error!r}")
                log.exception("the AgentBus I/O thread failed")
                break
            try:
                failure = self._reconnect(lost)
            except BaseException as error:  # noqa: BLE001 - as above
                failure = ConnectionLostError(f"the client's I/O thread failed while reconnecting: {error!r}")
                log.exception("the AgentBus I/O thread failed while reconnecting")
        self._end(failure or ConnectionLostError("the client is closed"))
        if failure is not None:
            self._router.fail_all(failure)

    def _reconnect(self, error: BaseException) -> BaseException | None:
        """Reconnects to any node within reconnect_timeout. None once reconnected (or closing), else the
        error that ends the client."""
        s = self.settings
        lost = self.node
        started = time.monotonic()
        deadline = started + s.reconnect_timeout
        self.reconnecting = True
        with self._lock:
            connection, self._connection = self._connection, None
        self._publisher = None
        self._close_quietly(connection)
        log.warning("lost the connection to RabbitMQ at %s: %r; reconnecting to any of %s for up to %g s",
                    lost, error, s.nodes, s.reconnect_timeout)
        nodes = list(s.endpoints)
        if lost in nodes:  # the lost node last: it may be the one that died
            at = nodes.index(lost) + 1
            nodes = nodes[at:] + nodes[:at]
        failures: dict[wire.Endpoint, str] = {}
        backoff = _FIRST_BACKOFF
        try:
            while not self._stopping:
                for node in nodes:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._stopping:
                        break
                    try:
                        self._open(node, min(s.connect_timeout, remaining))
                    except Exception as failed:  # noqa: BLE001 - any node may fail any way; the next one is tried
                        failures[node] = str(failed) if isinstance(failed, AgentBusError) else repr(failed)
                        continue
                    self.reconnects += 1
                    unconfirmed = sum(1 for work in self._resume if work.republish)
                    log.warning("reconnected to RabbitMQ at %s after %.1f s%s", node, time.monotonic() - started,
                                f"; publishing {unconfirmed} unconfirmed message(s) again with the same message id"
                                if unconfirmed else "")
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.wait(min(backoff, remaining))
                backoff = min(backoff * 2, _MAX_BACKOFF)
        finally:
            self.reconnecting = False
        if self._stopping:
            return None
        tried = "; ".join(f"{node}: {why}" for node, why in failures.items()) or "no attempt finished"
        gave_up = ConnectionLostError(
            f"the connection to RabbitMQ at {lost} was lost ({error!r}) and no node of {s.nodes} took a new one "
            f"within reconnect_timeout {s.reconnect_timeout:g} s: {tried}")
        log.error("%s", gave_up)
        return gave_up

    @staticmethod
    def _close_quietly(connection: Any) -> None:
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass

    def _end(self, error: BaseException) -> None:
        with self._lock:
            self._ended = error
            connection, self._connection = self._connection, None
        pending = list(self._resume)
        self._resume.clear()
        while True:
            try:
                pending.append(self._work.get_nowait())
            except queue.Empty:
                break
        for work in pending:
            if work.started or work.future.set_running_or_notify_cancel():
                work.future.set_exception(error)
        self._close_quietly(connection)

    def _next(self) -> _Work | None:
        if self._resume:
            return self._resume.popleft()
        try:
            return self._work.get_nowait()
        except queue.Empty:
            return None

    def _drain(self) -> None:
        while (work := self._next()) is not None:
            if not work.started:
                if not work.future.set_running_or_notify_cancel():
                    continue
                work.started = True
            try:
                work.future.set_result(work.run())
            except _CONNECTION_LOST as error:
                if work.republish:
                    self._resume.appendleft(work)  # its confirm never came: it goes again on the next connection
                else:
                    work.future.set_exception(ConnectionLostError(f"the connection to RabbitMQ was lost under it: {error!r}"))
                raise
            except BaseException as error:  # noqa: BLE001 - the caller gets it
                work.future.set_exception(error)

    def _connection_gone(self) -> bool:
        return self._connection is not None and not self._connection.is_open

    def _publish(self, exchange: str, body: bytes, properties: pika.BasicProperties) -> str:
        if self._publisher is None or not self._publisher.is_open:
            self._publisher = self._open_publisher()
        try:
            self._publisher.basic_publish(exchange, "", body, properties, mandatory=True)
        except pika.exceptions.UnroutableError:
            raise PublishError(f"the broker returned the message: nothing is bound to exchange {exchange} "
                               "(has the operator run `agentbus broker apply`?)") from None
        except pika.exceptions.NackError:
            raise PublishError(f"the broker refused (nacked) the message to {exchange}") from None
        except pika.exceptions.ChannelClosedByBroker as error:
            self._publisher = None  # reopened on the next publish
            if self._connection_gone():
                raise _Lost(f"the connection closed with the channel: {error!r}") from None
            raise PublishError(f"the broker closed the channel on a message to {exchange}: {error.reply_code} {error.reply_text}") from None
        except (pika.exceptions.ChannelWrongStateError, pika.exceptions.ChannelClosed) as error:
            self._publisher = None
            if self._connection_gone():
                raise _Lost(f"the connection closed under the publishing channel: {error!r}") from None
            raise PublishError(f"the publishing channel was closed: {error!r}") from None
        return str(properties.message_id)

    def _on_consumer_cancelled(self, frame: Any) -> None:
        # The broker cancels a consumer when its queue goes away or moves (a node of the cluster died);
        # without this the client would go on with a connection that no longer reads replies. Flagged,
        # not raised: pika logs an exception raised in a callback as its own failure.
        self._consumer_cancelled = True

    def _on_reply(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        try:
            outcome = self._router.dispatch(properties.type, properties.correlation_id, properties.user_id, body)
            log.debug("reply %s (message %s): %s", properties.type, properties.message_id, outcome)
        except Exception:  # noqa: BLE001 - a reply must never stop the consumer
            log.exception("failed to handle a %s reply", properties.type)
        finally:
            # Acknowledged whatever it was: redelivery would never make it readable or ours.
            channel.basic_ack(method.delivery_tag)
