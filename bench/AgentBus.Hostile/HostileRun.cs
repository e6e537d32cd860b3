using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentBus.Audit.Chain;
using AgentBus.Contracts;
using AgentBus.Testbed;
using Dapper;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.Hostile;

/// <summary>
/// One hostile-input run: a scratch world, the services as processes, three publishing agents and a
/// victim agent, then every case published (valid ones mixed in at random), the answers collected
/// from the agents' queues, the audit, the execution claims and the error queues, and the checks.
/// </summary>
sealed class HostileRun(HostileOptions options, ServerEnvironment servers) : IRun
{
    const int MaxProposalBytes = 64 * 1024;
    static readonly string[] PublisherNames = ["hostile-a", "hostile-b", "hostile-c"];
    const string Victim = "hostile-victim";

    readonly string _runTag = "hostile-" + Guid.NewGuid().ToString("N")[..8];
    readonly List<BenchAgent> _agents = [];
    readonly ConcurrentDictionary<string, HostileCase> _byMessageId = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, HostileCase> _byActionId = new(StringComparer.Ordinal);
    readonly ConcurrentQueue<string> _foreign = new();
    BenchAgent? _victim;
    readonly List<IConnection> _spoofers = [];
    Watchdog? _watchdog;
    Scratch? _scratch;
    Pipeline? _pipeline;
    int _victimReplies;
    List<HostileCase> _cases = [];

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var generator = new HostileGenerator(options.Seed, PublisherNames, Victim, MaxProposalBytes);
        _cases = Generate(generator);
        Log($"Generated {_cases.Count(c => !c.Valid)} hostile and {_cases.Count(c => c.Valid)} valid proposals (seed {options.Seed}, " +
            $"{_cases.Sum(c => (long)c.Body.Length) / 1024 / 1024} MiB of bodies)");

        _watchdog = new Watchdog(_runTag);
        Log("Provisioning a scratch vhost and database");
        _scratch = await Scratch.CreateAsync(servers, new ScratchSpec("hostile", [.. PublisherNames, Victim],
            [new ToolSpec(HostileGenerator.Tool, new { Kind = "noop", ConcurrentMessageLimit = 16, PrefetchCount = 32, UnitCostUsd = 0.0001m })],
            PolicyYaml()), ct);
        _scratch.Keep = options.Keep;
        _pipeline = new Pipeline(_scratch, new PipelineOptions { Approvals = false, LogLevel = options.LogLevel }, _runTag).Build();
        Log($"Starting {_pipeline.Services.Count} services (logs in {_scratch.LogsDirectory})");
        await _pipeline.StartAsync(ct);

        foreach (var name in PublisherNames)
        {
            var agentName = name;
            _agents.Add(await BenchAgent.ConnectAsync(_scratch, name, reply => OnReply(agentName, reply), ct));
        }
        _victim = await BenchAgent.ConnectAsync(_scratch, Victim, _ => Interlocked.Increment(ref _victimReplies), ct);
        foreach (var name in PublisherNames)
            _spoofers.Add(await BenchAgent.Factory(_scratch, name).CreateConnectionAsync(ct));
        foreach (var c in _cases)
        {
            if (c.MessageId is not null)
                _byMessageId[c.MessageId] = c;
            _byActionId.TryAdd(c.ActionId, c);
        }

        Log($"Publishing {_cases.Count} proposals, {options.InFlight} awaiting confirms at once ...");
        var publishClock = Stopwatch.StartNew();
        await PublishAllAsync(ct);
        Log($"  published in {publishClock.Elapsed.TotalSeconds:0.0} s: {_cases.Count(c => c.Confirmed)} confirmed, " +
            $"{_cases.Count(c => c.BrokerRefused)} refused by the broker, {_cases.Count(c => c.PublishError is not null)} failed");

        Log("Waiting for the answers ...");
        await SettleAsync(ct);
        Log("Reading the audit, the execution claims and the error queues ...");
        var audit = await ReadAuditAsync(ct);
        var stored = await FindStoredSecretsAsync(ct);
        var errorQueues = await ReadErrorQueuesAsync(ct);
        var problems = await VerifyAsync(audit, errorQueues, ct);
        VerifySecrets(stored, problems);
        Report(audit, errorQueues, stored, problems, clock.Elapsed);
        return problems.Count == 0 ? 0 : 1;
    }

    List<HostileCase> Generate(HostileGenerator generator)
    {
        var total = options.Bad + options.Valid;
        // Which indexes are valid, and which category each bad one is: a seeded shuffle mixes them.
        var kinds = new List<string>(total);
        for (var i = 0; i < options.Valid; i++)
            kinds.Add("valid");
        for (var i = 0; i < options.Bad; i++)
            kinds.Add(HostileGenerator.Categories[i % HostileGenerator.Categories.Length]);
        var random = new Random(options.Seed);
        var order = kinds.ToArray();
        random.Shuffle(order);
        var cases = new List<HostileCase>(total);
        for (var i = 0; i < total; i++)
            cases.Add(order[i] == "valid" ? generator.Valid(i) : generator.Bad(i, order[i]));
        return cases;
    }

    void OnReply(string agent, AgentReply reply)
    {
        HostileCase? c = null;
        if (reply.CorrelationId is { } correlation)
            _byMessageId.TryGetValue(correlation, out c);
        if (c is null && reply.ActionId is { } actionId)
            _byActionId.TryGetValue(actionId, out c);
        if (c is null)
        {
            _foreign.Enqueue($"{agent}: {reply.Type} actionId={reply.ActionId} correlation={reply.CorrelationId} reason={reply.ReasonCode}");
            return;
        }
        lock (c)
        {
            if (PublisherNames[c.Agent] != agent)
                c.RepliedToOtherAgent = true;
            switch (reply.Type)
            {
                case nameof(ActionDecided):
                    c.Decisions++;
                    c.Decision ??= reply.Decision;
                    c.ReasonCode ??= reply.ReasonCode;
                    break;
                case nameof(ActionSucceeded) or nameof(ActionFailed):
                    // An action allowed at once gets no decision: the outcome implies it (contracts/README.md).
                    c.Decision ??= "allowed";
                    c.ReasonCode ??= ReasonCodes.Allowed;
                    c.Outcomes++;
                    c.OutcomeType ??= reply.Type;
                    c.ErrorCode ??= reply.ErrorCode;
                    break;
                default:
                    _foreign.Enqueue($"{agent}: unreadable reply, correlation={reply.CorrelationId}");
                    break;
            }
        }
    }

    async Task PublishAllAsync(CancellationToken ct)
    {
        using var slots = new SemaphoreSlim(options.InFlight, options.InFlight);
        var tasks = new List<Task>(_cases.Count);
        foreach (var c in _cases)
        {
            await slots.WaitAsync(ct);
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await PublishAsync(c, ct);
                }
                finally
                {
                    slots.Release();
                }
            }, ct));
        }
        await Task.WhenAll(tasks);
    }

    BasicProperties Properties(HostileCase c)
    {
        var properties = new BasicProperties { DeliveryMode = DeliveryModes.Persistent };
        if (c.ContentType is not null)
            properties.ContentType = c.ContentType;
        if (c.ContentEncoding is not null)
            properties.ContentEncoding = c.ContentEncoding;
        if (c.MessageId is not null)
            properties.MessageId = c.MessageId;
        if (c.Type is not null)
            properties.Type = c.Type;
        if (c.Headers is not null)
            properties.Headers = new Dictionary<string, object?>(c.Headers);
        switch (c.UserId)
        {
            case UserIdMode.Own:
                properties.UserId = PublisherNames[c.Agent];
                break;
            case UserIdMode.Spoofed:
                properties.UserId = c.SpoofedUserId;
                break;
        }
        return properties;
    }

    async Task PublishAsync(HostileCase c, CancellationToken ct)
    {
        // The broker may refuse these (406) and close the channel they came on: a channel of their own.
        if (c.UserId == UserIdMode.Spoofed || c.Body.Length > OwnChannelBytes)
        {
            await PublishOnOwnChannelAsync(c, ct);
            return;
        }
        try
        {
            await _agents[c.Agent].PublishAsync(c.Body, Properties(c), TimeSpan.FromSeconds(60), ct);
            c.Confirmed = true;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is OperationCanceledException or AlreadyClosedException
                                       or OperationInterruptedException or PublishException or IOException)
        {
            c.PublishError = $"{ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>Bodies above this go on a channel of their own: RabbitMQ refuses bodies over its max_message_size (406).</summary>
    const int OwnChannelBytes = 1024 * 1024;

    /// <summary>
    /// A user_id that is not the connection's login (RabbitMQ must refuse it: 406, channel closed), or a
    /// body the broker may find larger than its max_message_size (the same refusal).
    /// </summary>
    async Task PublishOnOwnChannelAsync(HostileCase c, CancellationToken ct)
    {
        var channel = await _spoofers[c.Agent].CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            await channel.BasicPublishAsync(WireNames.ProposalsExchange, "", mandatory: true, Properties(c), c.Body, deadline.Token);
            // RabbitMQ acks first and closes the channel right after on some versions: a round trip tells.
            await channel.BasicQosAsync(0, 1, false, deadline.Token);
            c.Confirmed = true;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is AlreadyClosedException or OperationInterruptedException or PublishException
                                       or OperationCanceledException)
        {
            var reason = channel.CloseReason;
            if (reason is { ReplyCode: 406 })
            {
                c.BrokerRefused = true;
                c.BrokerRefusal = reason.ReplyText;
            }
            else
                c.PublishError = $"{ex.GetType().Name}: {ex.Message}";
        }
        finally
        {
            try
            {
                await channel.DisposeAsync();
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or ObjectDisposedException)
            {
                // Closed by the broker already.
            }
        }
    }

    /// <summary>Until every case the agents should hear about is answered (and every valid one has its outcome), or the time is up.</summary>
    async Task SettleAsync(CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var waiting = 0;
        while (deadline.Elapsed < options.SettleTimeout)
        {
            waiting = _cases.Count(Pending);
            if (waiting == 0)
                break;
            await Task.Delay(250, ct);
        }
        Log(waiting == 0 ? $"  every answer arrived ({deadline.Elapsed.TotalSeconds:0.0} s after the last publish)"
            : $"  {waiting} cases still unanswered after {options.SettleTimeout.TotalSeconds:0} s");
        // Nothing more should come; a short quiet period catches late duplicates or outcomes of bad cases.
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
    }

    static bool Pending(HostileCase c)
    {
        if (!c.Confirmed || c.UserId != UserIdMode.Own)
            return false;
        lock (c)
            return c.Valid ? c.OutcomeType is null : c.Decision is null;
    }

    sealed record AuditRows(
        long Rows,
        Dictionary<string, (string Outcome, string? Reason)> ProposalsByCorrelation,
        Dictionary<string, string?> DecisionByAction,
        Dictionary<string, long> DecisionReasons,
        long UnattributedDecisions,
        HashSet<string> ExecutedActions,
        Dictionary<string, string> Claims,
        AuditVerification Chain);

    async Task<AuditRows> ReadAuditAsync(CancellationToken ct)
    {
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        // The projections write in batches: wait until the audit has every proposal the broker accepted.
        var expectedProposals = _cases.Count(c => c.Confirmed);
        var expectedDecisions = _cases.Where(c => c.Decision is not null || (c.Confirmed && c.UserId == UserIdMode.Missing))
            .Select(DecisionKey).Distinct(StringComparer.Ordinal).Count();
        var wait = Stopwatch.StartNew();
        while (wait.Elapsed < TimeSpan.FromSeconds(90))
        {
            var (proposals, decisions) = await connection.QuerySingleAsync<(long, long)>(
                "SELECT count(*) FILTER (WHERE event_type = 'ActionProposed'), count(*) FILTER (WHERE event_type = 'ActionDecided') FROM audit_events");
            if (proposals >= expectedProposals && decisions >= expectedDecisions)
                break;
            await Task.Delay(500, ct);
        }

        var proposalRows = await connection.QueryAsync<(string? Correlation, string Outcome, string? Reason)>(
            "SELECT correlation_id, outcome, reason_code FROM audit_events WHERE event_type = 'ActionProposed'");
        var byCorrelation = new Dictionary<string, (string, string?)>(StringComparer.Ordinal);
        foreach (var row in proposalRows)
            if (row.Correlation is not null)
                byCorrelation.TryAdd(row.Correlation, (row.Outcome, row.Reason));

        var decisionRows = (await connection.QueryAsync<(string? ActionId, string? AgentId, string? Reason)>(
            "SELECT action_id, agent_id, reason_code FROM audit_events WHERE event_type = 'ActionDecided'")).ToList();
        var byAction = new Dictionary<string, string?>(StringComparer.Ordinal);
        long unattributed = 0;
        foreach (var row in decisionRows)
        {
            if (row.ActionId is not null)
                byAction.TryAdd(row.ActionId, row.Reason);
            else
                unattributed++;
        }
        var reasons = decisionRows.GroupBy(r => r.Reason ?? "(none)").ToDictionary(g => g.Key, g => (long)g.Count(), StringComparer.Ordinal);

        var executed = (await connection.QueryAsync<string>(
            "SELECT DISTINCT action_id FROM audit_events WHERE event_type IN ('ExecuteTool', 'ExecutionStarted', 'ActionSucceeded', 'ActionFailed') AND action_id IS NOT NULL"))
            .ToHashSet(StringComparer.Ordinal);
        var claims = (await connection.QueryAsync<(string ActionId, string State)>("SELECT action_id, state FROM execution_claims"))
            .ToDictionary(r => r.ActionId, r => r.State, StringComparer.Ordinal);
        var rows = await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM audit_events");
        var chain = await AuditVerifier.VerifyAsync(_scratch.Database, cancellationToken: ct);

        foreach (var c in _cases)
        {
            // The audit stores a NUL in an identifier as U+FFFD (PostgreSQL text holds no NUL).
            if (c.MessageId is not null && byCorrelation.TryGetValue(c.MessageId.Replace('\0', '\uFFFD'), out var proposal))
                (c.AuditProposal, c.AuditProposalReason) = proposal;
            // Action ids are unique per case, but a body that could not be read has none in the audit.
            if (byAction.TryGetValue(c.ActionId, out var decided) && (c.UserId == UserIdMode.Missing || c.Valid || c.Decision is not null))
                c.AuditDecisionReason = decided;
        }
        return new AuditRows(rows, byCorrelation, byAction, reasons, unattributed, executed, claims, chain);
    }

    /// <param name="InEvents">"#index category/variant: value… in audit_events seq N", one per value found.</param>
    /// <param name="ControlFound">Data-exfiltration cases whose action id the same search found in audit_events: proof it reads what it should.</param>
    sealed record StoredSecrets(int Needles, long EventRows, long RawRows, List<string> InEvents, List<string> InRaw,
        int ControlFound, int ControlExpected);

    /// <summary>
    /// Every sensitive value the data-exfiltration cases sent, looked for in both audit tiers: the long-lived
    /// payloads and the raw ones (which, for a proposal that parses, keep what the generic redaction took out
    /// but never what the classifier finds). Each stored payload is searched as stored and as its decoded strings and member
    /// names, so that JSON escaping (a PEM's newlines) cannot hide a value from the search.
    /// </summary>
    async Task<StoredSecrets> FindStoredSecretsAsync(CancellationToken ct)
    {
        // A documented example (AWS's key) is sent by many cases: the row's own case decides whether a leak is a known one.
        var owners = new Dictionary<string, List<HostileCase>>(StringComparer.Ordinal);
        foreach (var c in _cases)
            foreach (var secret in c.Secrets)
                (owners.TryGetValue(secret, out var list) ? list : owners[secret] = []).Add(c);
        var exfiltration = _cases.Where(c => c.Secrets.Count > 0).ToList();
        var controls = exfiltration.Where(c => c.Confirmed && c.UserId == UserIdMode.Own).Select(c => c.ActionId).ToHashSet(StringComparer.Ordinal);
        // Indexed by their first characters, so that every row is read once whatever the number of values.
        var byPrefix = owners.Keys.Concat(controls).GroupBy(s => s[..HostileCase.MinSecretChars], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        var lookup = byPrefix.GetAlternateLookup<ReadOnlySpan<char>>();

        var inEvents = new List<string>();
        var inRaw = new List<string>();
        var controlFound = new HashSet<string>(StringComparer.Ordinal);
        void Search(string payload, string where, string? actionId, string? correlationId, List<string> found)
        {
            foreach (var text in TextsOf(payload))
            {
                for (var i = 0; i + HostileCase.MinSecretChars <= text.Length; i++)
                {
                    if (!lookup.TryGetValue(text.AsSpan(i, HostileCase.MinSecretChars), out var candidates))
                        continue;
                    foreach (var candidate in candidates)
                    {
                        if (!text.AsSpan(i).StartsWith(candidate, StringComparison.Ordinal))
                            continue;
                        if (controls.Contains(candidate))
                            controlFound.Add(candidate);
                        else if (owners.TryGetValue(candidate, out var sentBy) && found.Count < 1000)
                        {
                            var c = sentBy.FirstOrDefault(o => o.ActionId == actionId || (o.MessageId is not null && o.MessageId == correlationId)) ?? sentBy[0];
                            var leak = $"#{c.Index} {c.Category}/{HostileGenerator.Printable(c.Variant)}: '{HostileGenerator.Printable(candidate)}' in {where}";
                            if (!found.Contains(leak))
                                found.Add(leak);
                        }
                    }
                }
            }
        }

        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        long eventRows = 0, rawRows = 0;
        await using (var command = new Npgsql.NpgsqlCommand("SELECT seq, event_type, action_id, correlation_id, payload::text FROM audit_events", connection))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                eventRows++;
                var eventType = reader.GetString(1);
                Search(reader.GetString(4), $"audit_events seq {reader.GetInt64(0)} ({eventType})", NullableText(reader, 2), NullableText(reader, 3),
                    inEvents);
            }
        }
        await using (var command = new Npgsql.NpgsqlCommand(
                         "SELECT r.seq, e.action_id, e.correlation_id, r.payload FROM audit_raw_payloads r LEFT JOIN audit_events e ON e.event_id = r.event_id",
                         connection))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rawRows++;
                Search(Encoding.UTF8.GetString((byte[])reader.GetValue(3)), $"audit_raw_payloads seq {reader.GetInt64(0)}", NullableText(reader, 1),
                    NullableText(reader, 2), inRaw);
            }
        }
        return new StoredSecrets(owners.Count, eventRows, rawRows, inEvents, inRaw, controlFound.Count, controls.Count);
    }

    static string? NullableText(Npgsql.NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>The payload as stored, then every string and member name in it as the JSON means it.</summary>
    static List<string> TextsOf(string payload)
    {
        var texts = new List<string> { payload };
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 1024 });
        }
        catch (JsonException)
        {
            // Not JSON (a raw body that could not be read): searched as it is.
            return texts;
        }
        using (document)
        {
            var pending = new Stack<JsonElement>();
            pending.Push(document.RootElement);
            while (pending.Count > 0)
            {
                var element = pending.Pop();
                switch (element.ValueKind)
                {
                    case JsonValueKind.String:
                        AddDecoded(texts, element.GetString);
                        break;
                    case JsonValueKind.Array:
                        foreach (var item in element.EnumerateArray())
                            pending.Push(item);
                        break;
                    case JsonValueKind.Object:
                        foreach (var member in element.EnumerateObject())
                        {
                            AddDecoded(texts, () => member.Name);
                            pending.Push(member.Value);
                        }
                        break;
                }
            }
        }
        return texts;
    }

    static void AddDecoded(List<string> texts, Func<string?> decode)
    {
        try
        {
            texts.Add(decode() ?? "");
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate (the injection cases send them) has no string form; the stored text above holds it.
        }
    }

    void VerifySecrets(StoredSecrets stored, List<string> problems)
    {
        if (stored.InEvents.Count > 0)
            problems.Add($"{stored.InEvents.Count} sensitive values of data-exfiltration cases are stored in audit_events.payload: " +
                         string.Join("; ", stored.InEvents.Take(20)));
        if (stored.InRaw.Count > 0)
            problems.Add($"{stored.InRaw.Count} sensitive values of data-exfiltration cases are stored in audit_raw_payloads: " +
                         string.Join("; ", stored.InRaw.Take(20)));
        if (stored.ControlFound < stored.ControlExpected)
            problems.Add($"the search of the audit for sensitive values found only {stored.ControlFound} of {stored.ControlExpected} data-exfiltration " +
                         "cases' action ids: it does not read what the audit stores, so its finding nothing proves nothing");
    }

    /// <summary>What the policy service derives a decision's message id from: the validated sender and the body.</summary>
    static string DecisionKey(HostileCase c) => $"{(c.UserId == UserIdMode.Own ? c.Agent.ToString(CultureInfo.InvariantCulture) : "-")}:" +
                                               Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(c.Body));

    sealed record ErrorQueue(string Name, long Messages, List<string> Faults);

    /// <summary>Every _error and _skipped queue of the vhost; their messages are read (and left in place) to attribute them.</summary>
    async Task<List<ErrorQueue>> ReadErrorQueuesAsync(CancellationToken ct)
    {
        var queues = await _scratch!.Management.GetAsync($"queues/{Uri.EscapeDataString(_scratch.VirtualHost)}?columns=name,messages", ct);
        var found = new List<ErrorQueue>();
        var factory = BenchAgent.Factory(_scratch, servers.AdminUser);
        factory.Password = servers.AdminPassword;
        await using var connection = await factory.CreateConnectionAsync(ct);
        foreach (var queue in queues.EnumerateArray())
        {
            var name = queue.GetProperty("name").GetString()!;
            if (!name.EndsWith("_error", StringComparison.Ordinal) && !name.EndsWith("_skipped", StringComparison.Ordinal))
                continue;
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            var faults = new List<string>();
            long count = 0;
            while (count < 100_000 && await channel.BasicGetAsync(name, autoAck: false, ct) is { } message)
            {
                count++;
                var fault = BenchAgentHeaders.Text(message.BasicProperties, "MT-Fault-Message")
                            ?? BenchAgentHeaders.Text(message.BasicProperties, "MT-Reason") ?? "(no fault header)";
                var exceptionType = BenchAgentHeaders.Text(message.BasicProperties, "MT-Fault-ExceptionType");
                faults.Add($"{exceptionType}: {fault}");
                if (message.BasicProperties.MessageId is { } id && _byMessageId.TryGetValue(id, out var c))
                {
                    c.ErrorQueue = name;
                    c.Fault = $"{exceptionType}: {fault}";
                }
            }
            // Closing the channel without acking returns them to the queue for an operator.
            found.Add(new ErrorQueue(name, count, faults));
        }
        return found;
    }

    async Task<List<string>> VerifyAsync(AuditRows audit, List<ErrorQueue> errorQueues, CancellationToken ct)
    {
        var problems = new List<string>();
        var bad = _cases.Where(c => !c.Valid).ToList();
        var valid = _cases.Where(c => c.Valid).ToList();

        var failedPublishes = _cases.Where(c => c.PublishError is not null).ToList();
        if (failedPublishes.Count > 0)
            problems.Add($"{failedPublishes.Count} publishes failed (neither confirmed nor refused with 406), e.g. #{failedPublishes[0].Index} " +
                         $"{failedPublishes[0].Category}/{failedPublishes[0].Variant}: {failedPublishes[0].PublishError}");

        var unhandled = bad.Where(c => c.Handling() is null).ToList();
        if (unhandled.Count > 0)
            problems.Add($"{unhandled.Count} hostile proposals got no reason-coded refusal anywhere: " + Examples(unhandled));

        var allowedBad = bad.Where(c => c.Decision is not null and not "denied").ToList();
        if (allowedBad.Count > 0)
            problems.Add($"{allowedBad.Count} hostile proposals were not denied: " + Examples(allowedBad, c => $"{c.Decision}/{c.ReasonCode}"));

        var badIds = bad.Select(c => c.ActionId).ToHashSet(StringComparer.Ordinal);
        var validIds = valid.Select(c => c.ActionId).ToHashSet(StringComparer.Ordinal);
        var badOutcomes = bad.Where(c => c.Outcomes > 0).ToList();
        var badClaims = audit.Claims.Keys.Where(id => !validIds.Contains(id)).ToList();
        var badExecuted = audit.ExecutedActions.Where(id => !validIds.Contains(id)).ToList();
        if (badOutcomes.Count > 0 || badClaims.Count > 0 || badExecuted.Count > 0)
            problems.Add($"hostile proposals reached an executor: {badOutcomes.Count} outcomes received, {badClaims.Count} execution claims, " +
                         $"{badExecuted.Count} ExecuteTool/outcome audit rows for action ids that are not valid cases ({badClaims.Concat(badExecuted).Take(3).Count(badIds.Contains)} of the first 3 are hostile cases' ids)");

        var notCompleted = valid.Where(c => c.OutcomeType != nameof(ActionSucceeded) || c.Decision != "allowed").ToList();
        if (notCompleted.Count > 0)
            problems.Add($"{notCompleted.Count} of {valid.Count} valid proposals did not complete: " +
                         Examples(notCompleted, c => $"{c.Decision ?? "no decision"}/{c.ReasonCode}/{c.OutcomeType ?? "no outcome"} {c.ErrorCode}"));
        var succeededClaims = valid.Count(c => audit.Claims.GetValueOrDefault(c.ActionId) == "succeeded");
        if (succeededClaims != valid.Count)
            problems.Add($"execution_claims has {succeededClaims} succeeded claims for {valid.Count} valid proposals");

        var repeated = _cases.Where(c => c.Decisions > 1 || c.Outcomes > 1).ToList();
        if (repeated.Count > 0)
            problems.Add($"{repeated.Count} proposals were answered more than once: " + Examples(repeated, c => $"{c.Decisions} decisions, {c.Outcomes} outcomes"));
        var crossed = _cases.Where(c => c.RepliedToOtherAgent).ToList();
        if (crossed.Count > 0)
            problems.Add($"{crossed.Count} answers reached another agent's queue: " + Examples(crossed));
        if (_victimReplies > 0)
            problems.Add($"the victim agent, which sent nothing, received {_victimReplies} replies");
        if (!_foreign.IsEmpty)
            problems.Add($"{_foreign.Count} replies matched no proposal, e.g. {_foreign.First()}");

        // The audit as the second source of truth.
        var confirmed = _cases.Where(c => c.Confirmed && c.MessageId is not null).ToList();
        var notAudited = confirmed.Where(c => c.AuditProposal is null).ToList();
        if (notAudited.Count > 0)
            problems.Add($"{notAudited.Count} proposals the broker accepted are not in the audit: " + Examples(notAudited));
        var refusedButAudited = _cases.Where(c => c.BrokerRefused && c.MessageId is not null && audit.ProposalsByCorrelation.ContainsKey(c.MessageId.Replace('\0', '\uFFFD'))).ToList();
        if (refusedButAudited.Count > 0)
            problems.Add($"{refusedButAudited.Count} proposals the broker refused are in the audit anyway: " + Examples(refusedButAudited));
        // The policy service derives a decision's message id from the sender and the body (or the action id,
        // which the body holds): the same bytes sent twice by one agent are one decision in the audit,
        // however many times the agent is answered. Count distinct (sender, body) pairs.
        static string Key(HostileCase c) => DecisionKey(c);
        var decided = _cases.Where(c => c.Decision is not null || (c.Confirmed && c.UserId == UserIdMode.Missing)).ToList();
        foreach (var group in _cases.Where(c => c.Decision is not null).GroupBy(c => c.ReasonCode ?? "(none)"))
        {
            var distinct = group.Select(Key).Distinct(StringComparer.Ordinal).Count();
            var audited = audit.DecisionReasons.GetValueOrDefault(group.Key);
            if (audited < distinct)
                problems.Add($"agents received {distinct} distinct '{group.Key}' decisions, the audit holds {audited}");
        }
        var auditTotal = audit.DecisionReasons.Values.Sum();
        var expectedTotal = decided.Select(Key).Distinct(StringComparer.Ordinal).Count();
        if (auditTotal != expectedTotal)
            problems.Add($"the audit holds {auditTotal} decisions; {expectedTotal} distinct proposals were decided (agents' answers and those without user_id)");
        var deniedAudit = valid.Where(c => c.AuditDecisionReason is not null && c.AuditDecisionReason != ReasonCodes.Allowed).ToList();
        if (deniedAudit.Count > 0)
            problems.Add($"{deniedAudit.Count} valid proposals are audited as refused: " + Examples(deniedAudit, c => c.AuditDecisionReason ?? ""));
        if (!audit.Chain.Intact)
            problems.Add($"the audit chain does not verify: {audit.Chain.First}");

        foreach (var service in _pipeline!.Services.Where(s => s.UnexpectedExits > 0 || !s.Running || s.Starts != 1))
            problems.Add($"{service.Name} exited or restarted ({service.Starts} starts):{Environment.NewLine}{service.Tail(20)}");
        // A proposal's own text echoed inside one log line (newlines flattened) is not an alarm; a line it starts is.
        foreach (var (service, line) in _pipeline.AlarmingLogLines(200).Where(l => !l.Line.Contains(HostileGenerator.ForgedMarker, StringComparison.Ordinal)).Take(10))
            problems.Add($"{service} logged: {line}");
        foreach (var service in _pipeline.Services)
        {
            if (!File.Exists(service.LogFile))
                continue;
            var forged = File.ReadLines(service.LogFile).Where(l => l.StartsWith(HostileGenerator.ForgedMarker, StringComparison.Ordinal)
                                                                     || l.StartsWith("2026-11-24T00:00:00Z info: " + HostileGenerator.ForgedMarker, StringComparison.Ordinal)).Take(3).ToList();
            if (forged.Count > 0)
                problems.Add($"{service.Name}'s log has lines an agent forged (a newline from a proposal starts a new log line): {forged[0]}");
        }
        foreach (var queue in errorQueues.Where(q => q.Messages > 0))
        {
            var attributed = _cases.Count(c => c.ErrorQueue == queue.Name);
            if (attributed < queue.Messages)
                problems.Add($"{queue.Name} holds {queue.Messages} messages, {attributed} of them hostile cases: {queue.Faults.FirstOrDefault()}");
        }
        await Task.CompletedTask;
        return problems;
    }

    static string Examples(IEnumerable<HostileCase> cases, Func<HostileCase, string>? detail = null) =>
        string.Join("; ", cases.Take(5).Select(c => $"#{c.Index} {c.Category}/{HostileGenerator.Printable(c.Variant)}" + (detail is null ? "" : $" ({detail(c)})")));

    void Report(AuditRows audit, List<ErrorQueue> errorQueues, StoredSecrets stored, List<string> problems, TimeSpan elapsed)
    {
        var bad = _cases.Where(c => !c.Valid).ToList();
        var valid = _cases.Where(c => c.Valid).ToList();
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("## AgentBus hostile-input run");
        text.AppendLine();
        text.AppendLine($"{bad.Count} hostile + {valid.Count} valid proposals, seed {options.Seed}, {elapsed.TotalSeconds:0} s in all; " +
                        $"{Environment.ProcessorCount} cores, load {LoadAverage.Now()}; services: policy, noop executor, projections (log level {options.LogLevel}).");
        text.AppendLine();
        text.AppendLine("### Sent, per category, and how each was refused");
        text.AppendLine();
        text.AppendLine("| category | sent | refused | not refused | refusals by reason code |");
        text.AppendLine("|---|---:|---:|---:|---|");
        foreach (var group in bad.GroupBy(c => c.Category).OrderBy(g => Array.IndexOf(HostileGenerator.Categories, g.Key)))
        {
            var codes = group.GroupBy(c => c.RefusalCode()).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}");
            text.AppendLine($"| {group.Key} | {group.Count()} | {group.Count(c => c.Handling() is not null)} | {group.Count(c => c.Handling() is null)} | {string.Join(", ", codes)} |");
        }
        text.AppendLine($"| **all hostile** | {bad.Count} | {bad.Count(c => c.Handling() is not null)} | {bad.Count(c => c.Handling() is null)} | |");
        text.AppendLine();
        text.AppendLine("### Reason codes (hostile proposals)");
        text.AppendLine();
        text.AppendLine("| reason code | count | where |");
        text.AppendLine("|---|---:|---|");
        foreach (var group in bad.GroupBy(c => c.RefusalCode()).OrderByDescending(g => g.Count()))
        {
            var where = group.GroupBy(c => c.Handling() switch
            {
                null => "nowhere",
                var h when h.StartsWith("agent:", StringComparison.Ordinal) => "decision to the agent",
                var h when h.StartsWith("audit:", StringComparison.Ordinal) => "audit only (no user_id)",
                "broker_refused" => "RabbitMQ refused the publish",
                _ => "error queue",
            }).Select(g => $"{g.Key} {g.Count()}");
            text.AppendLine($"| {group.Key} | {group.Count()} | {string.Join(", ", where)} |");
        }
        text.AppendLine();
        text.AppendLine("### Valid proposals");
        text.AppendLine();
        text.AppendLine("| variant | sent | allowed and succeeded |");
        text.AppendLine("|---|---:|---:|");
        foreach (var group in valid.GroupBy(c => c.Variant.StartsWith("near-limit", StringComparison.Ordinal) ? "near-limit" : c.Variant.StartsWith("content type", StringComparison.Ordinal) ? "odd content type" : c.Variant).OrderBy(g => g.Key, StringComparer.Ordinal))
            text.AppendLine($"| {group.Key} | {group.Count()} | {group.Count(c => c.Decision == "allowed" && c.OutcomeType == nameof(ActionSucceeded))} |");
        text.AppendLine();
        var mismatched = bad.Where(c => c.Handling() is not null && c.Expected.Count > 0 && !c.Expected.Contains(c.RefusalCode().Split(' ')[0])).ToList();
        text.AppendLine($"Refused with another code than the generator expected: {mismatched.Count}" +
                        (mismatched.Count == 0 ? "" : " (still refused; the first few:)"));
        foreach (var group in mismatched.GroupBy(c => (c.Category, c.Variant, Got: c.RefusalCode())).Take(15))
            text.AppendLine($"- {group.Key.Category}/{HostileGenerator.Printable(group.Key.Variant)}: expected {string.Join(" or ", group.First().Expected)}, got {group.Key.Got} ×{group.Count()}");
        text.AppendLine();
        text.AppendLine("### Checks");
        text.AppendLine();
        text.AppendLine($"- hostile proposals without a reason-coded refusal: {bad.Count(c => c.Handling() is null)}");
        text.AppendLine($"- hostile proposals not denied (allowed or sent for approval): {bad.Count(c => c.Decision is not null and not "denied")}");
        text.AppendLine($"- valid proposals allowed and succeeded: {valid.Count(c => c.Decision == "allowed" && c.OutcomeType == nameof(ActionSucceeded))} of {valid.Count}");
        var validIds = valid.Select(c => c.ActionId).ToHashSet(StringComparer.Ordinal);
        text.AppendLine($"- executor reached by hostile proposals: {audit.Claims.Keys.Count(id => !validIds.Contains(id))} execution claims, " +
                        $"{audit.ExecutedActions.Count(id => !validIds.Contains(id))} ExecuteTool/outcome audit rows, {bad.Count(c => c.Outcomes > 0)} outcomes received " +
                        $"(execution claims in all: {audit.Claims.Count}, succeeded {audit.Claims.Values.Count(s => s == "succeeded")})");
        text.AppendLine($"- audit: {audit.Rows} rows, chain {(audit.Chain.Intact ? "intact" : "BROKEN")}; proposals recorded for {_cases.Count(c => c.AuditProposal is not null)} of " +
                        $"{_cases.Count(c => c.Confirmed && c.MessageId is not null)} accepted with a message id; decisions {audit.DecisionReasons.Values.Sum()} " +
                        $"({audit.UnattributedDecisions} without an action id)");
        text.AppendLine($"- sensitive values of data-exfiltration cases stored in the audit: {stored.InEvents.Count} in audit_events.payload ({stored.EventRows} rows), " +
                        $"{stored.InRaw.Count} in audit_raw_payloads ({stored.RawRows} rows); {stored.Needles} values looked for, and as a control " +
                        $"{stored.ControlFound} of {stored.ControlExpected} of those cases' action ids found the same way");
        text.AppendLine($"- error queues: {(errorQueues.Count == 0 ? "none" : string.Join(", ", errorQueues.Select(q => $"{q.Name} {q.Messages}")))}");
        text.AppendLine($"- services: {string.Join(", ", _pipeline!.Services.Select(s => $"{s.Name} {s.Starts} start{(s.Starts == 1 ? "" : "s")}, {(s.Running ? "running" : "EXITED")}"))}; " +
                        $"alarming log lines: {_pipeline.AlarmingLogLines(200).Count(l => !l.Line.Contains(HostileGenerator.ForgedMarker, StringComparison.Ordinal))}");
        text.AppendLine($"- replies to the victim agent: {_victimReplies}; replies matching no proposal: {_foreign.Count}");
        text.AppendLine();
        text.AppendLine(problems.Count == 0
            ? "PASSED: every hostile proposal was refused with a reason code, every valid one completed, none reached an executor, no service exited, the audit chain verifies."
            : "FAILED:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "- " + p)));
        Console.WriteLine(text.ToString());
    }

    // `data` takes any JSON: data-exfiltration cases hide values in objects, arrays and member names, which must
    // reach the data boundary, not fail the schema first. The tool accepts no data class (no `accepts:`).
    static string PolicyYaml() =>
        RunPolicy.Yaml(PublisherNames.Append(Victim), "hostile", $$"""
            tools:
              - name: {{HostileGenerator.Tool}}
                capabilities: [read]
                risk: low
                unitCostUsd: 0.0001
                arguments:
                  type: object
                  required: [n]
                  additionalProperties: false
                  properties:
                    n: { type: integer, minimum: 0, maximum: 1000000000 }
                    note: { type: string, maxLength: 200 }
                    blob: { type: string, maxLength: {{MaxProposalBytes}} }
                    {{HostileGenerator.DataArgument}}: {}
              - name: {{HostileGenerator.UngrantedTool}}
                capabilities: [money.move]
                risk: high
                unitCostUsd: 1
            """, HostileGenerator.Tool);

    static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
            await agent.DisposeAsync();
        if (_victim is not null)
            await _victim.DisposeAsync();
        foreach (var spoofer in _spoofers)
        {
            try
            {
                await spoofer.CloseAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException)
            {
                // Gone already.
            }
            await spoofer.DisposeAsync();
        }
        if (_pipeline is not null)
            await _pipeline.DisposeAsync();
        if (_scratch is not null)
            await _scratch.DisposeAsync();
        _watchdog?.Dispose();
    }
}

static class BenchAgentHeaders
{
    public static string? Text(IReadOnlyBasicProperties properties, string name)
    {
        if (properties.Headers is not { } headers || !headers.TryGetValue(name, out var value) || value is null)
            return null;
        return value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : Convert.ToString(value, CultureInfo.InvariantCulture);
    }
}
