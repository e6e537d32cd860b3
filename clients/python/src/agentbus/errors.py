"""Exceptions the client raises. Every one is an AgentBusError, and each says what went wrong and where."""

from __future__ import annotations

import builtins


class AgentBusError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(AgentBusError, ValueError):
    """A setting is missing or malformed (agent id, password, port, gateway URL)."""


class InvalidProposalError(AgentBusError, ValueError):
    """The proposal breaks the wire contract before it is sent (a bad run id, tool, operation or argument object)."""


class AuthenticationError(AgentBusError):
    """The broker or the gateway refused the agent's credentials: check the agent id and password."""


class AccessDeniedError(AgentBusError):
    """Logged in, but the agent may not use the virtual host or read its reply queue."""


class BrokerUnreachableError(AgentBusError):
    """No connection to RabbitMQ could be made (refused, unresolvable host, timed out)."""


class ConnectionLostError(AgentBusError):
    """The connection to RabbitMQ closed while the client was using it; pending waits end with this."""


class PublishError(AgentBusError):
    """The broker did not take a message: it nacked it, could not route it, or closed the channel on it."""


class AgentBusTimeoutError(AgentBusError, builtins.TimeoutError):
    """An answer did not come in time. A builtin TimeoutError, so `except TimeoutError` catches it too."""

    def __init__(self, message: str, action_id: str | None = None) -> None:
        super().__init__(message)
        self.action_id = action_id


class GatewayError(AgentBusError):
    """The MCP gateway could not be reached or did not answer with the operations."""

    def __init__(self, message: str, status: int | None = None, title: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.detail = detail


class GatewayAuthenticationError(GatewayError, AuthenticationError):
    """The gateway answered 401: it refused the agent id and password."""
