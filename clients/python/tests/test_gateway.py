"""operations() against a stand-in HTTP server on a loopback port: the request it sends, the errors it maps."""

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentbus import ConfigurationError, GatewayAuthenticationError, GatewayError, fetch_offer, AuthenticationError
from agentbus.client import AgentBusClient, Core
from agentbus.wire import Settings

from test_models import OFFER


class Gateway:
    def __init__(self):
        self.answer = (200, OFFER)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Authorization")))
                status, body = outer.answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def gateway():
    server = Gateway()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_operations_are_read_with_basic_auth_of_the_agent_id_and_password(gateway):
    offer = fetch_offer("python-agent", "s3cret:x", gateway.url + "/")
    assert [o.name for o in offer.operations] == ["payments_refund", "ticketing_comment"]
    path, authorization = gateway.requests[0]
    assert path == "/v1/operations"
    assert authorization == "Basic " + base64.b64encode(b"python-agent:s3cret:x").decode()


def test_the_client_lists_its_operations_with_its_own_credentials(gateway, monkeypatch):
    monkeypatch.setenv("AGENTBUS_GATEWAY_URL", gateway.url)
    client = AgentBusClient(Core(Settings.from_env("python-agent", "pw", env={}), None))
    operations = client.operations()
    assert operations[0].qualified_name == "payments.refund"
    assert gateway.requests[0][1] == "Basic " + base64.b64encode(b"python-agent:pw").decode()


def test_a_wrong_credential_is_a_gateway_authentication_error_with_the_problem_detail(gateway):
    gateway.answer = (401, {"title": "Unauthorized", "detail": "Wrong agent id or password."})
    with pytest.raises(GatewayAuthenticationError, match="refused agent 'python-agent' \\(401\\).*Wrong agent id or password") as raised:
        fetch_offer("python-agent", "wrong", gateway.url)
    assert isinstance(raised.value, AuthenticationError) and isinstance(raised.value, GatewayError)
    assert (raised.value.status, raised.value.detail) == (401, "Wrong agent id or password.")


def test_an_unreachable_broker_behind_the_gateway_is_a_503_gateway_error(gateway):
    gateway.answer = (503, {"title": "Broker unreachable", "detail": "RabbitMQ at 127.0.0.1:5672 refused the connection."})
    with pytest.raises(GatewayError, match="503.*Broker unreachable.*refused the connection") as raised:
        fetch_offer("python-agent", "pw", gateway.url)
    assert raised.value.status == 503


@pytest.mark.parametrize("answer, says", [
    ((500, b"oops"), "answered 500"),
    ((200, b"<html>"), "not an operations offer"),
    ((200, {"agentId": "python-agent"}), "not an operations offer"),
])
def test_other_answers_are_gateway_errors_naming_the_endpoint(gateway, answer, says):
    gateway.answer = answer
    with pytest.raises(GatewayError, match=says):
        fetch_offer("python-agent", "pw", gateway.url)


def test_a_gateway_nobody_listens_on_is_a_gateway_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GatewayError, match=f"cannot reach the MCP gateway at http://127.0.0.1:{port}"):
        fetch_offer("python-agent", "pw", f"http://127.0.0.1:{port}", timeout=2)


@pytest.mark.parametrize("url", ["127.0.0.1:5105", "ftp://gateway", "http://"])
def test_a_gateway_url_that_is_not_http_is_a_configuration_error(url):
    with pytest.raises(ConfigurationError, match="AGENTBUS_GATEWAY_URL"):
        fetch_offer("python-agent", "pw", url)
