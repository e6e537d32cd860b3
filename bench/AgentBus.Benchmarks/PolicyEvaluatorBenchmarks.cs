using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using BenchmarkDotNet.Attributes;

namespace AgentBus.Benchmarks;

/// <summary>
/// One decision of the pure evaluator (envelope, identity, kill switch, grant lookup among 2,000,
/// JSON Schema, constraints, destinations, approval condition). Rate and budget state live in
/// PostgreSQL and are not part of this figure.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class PolicyEvaluatorBenchmarks
{
    PolicySnapshot _policy = null!;
    EvaluationState _state;
    ActionProposed _allowed = null!;
    ActionProposed _needsApproval = null!;
    ActionProposed _destinationDenied = null!;
    ActionProposed _noGrant = null!;

    [GlobalSetup]
    public void Setup()
    {
        var loaded = PolicyLoader.Parse(GeneratedPolicy.Yaml(), "generated.yaml");
        _policy = loaded.Policy ?? throw new InvalidOperationException(string.Join(Environment.NewLine, loaded.Errors));
        _state = new EvaluationState(DateTimeOffset.UnixEpoch, new SuspensionSet(["agent-099"], ["tool-19"]));

        var agent = GeneratedPolicy.Agent(57);
        var tool = GeneratedPolicy.Tool(13);
        _allowed = Proposal(agent, tool, """{"method":"POST","url":"http://127.0.0.1:5080/""" + tool + """/refunds","body":{"orderId":"ORD-1001","amountUsd":25.5}}""");
        _needsApproval = Proposal(agent, tool, """{"method":"POST","url":"http://127.0.0.1:5080/""" + tool + """/refunds","body":{"orderId":"ORD-1001","amountUsd":250}}""");
        _destinationDenied = Proposal(agent, tool, """{"method":"POST","url":"https://paste.example.com/upload","body":{"orderId":"ORD-1001","amountUsd":25.5}}""");
        _noGrant = Proposal("ghost-bot", tool, """{"method":"GET","url":"http://127.0.0.1:5080/","body":{"orderId":"ORD-1","amountUsd":1}}""");
    }

    static ActionProposed Proposal(string agent, string tool, string arguments) =>
        new("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "run-2026-11-24-0001", agent, tool, JsonDocument.Parse(arguments).RootElement);

    [Benchmark(Baseline = true, Description = "allowed (every step runs)")]
    public PolicyDecision Allowed() => PolicyEvaluator.Evaluate(_allowed, _allowed.AgentId, _policy, _state);

    [Benchmark(Description = "approval required")]
    public PolicyDecision ApprovalRequired() => PolicyEvaluator.Evaluate(_needsApproval, _needsApproval.AgentId, _policy, _state);

    [Benchmark(Description = "denied: destination")]
    public PolicyDecision DestinationDenied() => PolicyEvaluator.Evaluate(_destinationDenied, _destinationDenied.AgentId, _policy, _state);

    [Benchmark(Description = "denied: unknown agent")]
    public PolicyDecision NoGrant() => PolicyEvaluator.Evaluate(_noGrant, _noGrant.AgentId, _policy, _state);
}
