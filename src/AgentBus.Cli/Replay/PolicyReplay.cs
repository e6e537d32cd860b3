using System.Diagnostics;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.Cli.Replay;

/// <summary>A change of decision, grouped by the rule that decides it under the candidate.</summary>
public sealed record TransitionGroup(string Transition, string? CandidateRule, string CandidateReasonCode, int Count, IReadOnlyList<string> LiveRules,
    IReadOnlyList<string> Examples, string ExampleReason);

/// <summary>How people actually decided on the actions that needed approval and would not under the candidate.</summary>
public sealed record ApprovalHistory(int Approved, int Denied, int Expired, int Cancelled, int Refused, int Pending)
{
    public int Total => Approved + Denied + Expired + Cancelled + Refused + Pending;
}

public sealed record NotReplayable(string Reason, int Count, IReadOnlyList<string> Examples);

public sealed record ReplayReport(
    string CandidateVersion,
    DateTimeOffset Since,
    DateTimeOffset Until,
    int Proposals,
    int Replayed,
    int Unchanged,
    IReadOnlyList<TransitionGroup> Transitions,
    ApprovalHistory NoLongerNeedApproval,
    IReadOnlyList<NotReplayable> NotReplayable,
    double ProposalsPerSecond,
    string StateModel);

/// <summary>
/// Re-decides recorded proposals against a candidate policy, in the order they arrived, and compares with
/// what the live policy decided then. The stateless steps run the same pure evaluator as the policy
/// service. Stateful rules (rates, run caps, budgets, idempotency) are re-run by <paramref name="state"/>,
/// the admission model (<see cref="AdmissionModel"/>) fed the same stream under the candidate's terms and
/// settled with the recorded outcomes; without one, a live decision that only state explains (a rate
/// limit, a budget) is counted as not reproducible rather than compared. The kill switch is history, not
/// policy: a proposal denied by a suspension at the time is not replayable either.
/// </summary>
public sealed class PolicyReplay(PolicySnapshot candidate, AdmissionModel? state)
{
    static readonly HashSet<string> StatefulReasons =
    [
        ReasonCodes.RateLimited, ReasonCodes.RunToolCallsExceeded, ReasonCodes.RunRetriesExceeded, ReasonCodes.RunTimeExceeded,
        ReasonCodes.BudgetExceeded, ReasonCodes.DuplicateAction, ReasonCodes.ActionIdReused, ReasonCodes.CompensationInvalid,
    ];

    const int ExamplesPerGroup = 5;

    public async Task<ReplayReport> RunAsync(IAsyncEnumerable<RecordedProposal> recorded, DateTimeOffset since, DateTimeOffset until, CancellationToken ct)
    {
        var proposals = 0;
        var replayed = 0;
        var unchanged = 0;
        var groups = new Dictionary<(string, string?, string), Group>();
        var notReplayable = new Dictionary<string, Group>();
        int approved = 0, denied = 0, expired = 0, cancelled = 0, refused = 0, pending = 0;
        var evaluating = new Stopwatch();

        void Skip(string reason, string? actionId)
        {
            if (!notReplayable.TryGetValue(reason, out var entry))
                notReplayable[reason] = entry = new Group(reason);
            entry.Count++;
            if (entry.Examples.Count < ExamplesPerGroup && actionId is not null)
                entry.Examples.Add(actionId);
        }

        await foreach (var row in recorded.WithCancellation(ct))
        {
            proposals++;
            var (proposal, why) = row.Read();
            if (proposal is null)
            {
                Skip(why!, row.ActionId);
                continue;
            }
            if (!DecisionNames.TryParse(row.LiveDecision, out var live))
            {
                Skip("no decision recorded (the policy service had not answered when the window ended)", row.ActionId);
                continue;
            }
            if (row.LiveRule == "kill-switch")
            {
                Skip("denied by an operator's suspension at the time (history, not policy)", row.ActionId);
                continue;
            }
            if (row.LiveReasonCode is ReasonCodes.IdentityMissing or ReasonCodes.IdentityMismatch || row.AgentId is null)
            {
                Skip("refused for its identity (same under any policy)", row.ActionId);
                continue;
            }

            var at = new DateTimeOffset(DateTime.SpecifyKind(row.OccurredAt, DateTimeKind.Utc));
            evaluating.Start();
            var decision = PolicyEvaluator.Evaluate(proposal, row.AgentId, candidate, EvaluationState.At(at));
            if (state is not null)
            {
                var admitted = state.Admit(proposal, decision, at);
                decision = admitted.Decision;
                // Outcomes settle the budgets as they did then (an admission the live policy refused has none: its reservation expires).
                if (admitted.Kind == ModeledAdmissionKind.New && row.OutcomeType is { } outcome)
                    state.Settle(proposal.ActionId, outcome == nameof(ActionSucceeded) ? ModeledOutcome.Succeeded
                        : row.OutcomeState == "outcome_unknown" ? ModeledOutcome.OutcomeUnknown : ModeledOutcome.Failed, row.CostUsd);
            }
            evaluating.Stop();

            if (state is null && StatefulReasons.Contains(row.LiveReasonCode ?? "") && decision.Decision != Decision.Denied)
            {
                Skip($"denied for state at the time ({row.LiveReasonCode}), which this replay does not model", row.ActionId);
                continue;
            }
            replayed++;
            if (live == decision.Decision)
            {
                unchanged++;
                continue;
            }

            var transition = DecisionComparison.Transition(live, decision.Decision);
            var key = (transition, decision.RuleId, decision.ReasonCode);
            if (!groups.TryGetValue(key, out var group))
                groups[key] = group = new Group(decision.Reason);
            group.Count++;
            group.LiveRules.Add(row.LiveRule ?? "(none)");
            if (group.Examples.Count < ExamplesPerGroup)
                group.Examples.Add(proposal.ActionId);

            if (live == Decision.ApprovalRequired && decision.Decision == Decision.Allowed)
                switch (row.FinalReasonCode)
                {
                    case ReasonCodes.ApprovalGranted: approved++; break;
                    case ReasonCodes.ApprovalDenied: denied++; break;
                    case ReasonCodes.ApprovalExpired: expired++; break;
                    case ReasonCodes.ApprovalCancelled: cancelled++; break;
                    case ReasonCodes.ApprovalRefused: refused++; break;
                    default: pending++; break;
                }
        }

        return new ReplayReport(candidate.Version, since, until, proposals, replayed, unchanged,
            groups.Select(g => new TransitionGroup(g.Key.Item1, g.Key.Item2, g.Key.Item3, g.Value.Count, [.. g.Value.LiveRules], g.Value.Examples, g.Value.Reason))
                .OrderByDescending(g => g.Count).ThenBy(g => g.Transition, StringComparer.Ordinal).ToList(),
            new ApprovalHistory(approved, denied, expired, cancelled, refused, pending),
            notReplayable.Select(n => new NotReplayable(n.Key, n.Value.Count, n.Value.Examples)).OrderByDescending(n => n.Count).ToList(),
            replayed == 0 || evaluating.Elapsed == TimeSpan.Zero ? 0 : replayed / evaluating.Elapsed.TotalSeconds,
            state is null
                ? "none (--stateless): live decisions only state explains are counted as not replayable"
                : "rates, run caps, budgets and idempotency simulated over the window under the candidate's terms, settled with the recorded outcomes " +
                  "(state from before the window is not counted)");
    }

    sealed class Group(string reason)
    {
        public int Count;
        public readonly SortedSet<string> LiveRules = new(StringComparer.Ordinal);
        public readonly List<string> Examples = [];
        public string Reason => reason;
    }
}
