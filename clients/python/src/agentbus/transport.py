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
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
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


def _noop() -> None:
    pass


def _causes(error: BaseException) -> list[BaseException]:
    """pika wraps the real cause in the args of AMQPConnectionError; look through them."""
    seen: list[BaseException] = [error]
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            seen.extend(_causes(arg))
    return seen


def connect_error(error: BaseException, settings: wire.Settings) -> AgentBusError:
    """The specific error for a failed connection attempt."""
    where = f"RabbitMQ at {settings.host}:{settings.port} vhost '{settings.vhost}'"
    for cause in _causes(error):
        code = getattr(cause, "reply_code", None)
        text = getattr(cause, "reply_text", "")
        if isinstance(cause, (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)) or code == 403:
            return AuthenticationError(
                f"{where} refused the login of user '{settings.agent_id}': check the agent id and its password "
                f"(AGENTBUS_AGENT_ID, AGENTBUS_AGENT_PASSWORD){': ' + text if text else ''}")
        if isinstance(cause, pika.exceptions.ProbableAccessDeniedError) or code == 530:
            return AccessDeniedError(
                f"user '{settings.agent_id}' may not use vhost '{settings.vhost}' on {settings.host}:{settings.port}"
                f"{': ' + text if text else ''} (is AGENTBUS_RABBITMQ_VHOST right?)")
    return BrokerUnreachableError(f"cannot connect to {where}: {error!r}")


class Transport:
    """Connects, consumes the agent's reply queue into a ReplyRouter, and publishes on request."""

    def __init__(self, settings: wire.Settings, router: ReplyRouter) -> None:
        self.settings = settings
        self._router = router
        self._work: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._lock = threading.Lock()
        self._stopping = False
        self._ended: BaseException | None = None
        self._connection: pika.BlockingConnection | None = None
        self._publisher: BlockingChannel | None = None
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, name=f"agentbus-io:{settings.agent_id}", daemon=True)

    # -- any thread ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connects; returns once the reply queue is being consumed, or raises the specific error."""
        self._thread.start()
        # pika bounds the attempt itself (socket, stack and blocked timeouts); this is the backstop.
        self._ready.result(timeout=self.settings.connect_timeout * 3 + 5)

    def submit(self, work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._ended is not None or self._stopping or self._connection is None:
                future.set_exception(self._ended or ConnectionLostError("the client is closed"))
                return future
            self._work.put((work, future))
            try:
                self._connection.add_callback_threadsafe(_noop)  # wakes process_data_events at once
            except pika.exceptions.ConnectionWrongStateError:
                pass  # the I/O thread is ending: it fails what is left in the queue
        return future

    def publish(self, exchange: str, body: bytes, kind: str, message_id: str | None = None,
                headers: dict[str, Any] | None = None) -> Future[str]:
        """Publishes persistently as the agent (user_id), mandatory, on the confirm channel. The future
        is the message id, set once the broker has confirmed the message, or a PublishError."""
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
        return self.submit(lambda: self._publish(exchange, body, properties))

    @property
    def is_open(self) -> bool:
        return self._ended is None and not self._stopping and self._ready.done() and self._ready.exception() is None

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            connection = self._connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(_noop)
            except pika.exceptions.ConnectionWrongStateError:
                pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the I/O thread --------------------------------------------------------------------------

    def _open(self) -> None:
        s = self.settings
        parameters = pika.ConnectionParameters(
            host=s.host,
            port=s.port,
            virtual_host=s.vhost,
            credentials=pika.PlainCredentials(s.agent_id, s.password),
            heartbeat=s.heartbeat,
            connection_attempts=1,
            socket_timeout=s.connect_timeout,
            stack_timeout=s.connect_timeout * 1.5,
            # A broker under a resource alarm blocks publishers; fail instead of hanging.
            blocked_connection_timeout=max(s.publish_timeout * 3, 10.0),
            client_properties={"connection_name": f"agent:{s.agent_id} (python)"},
        )
        try:
            connection = pika.BlockingConnection(parameters)
        except pika.exceptions.AMQPError as error:
            raise connect_error(error, s) from None
        except OSError as error:
            raise BrokerUnreachableError(f"cannot connect to RabbitMQ at {s.host}:{s.port}: {error}") from None
        with self._lock:
            self._connection = connection
        try:
            self._publisher = self._open_publisher()
            replies = connection.channel()
            replies.basic_qos(prefetch_count=64)
            # The queue exists already (`agentbus broker apply`); an agent may read it, never declare it.
            replies.basic_consume(wire.reply_queue(s.agent_id), self._on_reply, auto_ack=False)
        except pika.exceptions.ChannelClosedByBroker as error:
            raise AccessDeniedError(
                f"cannot read reply queue {wire.reply_queue(s.agent_id)} in vhost '{s.vhost}': {error.reply_code} {error.reply_text} "
                "(has the operator run `agentbus broker apply` for this agent?)") from None

    def _open_publisher(self) -> BlockingChannel:
        assert self._connection is not None
        channel = self._connection.channel()
        channel.confirm_delivery()  # basic_publish now returns once the broker acked, and raises otherwise
        return channel

    def _run(self) -> None:
        try:
            self._open()
        except BaseException as error:  # noqa: BLE001 - handed to the caller of start()
            refused = error if isinstance(error, AgentBusError) else BrokerUnreachableError(f"cannot connect: {error!r}")
            self._end(refused)
            self._ready.set_exception(refused)
            return
        self._ready.set_result(None)
        failure: BaseException | None = None
        try:
            while not self._stopping:
                self._drain()
                assert self._connection is not None
                self._connection.process_data_events(time_limit=_PUMP_SECONDS)
        except pika.exceptions.AMQPError as error:
            failure = ConnectionLostError(
                f"the connection to RabbitMQ at {self.settings.host}:{self.settings.port} was lost: {error!r}")
            log.warning("%s", failure)
        except BaseException as error:  # noqa: BLE001 - never die silently with waiters pending
            failure = ConnectionLostError(f"the client's I/O thread failed: {error!r}")
            log.exception("the AgentBus I/O thread failed")
        self._end(failure or ConnectionLostError("the client is closed"))
        if failure is not None:
            self._router.fail_all(failure)

    def _end(self, error: BaseException) -> None:
        with self._lock:
            self._ended = error
            connection, self._connection = self._connection, None
        while True:
            try:
                _, future = self._work.get_nowait()
            except queue.Empty:
                break
            if future.set_running_or_notify_cancel():
                future.set_exception(error)
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass

    def _drain(self) -> None:
        while True:
            try:
                work, future = self._work.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except (pika.exceptions.ConnectionClosed, pika.exceptions.AMQPConnectionError, pika.exceptions.StreamLostError) as error:
                future.set_exception(ConnectionLostError(f"the connection to RabbitMQ was lost while publishing: {error!r}"))
                raise
            except BaseException as error:  # noqa: BLE001 - the caller gets it
                future.set_exception(error)

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
            raise PublishError(f"the broker closed the channel on a message to {exchange}: {error.reply_code} {error.reply_text}") from None
        except pika.exceptions.ChannelWrongStateError as error:
            self._publisher = None
            raise PublishError(f"the publishing channel was closed: {error!r}") from None
        return str(properties.message_id)

    def _on_reply(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        try:
            outcome = self._router.dispatch(properties.type, properties.correlation_id, properties.user_id, body)
            log.debug("reply %s (message %s): %s", properties.type, properties.message_id, outcome)
        except Exception:  # noqa: BLE001 - a reply must never stop the consumer
            log.exception("failed to handle a %s reply", properties.type)
        finally:
            # Acknowledged whatever it was: redelivery would never make it readable or ours.
            channel.basic_ack(method.delivery_tag)
