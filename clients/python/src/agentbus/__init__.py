"""AgentBus for Python agents: propose actions over AMQP, await their decisions and outcomes.

The wire contract is contracts/README.md; src/AgentBus.Client (the .NET client) is the reference
behaviour this package mirrors.
"""

from .aio import AsyncAgentBusClient
from .client import AgentBusClient
from .errors import (
    AccessDeniedError,
    AgentBusError,
    AgentBusTimeoutError,
    AuthenticationError,
    BrokerUnreachableError,
    ConfigurationError,
    ConnectionLostError,
    GatewayAuthenticationError,
    GatewayError,
    InvalidProposalError,
    PublishError,
)
from .gateway import OperationsOffer, fetch_offer
from .models import ActionDecided, ActionFailed, ActionResult, ActionSucceeded, Decision, Operation
from .wire import Settings, uuid7

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "ActionDecided",
    "ActionFailed",
    "ActionResult",
    "ActionSucceeded",
    "AgentBusClient",
    "AgentBusError",
    "AgentBusTimeoutError",
    "AsyncAgentBusClient",
    "AuthenticationError",
    "BrokerUnreachableError",
    "ConfigurationError",
    "ConnectionLostError",
    "Decision",
    "GatewayAuthenticationError",
    "GatewayError",
    "InvalidProposalError",
    "Operation",
    "OperationsOffer",
    "PublishError",
    "Settings",
    "fetch_offer",
    "uuid7",
]
