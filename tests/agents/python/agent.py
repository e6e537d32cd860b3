#!/usr/bin/python3
"""A minimal AgentBus agent in Python, written from contracts/README.md alone.

It publishes proposals to agentbus.proposals as its own RabbitMQ user (AMQP user_id = agent id)
with publisher confirms, then reads its reply queue agentbus.agent.<agentId> until every action
is final (denied, or allowed and then succeeded or failed) or its deadline passes. It prints one
JSON object per action to stdout, in input order.

Connection settings come from the environment:
  AGENTBUS_RABBITMQ_HOST (127.0.0.1), AGENTBUS_RABBITMQ_PORT (5672),
  AGENTBUS_RABBITMQ_VHOST (agentbus), AGENTBUS_AGENT_ID, AGENTBUS_AGENT_PASSWORD

Proposals: a JSON list (or one object) given as the argument, read from --file, or from stdin:
  [{"operation": "ticketing.create_ticket", "runId": "run-1",
    "arguments": {"title": "Customer cannot log in", "priority": "high"},
    "intent": "optional", "idempotencyKey": "optional", "actionId": "optional UUID"}]
"operation" names a catalog operation as tool.operation (split at its last dot); a generic tool
without operations is named with "tool" instead.
For contract tests an item may also carry "omit": ["runId", ...], body fields to leave out.

Exit status: 0 every action reached a final state; 1 at least one did not before its deadline;
2 usage, connection or publish errors. Needs Debian's python3-pika: run with /usr/bin/python3.
"""

import argparse
import json
import os
import signal
import sys
import time
import uuid

try:
    import pika
    import pika.exceptions
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write("agent.py: error: the 'pika' module is missing; install python3-pika and run with /usr/bin/python3\n")
    sys.exit(2)

PROPOSALS_EXCHANGE = "agentbus.proposals"
POLICY_USER = "agentbus-policy"
REPLY_QUEUE_PREFIX = "agentbus.agent."
DEFAULT_VHOST = "agentbus"
CONTENT_TYPE = "application/json"
PERSISTENT = 2
TRACE_HEADER = "MT-Activity-Id"

EXIT_OK, EXIT_TIMEOUT, EXIT_ERROR = 0, 1, 2
INPUT_KEYS = {"tool", "operation", "arguments", "runId", "actionId", "idempotencyKey", "intent", "omit"}


def uuid7():
    """A version 7 UUID (RFC 9562): time-ordered, as contracts/README.md recommends for actionId."""
    value = (int(time.time() * 1000) & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


class UsageError(Exception):
    pass


class HardDeadline(Exception):
    pass


def log(message):
    sys.stderr.write("agent.py: " + message + "\n")
    sys.stderr.flush()


def settings():
    agent_id = os.environ.get("AGENTBUS_AGENT_ID", "")
    password = os.environ.get("AGENTBUS_AGENT_PASSWORD", "")
    if not agent_id:
        raise UsageError("AGENTBUS_AGENT_ID is not set (it is the agent's RabbitMQ user name)")
    if not password:
        raise UsageError("AGENTBUS_AGENT_PASSWORD is not set (the operator gives it to you)")
    port_text = os.environ.get("AGENTBUS_RABBITMQ_PORT") or "5672"
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError("AGENTBUS_RABBITMQ_PORT is not a number: %r" % port_text)
    return {
        "host": os.environ.get("AGENTBUS_RABBITMQ_HOST") or "127.0.0.1",
        "port": port,
        "vhost": os.environ.get("AGENTBUS_RABBITMQ_VHOST") or DEFAULT_VHOST,
        "agent_id": agent_id,
        "password": password,
    }


def read_proposals(options):
    if options.proposals is not None and options.file is not None:
        raise UsageError("give the proposals either as an argument or with --file, not both")
    if options.proposals is not None:
        text, source = options.proposals, "the argument"
    elif options.file is not None:
        try:
            with open(options.file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise UsageError("cannot read %s: %s" % (options.file, error))
        source = options.file
    else:
        if sys.stdin.isatty():
            raise UsageError("no proposals: pass a JSON list as the argument, with --file, or on stdin")
        text, source = sys.stdin.read(), "stdin"

    try:
        items = json.loads(text)
    except ValueError as error:
        raise UsageError("the proposals in %s are not valid JSON: %s" % (source, error))
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise UsageError("the proposals must be a non-empty JSON list of objects")

    seen = set()
    proposals = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise UsageError("proposal %d is not a JSON object" % index)
        unknown = sorted(set(item) - INPUT_KEYS)
        if unknown:
            raise UsageError("proposal %d has unknown keys %s (known: %s)" % (index, ", ".join(unknown), ", ".join(sorted(INPUT_KEYS))))
        omit = item.get("omit", [])
        if not isinstance(omit, list) or not all(isinstance(name, str) for name in omit):
            raise UsageError("proposal %d: 'omit' must be a list of field names" % index)
        run_id = item.get("runId", options.run_id)
        tool, operation = item.get("tool"), None
        if isinstance(item.get("operation"), str):
            if tool is not None:
                raise UsageError("proposal %d: give 'operation' (tool.operation) or 'tool', not both" % index)
            tool, _, operation = item["operation"].rpartition(".")
            if not tool or not operation:
                raise UsageError("proposal %d: 'operation' must be tool.operation, e.g. payments.refund" % index)
        for name, value in (("tool", tool), ("runId", run_id)):
            if name not in omit and not isinstance(value, str):
                raise UsageError("proposal %d: '%s' must be a string" % (index, name))
        if "arguments" not in omit and not isinstance(item.get("arguments"), dict):
            raise UsageError("proposal %d: 'arguments' must be a JSON object" % index)

        action_id = item.get("actionId") or uuid7()
        if action_id in seen:
            raise UsageError("proposal %d repeats actionId %s; one action per id" % (index, action_id))
        seen.add(action_id)

        body = {
            "actionId": action_id,
            "runId": run_id,
            "agentId": None,  # filled in with the broker user name
            "tool": tool,
            "arguments": item.get("arguments"),
        }
        if operation is not None:
            body["operation"] = operation
        for optional in ("idempotencyKey", "intent"):
            if item.get(optional) is not None:
                body[optional] = item[optional]
        for name in omit:
            body.pop(name, None)
        proposals.append({"index": index, "body": body, "actionId": body.get("actionId")})
    return proposals


class Action:
    """What is known about one proposal; final once denied, or once an outcome has arrived."""

    def __init__(self, index, action_id, message_id, deadline, tool):
        self.index = index
        self.action_id = action_id
        self.tool = tool
        self.message_id = message_id
        self.deadline = deadline
        self.decision = None
        self.outcome_type = None
        self.outcome = None

    @property
    def final(self):
        # An action allowed at once gets its outcome and no decision: the outcome implies allowed.
        denied = self.decision is not None and self.decision.get("decision") == "denied"
        return denied or self.outcome is not None

    def report(self):
        decision = self.decision or {}
        outcome = self.outcome or {}
        inferred = self.decision is None and self.outcome is not None
        return {
            "index": self.index,
            "actionId": self.action_id,
            "messageId": self.message_id,
            "decision": "allowed" if inferred else decision.get("decision"),
            "decisionInferred": inferred,
            "reasonCode": decision.get("reasonCode"),
            "reason": decision.get("reason"),
            "ruleId": decision.get("ruleId"),
            "outcome": self.outcome_type,
            "errorCode": outcome.get("errorCode"),
            "outcomeUnknown": outcome.get("outcomeUnknown"),
            "externalReference": outcome.get("externalReference"),
            "final": self.final,
        }


class Agent:
    def __init__(self, config, verbose):
        self.config = config
        self.verbose = verbose
        self.reply_queue = REPLY_QUEUE_PREFIX + config["agent_id"]
        self.by_action = {}
        self.by_message = {}
        self.connection = None
        self.publisher = None
        self.replies = None

    def connect(self, timeout):
        parameters = pika.ConnectionParameters(
            host=self.config["host"],
            port=self.config["port"],
            virtual_host=self.config["vhost"],
            credentials=pika.PlainCredentials(self.config["agent_id"], self.config["password"]),
            heartbeat=10,
            connection_attempts=1,
            socket_timeout=10,
            stack_timeout=15,
            # A broker under a resource alarm blocks publishers; give up instead of hanging.
            blocked_connection_timeout=max(timeout, 10.0),
            client_properties={"connection_name": "agent:%s (python)" % self.config["agent_id"]},
        )
        self.connection = pika.BlockingConnection(parameters)
        self.publisher = self.connection.channel()
        self.publisher.confirm_delivery()
        self.replies = self.connection.channel()
        self.replies.basic_qos(prefetch_count=64)
        # The queue exists already (`agentbus broker apply`); an agent may read it, never declare it.
        self.replies.basic_consume(self.reply_queue, self.on_reply, auto_ack=False)

    def propose(self, proposal, timeout):
        body = dict(proposal["body"])
        if "agentId" in body:
            body["agentId"] = self.config["agent_id"]
        message_id = str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=PERSISTENT,
            message_id=message_id,
            user_id=self.config["agent_id"],
            type="ActionProposed",
            timestamp=int(time.time()),
            headers={TRACE_HEADER: "00-%s-%s-01" % (uuid.uuid4().hex, uuid.uuid4().hex[:16])},
        )
        if self.verbose:
            log("proposing message_id=%s %s=%s body=%s" % (message_id, TRACE_HEADER, properties.headers[TRACE_HEADER], json.dumps(body)))
        action = Action(proposal["index"], proposal["actionId"], message_id, time.monotonic() + timeout, body.get("tool"))
        self.by_message[message_id] = action
        if action.action_id is not None:
            self.by_action[action.action_id] = action
        # With confirms on, this returns once the broker has the message, and raises when it
        # nacks it (NackError) or cannot route it (UnroutableError, thanks to mandatory).
        self.publisher.basic_publish(PROPOSALS_EXCHANGE, "", json.dumps(body).encode("utf-8"), properties, mandatory=True)
        return action

    def on_reply(self, channel, method, properties, body):
        try:
            self.dispatch(properties, body)
        finally:
            # Unreadable or foreign replies are acknowledged too: redelivery would not change them.
            channel.basic_ack(method.delivery_tag)

    def dispatch(self, properties, body):
        kind = properties.type
        try:
            reply = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            log("ignoring an unreadable %s reply (message %s)" % (kind, properties.message_id))
            return
        if not isinstance(reply, dict):
            log("ignoring a %s reply that is not a JSON object" % kind)
            return
        if self.verbose:
            trace = (properties.headers or {}).get(TRACE_HEADER)
            log("reply type=%s correlation_id=%s message_id=%s %s=%s body=%s"
                % (kind, properties.correlation_id, properties.message_id, TRACE_HEADER,
                   trace.decode("utf-8", "replace") if isinstance(trace, bytes) else trace, json.dumps(reply, sort_keys=True)))

        action = self.by_action.get(reply.get("actionId"))
        if action is None and kind == "ActionDecided":
            action = self.by_message.get(properties.correlation_id)
        if action is None:
            log("ignoring a %s reply for an action this run did not propose (actionId %s)" % (kind, reply.get("actionId")))
            return

        # Who sent it, as RabbitMQ vouches (user_id): decisions only from the policy service; outcomes
        # only from the executors of the tool this agent proposed (or from policy, for a duplicate).
        sender = properties.user_id
        if kind == "ActionDecided":
            if sender != POLICY_USER:
                log("ignoring a decision from %r, not the policy service" % sender)
                return
            action.decision = reply
        elif kind in ("ActionSucceeded", "ActionFailed"):
            if reply.get("tool") != action.tool or sender not in (POLICY_USER, "agentbus-executor-%s" % action.tool):
                log("ignoring a %s for %s from %r about tool %r: only %s's executors speak for it"
                    % (kind, action.action_id, sender, reply.get("tool"), action.tool))
                return
            action.outcome_type, action.outcome = kind, reply
        else:
            log("ignoring a reply of unknown type %r" % kind)

    def wait(self, actions):
        while True:
            now = time.monotonic()
            pending = [a for a in actions if not a.final and now < a.deadline]
            if not pending:
                return
            self.connection.process_data_events(time_limit=min(0.2, max(0.01, min(a.deadline for a in pending) - now)))

    def close(self):
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.close()
            except pika.exceptions.AMQPError:
                pass


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="agent.py", description="Propose tool calls to AgentBus and print each action's decision and outcome.")
    parser.add_argument("proposals", nargs="?", help="JSON list of proposals (default: read stdin)")
    parser.add_argument("--file", help="read the JSON list of proposals from this file")
    parser.add_argument("--run-id", default=None, help="runId for proposals that do not name one")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for each action's decision and outcome (default 30)")
    parser.add_argument("--verbose", action="store_true", help="log every reply received to stderr")
    options = parser.parse_args(argv)
    if not options.timeout > 0:
        parser.error("--timeout must be positive")
    return options


def on_alarm(signum, frame):
    raise HardDeadline()


def main(argv):
    options = parse_args(argv)
    agent = None
    try:
        config = settings()
        proposals = read_proposals(options)

        # However the network or broker behaves, this process ends: connect, publish and wait are
        # all bounded, and this alarm is the backstop behind them.
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(options.timeout * 2 + 30))

        agent = Agent(config, options.verbose)
        try:
            agent.connect(options.timeout)
        except pika.exceptions.ProbableAuthenticationError:
            raise UsageError("RabbitMQ refused the login of user '%s': check AGENTBUS_AGENT_ID and AGENTBUS_AGENT_PASSWORD"
                             % config["agent_id"])
        except pika.exceptions.ProbableAccessDeniedError:
            raise UsageError("user '%s' has no access to vhost '%s'" % (config["agent_id"], config["vhost"]))
        except pika.exceptions.ChannelClosedByBroker as error:
            raise UsageError("cannot read reply queue %s: %s %s (has the operator run `agentbus broker apply` for this agent?)"
                             % (agent.reply_queue, error.reply_code, error.reply_text))
        except pika.exceptions.AMQPConnectionError as error:
            raise UsageError("cannot connect to RabbitMQ at %s:%s vhost '%s': %r"
                             % (config["host"], config["port"], config["vhost"], error))

        actions = []
        for proposal in proposals:
            try:
                actions.append(agent.propose(proposal, options.timeout))
            except pika.exceptions.UnroutableError:
                raise UsageError("the broker could not route proposal %d: nothing is bound to %s"
                                 % (proposal["index"], PROPOSALS_EXCHANGE))
            except pika.exceptions.NackError:
                raise UsageError("the broker refused (nacked) proposal %d" % proposal["index"])
            except pika.exceptions.ChannelClosedByBroker as error:
                raise UsageError("the broker closed the channel on proposal %d: %s %s"
                                 % (proposal["index"], error.reply_code, error.reply_text))

        agent.wait(actions)
        for action in actions:
            print(json.dumps(action.report(), sort_keys=True))
        sys.stdout.flush()
        unfinished = [a for a in actions if not a.final]
        for action in unfinished:
            log("timed out after %g s waiting for action %s (message %s): %s"
                % (options.timeout, action.action_id, action.message_id,
                   "no decision" if action.decision is None else "decided %s, no outcome" % action.decision.get("decision")))
        return EXIT_TIMEOUT if unfinished else EXIT_OK
    except UsageError as error:
        log("error: %s" % error)
        return EXIT_ERROR
    except HardDeadline:
        log("error: gave up after %d s without finishing (broker unresponsive?)" % int(options.timeout * 2 + 30))
        return EXIT_TIMEOUT
    except pika.exceptions.ConnectionBlockedTimeout:
        log("error: RabbitMQ kept the connection blocked (resource alarm?) for more than %g s" % max(options.timeout, 10.0))
        return EXIT_ERROR
    except pika.exceptions.AMQPError as error:
        log("error: the connection to RabbitMQ failed: %r" % (error,))
        return EXIT_ERROR
    finally:
        signal.alarm(0)
        if agent is not None:
            agent.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
