namespace AgentBus.Client.Functions;

/// <summary>How the functions of <see cref="AgentBusFunctions.AsAIFunctions"/> run a call.</summary>
public sealed class AgentBusFunctionOptions
{
    /// <summary>How long one call may take from proposal to outcome before the model is told it timed out.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Wait for a person when a call needs approval (up to <see cref="MaxApprovalWait"/>) instead of
    /// answering approval_required at once. Off by default: a model should not hold a turn open on people.
    /// </summary>
    public bool WaitForApproval { get; set; }

    public TimeSpan MaxApprovalWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The model's id for the function call being run, when the host knows it. With
    /// FunctionInvokingChatClient (Microsoft.Extensions.AI) that is
    /// <c>() =&gt; FunctionInvokingChatClient.CurrentContext?.CallContent.CallId</c>. The action id is
    /// derived from it (with the agent, run and function name), so a function call the host retries
    /// is the same action to AgentBus: it runs once, and the retry gets the recorded outcome. The
    /// system of record sees that action id as the Idempotency-Key. Null, or a null answer: every
    /// call gets a new action id.
    /// </summary>
    public Func<string?>? CallId { get; set; }
}
