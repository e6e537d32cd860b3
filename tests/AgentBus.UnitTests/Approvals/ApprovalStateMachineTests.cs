using System.Text.Json;
using AgentBus.Approvals;
using AgentBus.Approvals.Saga;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentBus.UnitTests.Approvals;

/// <summary>The approval state machine on MassTransit's in-memory test harness, with a clock the test moves.</summary>
public sealed class ApprovalStateMachineTests : IAsyncLifetime
{
    static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    readonly ManualClock _clock = new(Start);
    ServiceProvider _provider = null!;
    ITestHarness _harness = null!;
    ISagaStateMachineTestHarness<ApprovalStateMachine, ApprovalState> _saga = null!;

    public async Task InitializeAsync()
    {
        // The harness serializes with MassTransit's shared JSON options; AgentBus adjusts them once, first.
        WireJson.Configure();
        _provider = new ServiceCollection()
            .AddSingleton<TimeProvider>(_clock)
            .AddSingleton(Options.Create(new ApprovalsOptions { GrantLifetime = TimeSpan.FromMinutes(5) }))
            .AddLogging()
            .AddMassTransitTestHarness(bus => bus.AddSagaStateMachine<ApprovalStateMachine, ApprovalState>().InMemoryRepository())
            .BuildServiceProvider(true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        await _harness.Start();
        _saga = _harness.GetSagaStateMachineHarness<ApprovalStateMachine, ApprovalState>();
    }

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    static ApprovalRequested Request(int quorum = 1, string? escalationGroup = null, TimeSpan? escalationDelay = null, int expiresInMinutes = 30)
    {
        var arguments = JsonSerializer.SerializeToElement(new { orderId = "ORD-1", amountUsd = 900 });
        return new ApprovalRequested(Guid.NewGuid(), "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "run-1", "support-bot", "support", "payments",
            arguments, CanonicalJson.Hash(arguments), "refunds-over-500", "finance", quorum, ["sam"], "alice", Start,
            Start.AddMinutes(expiresInMinutes), escalationGroup, escalationDelay);
    }

    async Task<ApprovalRequested> RequestAsync(ApprovalRequested request)
    {
        await _harness.Bus.Publish(request);
        Assert.NotNull(await _saga.Exists(request.ApprovalId, m => m.Pending));
        return request;
    }

    [Fact]
    public void The_machines_states_are_the_contract_vocabulary_and_every_state_says_what_it_does_with_every_event()
    {
        var machine = _provider.GetRequiredService<ApprovalStateMachine>();
        var states = machine.States.Select(s => s.Name).Where(n => n is not "Initial" and not "Final").ToList();
        Assert.Equal(ApprovalStatusNames.All.Order(), states.Select(ApprovalStatus.Display).Order());
        Assert.All(states, s => Assert.Equal(s.ToLowerInvariant(), ApprovalStatus.Display(s)));

        // No DuringAny: an event a state did not name would fault as unhandled, so each names all six.
        foreach (var state in machine.States.Where(s => s.Name is not "Initial" and not "Final"))
        {
            var named = machine.NextEvents(state).Select(e => e.Name).ToHashSet();
            Assert.True(new[] { "Requested", "VoteCast", "Expire", "Escalate", "Cancel", "Consume" }.All(named.Contains),
                $"state {state.Name} handles only {string.Join(", ", named)}");
        }
    }

    [Fact]
    public async Task A_new_approval_is_announced_as_opened_and_again_when_requested_again_while_open()
    {
        var request = await RequestAsync(Request());
        Assert.True(await _harness.Published.Any<ApprovalOpened>(m => m.Context.Message.ApprovalId == request.ApprovalId
                                                                      && m.Context.Message.ActionId == request.ActionId));

        // The same request again (a redelivered proposal): announced again under the same id, so a lost first announcement is made good.
        await _harness.Bus.Publish(request);
        await Eventually(() => _saga.Consumed.Select<ApprovalRequested>().Count(m => m.Context.Message.ApprovalId == request.ApprovalId) == 2);
        var ids = _harness.Published.Select<ApprovalOpened>().Where(m => m.Context.Message.ApprovalId == request.ApprovalId)
            .Select(m => m.Context.MessageId).Distinct();
        Assert.Single(ids);
    }

    static async Task Eventually(Func<bool> done)
    {
        for (var i = 0; i < 100 && !done(); i++)
            await Task.Delay(50);
        Assert.True(done());
    }

    async Task<ApprovalVoteResult> VoteAsync(Guid id, string approver, ApprovalVerdict verdict = ApprovalVerdict.Approve, params string[] groups)
    {
        var client = _harness.GetRequestClient<ApprovalVoteCast>();
        var response = await client.GetResponse<ApprovalVoteResult>(new ApprovalVoteCast(id, Guid.NewGuid(), approver,
            groups.Length == 0 ? ["finance"] : groups, verdict, "comment", _clock.GetUtcNow()));
        return response.Message;
    }

    ApprovalState Instance(Guid id) => _saga.Sagas.Contains(id)!;

    [Fact]
    public async Task Approvers_are_shown_the_catalog_operation_they_are_asked_about()
    {
        var request = await RequestAsync(Request() with { Operation = "refund" });

        var view = AgentBus.Approvals.Api.ApprovalView.From(Instance(request.ApprovalId),
            new AgentBus.Approvals.Approvers.ApproverIdentity("bob", ["finance"]), Start, story: null);

        Assert.Equal("refund", view.Operation);
        Assert.Equal("payments.refund", view.Subject);
    }

    [Fact]
    public async Task Quorum_2_is_granted_by_two_distinct_approvers_only()
    {
        var request = await RequestAsync(Request(quorum: 2));

        Assert.Equal(ApprovalVoteOutcome.Recorded, (await VoteAsync(request.ApprovalId, "bob")).Outcome);
        Assert.Equal(ApprovalVoteOutcome.Repeated, (await VoteAsync(request.ApprovalId, "BOB")).Outcome);
        Assert.Equal(ApprovalStatus.Pending, Instance(request.ApprovalId).CurrentState);

        var second = await VoteAsync(request.ApprovalId, "carol");
        Assert.Equal("granted", second.Status);
        Assert.Equal(["bob", "carol"], second.Approvers);
        var granted = Assert.Single(_harness.Published.Select<ApprovalGranted>()).Context.Message;
        Assert.Equal(request.ArgumentsHash, granted.ArgumentsHash);
        Assert.Equal(_clock.Now.AddMinutes(5), granted.ConsumableUntil);
    }

    [Fact]
    public async Task Every_counted_answer_is_published_once_for_the_audit_with_who_and_when()
    {
        var request = await RequestAsync(Request(quorum: 2));
        await VoteAsync(request.ApprovalId, "Bob");
        _clock.Now = Start.AddMinutes(3);
        await VoteAsync(request.ApprovalId, "bob");                          // a repeat: the same event again, same id
        await VoteAsync(request.ApprovalId, "sam");                          // refused (separation of duties): not an answer
        await VoteAsync(request.ApprovalId, "carol");

        // The harness keeps one message per id: the repeat was published again under bob's id, not as a new answer.
        var votes = _harness.Published.Select<ApprovalVoteRecorded>().ToList();
        Assert.Equal(["bob", "carol"], votes.Select(v => v.Context.Message.Approver));
        Assert.Equal(MessageIds.For($"{request.ApprovalId:D}:bob", nameof(ApprovalVoteRecorded)), votes[0].Context.MessageId);
        var carol = votes[1].Context.Message;
        Assert.Equal((2, 2, Start.AddMinutes(3), ApprovalVerdict.Approve), (carol.Approvals, carol.Quorum, carol.CastAt, carol.Verdict));
        Assert.Equal((request.ActionId, request.RunId, "comment"), (carol.ActionId, carol.RunId, carol.Comment));
        Assert.Equal(Start, votes[0].Context.Message.CastAt);
    }

    [Fact]
    public async Task The_requester_the_owning_team_and_other_groups_are_forbidden()
    {
        var request = await RequestAsync(Request());

        Assert.Equal(ApprovalReasonCodes.SeparationOfDuties, (await VoteAsync(request.ApprovalId, "Alice")).ReasonCode);
        Assert.Equal(ApprovalReasonCodes.SeparationOfDuties, (await VoteAsync(request.ApprovalId, "sam")).ReasonCode);
        var outsider = await VoteAsync(request.ApprovalId, "eve", ApprovalVerdict.Approve, "marketing");
        Assert.Equal((ApprovalVoteOutcome.Forbidden, ApprovalReasonCodes.NotInGroup), (outsider.Outcome, outsider.ReasonCode));
        Assert.Empty(Instance(request.ApprovalId).Votes);
        Assert.False(await _harness.Published.Any<ApprovalGranted>());
    }

    [Fact]
    public async Task A_vote_after_the_deadline_expires_the_approval_instead_of_granting_it()
    {
        var request = await RequestAsync(Request());
        _clock.Now = request.ExpiresAt;

        var late = await VoteAsync(request.ApprovalId, "bob");

        Assert.Equal((ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.Expired, "expired"), (late.Outcome, late.ReasonCode, late.Status));
        Assert.True(await _harness.Published.Any<ApprovalExpired>());
        Assert.False(await _harness.Published.Any<ApprovalGranted>());
    }

    [Fact]
    public async Task The_sweeper_expires_only_what_is_due_and_never_a_granted_approval()
    {
        var open = await RequestAsync(Request());
        var granted = await RequestAsync(Request());
        await VoteAsync(granted.ApprovalId, "bob");

        await _harness.Bus.Publish(new ExpireApproval(open.ApprovalId, _clock.Now));    // early (clock skew): ignored
        Assert.True(await _harness.Consumed.Any<ExpireApproval>());
        Assert.Equal(ApprovalStatus.Pending, Instance(open.ApprovalId).CurrentState);

        _clock.Now = open.ExpiresAt.AddSeconds(1);
        await _harness.Bus.Publish(new ExpireApproval(open.ApprovalId, _clock.Now));
        await _harness.Bus.Publish(new ExpireApproval(granted.ApprovalId, _clock.Now));
        Assert.NotNull(await _saga.Exists(open.ApprovalId, m => m.Expired));
        Assert.NotNull(await _saga.Exists(granted.ApprovalId, m => m.Granted));
    }

    [Fact]
    public async Task A_denial_decides_and_names_who_denied()
    {
        var request = await RequestAsync(Request(quorum: 2));
        await VoteAsync(request.ApprovalId, "bob");

        var denied = await VoteAsync(request.ApprovalId, "carol", ApprovalVerdict.Deny);
        Assert.Equal("denied", denied.Status);
        Assert.Equal(ApprovalVoteOutcome.Conflict, (await VoteAsync(request.ApprovalId, "dave")).Outcome);
        var message = Assert.Single(_harness.Published.Select<ApprovalDenied>()).Context.Message;
        Assert.Equal("carol", message.DeniedBy);
        Assert.Equal("comment", message.Comment);
    }

    [Fact]
    public async Task Escalation_waits_for_its_delay_then_admits_the_second_group()
    {
        var request = await RequestAsync(Request(escalationGroup: "ops-leads", escalationDelay: TimeSpan.FromMinutes(10)));
        Assert.Equal(ApprovalVoteOutcome.Forbidden, (await VoteAsync(request.ApprovalId, "olga", ApprovalVerdict.Approve, "ops-leads")).Outcome);

        await _harness.Bus.Publish(new EscalateApproval(request.ApprovalId, _clock.Now));   // before the delay: nothing
        Assert.True(await _harness.Consumed.Any<EscalateApproval>());
        Assert.Equal(ApprovalStatus.Pending, Instance(request.ApprovalId).CurrentState);

        _clock.Now = Start.AddMinutes(11);
        await _harness.Bus.Publish(new EscalateApproval(request.ApprovalId, _clock.Now));
        Assert.NotNull(await _saga.Exists(request.ApprovalId, m => m.Escalated));
        Assert.True(await _harness.Published.Any<ApprovalEscalated>());

        var vote = await VoteAsync(request.ApprovalId, "olga", ApprovalVerdict.Approve, "ops-leads");
        Assert.Equal("granted", vote.Status);
        Assert.True(Instance(request.ApprovalId).Votes.Single().ThroughEscalation);
    }

    [Fact]
    public async Task A_grant_is_consumed_once_by_a_matching_action_only()
    {
        var request = await RequestAsync(Request());
        await VoteAsync(request.ApprovalId, "bob");
        ConsumeApproval Consume(Guid consumption, string? hash = null) => new(request.ApprovalId, consumption, request.ActionId, request.RunId,
            request.AgentId, request.Tool, hash ?? request.ArgumentsHash, _clock.Now);

        var first = Guid.NewGuid();
        await _harness.Bus.Publish(Consume(Guid.NewGuid(), "sha256:" + new string('f', 64)));
        await _harness.Bus.Publish(Consume(first));
        Assert.NotNull(await _saga.Exists(request.ApprovalId, m => m.Consumed));
        await _harness.Bus.Publish(Consume(first));
        await _harness.Bus.Publish(Consume(Guid.NewGuid()));

        // The repeat of the same consumption is published again under the same message id, which the
        // harness (like any idempotent consumer) records once; the real broker test sees both.
        Assert.Equal(4, await _harness.Consumed.SelectAsync<ConsumeApproval>().Count());
        var consumed = _harness.Published.Select<ApprovalConsumed>().Select(m => m.Context.Message).ToList();
        Assert.All(consumed, c => Assert.Equal(first, c.ConsumptionId));
        Assert.Equal(request.Arguments.GetRawText(), consumed[0].Arguments.GetRawText());
        var refusals = _harness.Published.Select<ApprovalConsumptionRefused>().Select(m => m.Context.Message.ReasonCode).ToList();
        Assert.Equal([ApprovalReasonCodes.AlreadyConsumed, ApprovalReasonCodes.BindingMismatch], refusals.Order());
    }

    [Fact]
    public async Task A_grant_not_used_in_time_is_refused_as_stale()
    {
        var request = await RequestAsync(Request());
        await VoteAsync(request.ApprovalId, "bob");
        _clock.Now = _clock.Now.AddMinutes(6);

        await _harness.Bus.Publish(new ConsumeApproval(request.ApprovalId, Guid.NewGuid(), request.ActionId, request.RunId, request.AgentId,
            request.Tool, request.ArgumentsHash, _clock.Now));

        Assert.True(await _harness.Published.Any<ApprovalConsumptionRefused>(m => m.Context.Message.ReasonCode == ApprovalReasonCodes.GrantStale));
        Assert.Equal(ApprovalStatus.Granted, Instance(request.ApprovalId).CurrentState);
    }

    [Fact]
    public async Task Cancellation_ends_a_pending_approval_and_later_votes_conflict()
    {
        var request = await RequestAsync(Request());

        await _harness.Bus.Publish(new CancelApproval(request.ApprovalId, "agent suspended", "ops", _clock.Now));

        Assert.NotNull(await _saga.Exists(request.ApprovalId, m => m.Cancelled));
        Assert.True(await _harness.Published.Any<ApprovalCancelled>());
        Assert.Equal(ApprovalVoteOutcome.Conflict, (await VoteAsync(request.ApprovalId, "bob")).Outcome);
    }

    [Fact]
    public async Task An_invalid_request_is_cancelled_with_its_reason_and_unknown_approvals_are_not_found()
    {
        var request = Request(quorum: 0);
        await _harness.Bus.Publish(request);

        Assert.NotNull(await _saga.Exists(request.ApprovalId, m => m.Cancelled));
        var cancelled = Assert.Single(_harness.Published.Select<ApprovalCancelled>()).Context.Message;
        Assert.Contains("quorum of 0", cancelled.Reason);
        Assert.Equal(ApprovalVoteOutcome.NotFound, (await VoteAsync(Guid.NewGuid(), "bob")).Outcome);
    }

    [Fact]
    public async Task A_request_whose_arguments_do_not_match_their_hash_is_cancelled()
    {
        var request = Request() with { ArgumentsHash = "sha256:" + new string('0', 64) };
        await _harness.Bus.Publish(request);

        Assert.NotNull(await _saga.Exists(request.ApprovalId, m => m.Cancelled));
        Assert.Contains("do not match their hash", Assert.Single(_harness.Published.Select<ApprovalCancelled>()).Context.Message.Reason);
    }

    [Fact]
    public async Task A_repeated_request_changes_nothing()
    {
        var request = await RequestAsync(Request());
        await VoteAsync(request.ApprovalId, "bob");

        await _harness.Bus.Publish(request);

        Assert.Equal(2, await _harness.Consumed.SelectAsync<ApprovalRequested>().Count());
        Assert.Equal(ApprovalStatus.Granted, Instance(request.ApprovalId).CurrentState);
    }
}
