"""Shared helpers. Integration tests need a real pipeline and are skipped, with the reason, without one."""

from __future__ import annotations

import os

import pytest

INTEGRATION_ENV = ("AGENTBUS_RABBITMQ_HOST", "AGENTBUS_AGENT_ID", "AGENTBUS_AGENT_PASSWORD")


def missing_integration_env() -> list[str]:
    return [name for name in INTEGRATION_ENV if not os.environ.get(name)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_integration_env()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"integration test: set {', '.join(missing)} (and AGENTBUS_RABBITMQ_PORT/VHOST) "
                                   "to run it against a real AgentBus pipeline")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)
