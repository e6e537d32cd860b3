using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using AgentBus.Client;
using Microsoft.Extensions.Options;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.Mcp;

/// <summary>Why an agent could not be let in, each answered differently (401, 429, 503).</summary>
public enum AdmissionFailure
{
    WrongCredential,
    TooManyFailures,
    BrokerUnavailable,
}

public sealed class AgentAdmissionException(AdmissionFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public AdmissionFailure Failure { get; } = failure;
}

/// <summary>
/// One broker connection per agent, logged in as that agent with the password it presented: the broker,
/// not the gateway, decides whether the password is right, and every proposal carries the agent's own
/// user_id, which RabbitMQ checks. The gateway keeps no credential of its own; a password is held only
/// while its agent's connection is open, and only a salted hash of it is compared on later requests.
/// Connections close after <see cref="GatewayOptions.IdleTimeout"/> without a call.
/// </summary>
public sealed class AgentConnections(IOptions<GatewayOptions> options, ILogger<AgentConnections> logger, TimeProvider clock)
    : BackgroundService
{
    static readonly byte[] Salt = RandomNumberGenerator.GetBytes(32);

    readonly GatewayOptions _options = options.Value;
    readonly ConcurrentDictionary<string, AgentConnection> _connections = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, FailedLogins> _failures = new(StringComparer.Ordinal);

    /// <summary>Test seam: how an agent's client is opened.</summary>
    internal Func<AgentClientOptions, CancellationToken, Task<AgentClient>> Connect { get; set; } =
        (clientOptions, cancellationToken) => AgentClient.ConnectAsync(clientOptions, cancellationToken);

    public int OpenConnections => _connections.Count;

    /// <summary>The agent's open connection, if the gateway holds one (it was admitted within the idle timeout).</summary>
    public AgentConnection? TryGetOpen(string agentId) =>
        _connections.TryGetValue(agentId, out var open) && open.Client is not null ? open.Touch(clock.GetUtcNow()) : null;

    /// <summary>The agent's open connection, opening it (a broker login) when there is none or the password differs.</summary>
    public async Task<AgentConnection> AdmitAsync(string agentId, string password, CancellationToken cancellationToken)
    {
        var presented = Hash(password);
        if (_connections.TryGetValue(agentId, out var open) && open.Matches(presented) && open.Client is not null
            && open.VerifiedWithin(clock.GetUtcNow(), _options.CredentialRecheck))
            return open.Touch(clock.GetUtcNow());

        var failures = _failures.GetOrAdd(agentId, _ => new FailedLogins());
        if (failures.Exceeded(clock.GetUtcNow(), _options.FailedLoginsPerMinute))
            throw new AgentAdmissionException(AdmissionFailure.TooManyFailures,
                $"Too many wrong passwords for agent '{agentId}' in the last minute; try again in a minute.");

        var gate = _gates.GetOrAdd(agentId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (_connections.TryGetValue(agentId, out open) && open.Matches(presented) && open.Client is not null)
            {
                if (open.VerifiedWithin(clock.GetUtcNow(), _options.CredentialRecheck))
                    return open.Touch(clock.GetUtcNow());
                // Known, but not lately: the broker says again whether this password is still the agent's.
                try
                {
                    await LogInAsync(agentId, password, failures, () => VerifyLogin(ClientOptions(agentId, password), cancellationToken));
                }
                catch (AgentAdmissionException ex) when (ex.Failure == AdmissionFailure.WrongCredential)
                {
                    // Rotated away or removed: the connection opened with it goes too.
                    open.Retire();
                    _connections.TryRemove(new KeyValuePair<string, AgentConnection>(agentId, open));
                    _ = CloseWhenUnusedAsync(open);
                    throw;
                }
                return open.Verified(clock.GetUtcNow()).Touch(clock.GetUtcNow());
            }

            var client = await LogInAsync(agentId, password, failures, () => Connect(ClientOptions(agentId, password), cancellationToken));
            var connection = new AgentConnection(agentId, presented, client, clock);
            if (_connections.TryGetValue(agentId, out var replaced))
            {
                // The agent's password changed (rotated): the new login is good, the old connection goes once its calls end.
                replaced.Retire();
                _ = CloseWhenUnusedAsync(replaced);
            }
            _connections[agentId] = connection;
            logger.LogInformation("Agent {AgentId} connected through the gateway ({Open} agents connected)", agentId, _connections.Count);
            return connection;
        }
        finally
        {
            gate.Release();
        }
    }

    AgentClientOptions ClientOptions(string agentId, string password) => new()
    {
        Host = _options.BrokerHost,
        Port = _options.BrokerPort,
        Endpoints = _options.BrokerEndpoints,
        VirtualHost = _options.BrokerVirtualHost,
        AgentId = agentId,
        Password = password,
        // The agent may also have a client of its own on its reply queue: read it only while a call here waits.
        ConsumeRepliesOnlyWhileTracking = true,
    };

    async Task<T> LogInAsync<T>(string agentId, string password, FailedLogins failures, Func<Task<T>> login)
    {
        try
        {
            return await login();
        }
        catch (Exception ex) when (IsLoginRefused(ex))
        {
            failures.Record(clock.GetUtcNow());
            logger.LogWarning("Agent {AgentId}: the broker refused the password presented to the gateway", agentId);
            throw new AgentAdmissionException(AdmissionFailure.WrongCredential,
                $"The broker refused the login of agent '{agentId}': wrong password, or no such broker user.", ex);
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or OperationInterruptedException or IOException or TimeoutException
                                       or System.Net.Sockets.SocketException)
        {
            throw new AgentAdmissionException(AdmissionFailure.BrokerUnavailable,
                $"RabbitMQ at {_options.BrokerEndpoints ?? $"{_options.BrokerHost}:{_options.BrokerPort}"} cannot be reached to log in agent '{agentId}': {ex.GetBaseException().Message}", ex);
        }
    }

    /// <summary>Test seam: a login that proves the password and is closed again at once.</summary>
    internal Func<AgentClientOptions, CancellationToken, Task<bool>> VerifyLogin { get; set; } = async (clientOptions, cancellationToken) =>
    {
        var factory = new RabbitMQ.Client.ConnectionFactory
        {
            HostName = clientOptions.Host,
            Port = clientOptions.Port,
            VirtualHost = clientOptions.VirtualHost,
            UserName = clientOptions.AgentId,
            Password = clientOptions.Password,
            ClientProvidedName = $"agent:{clientOptions.AgentId}:gateway-check",
            AutomaticRecoveryEnabled = false,
        };
        await using var probe = await factory.CreateConnectionAsync(AgentClient.EndpointsOf(clientOptions), cancellationToken);
        await probe.CloseAsync(RabbitMQ.Client.Constants.ReplySuccess, "credential checked", TimeSpan.FromSeconds(5), false, cancellationToken);
        return true;
    };

    /// <summary>
    /// RabbitMQ answers a wrong password with ACCESS_REFUSED during the handshake, which the client
    /// reports as an unreachable broker whose cause is an authentication failure.
    /// </summary>
    static bool IsLoginRefused(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
            if (e is AuthenticationFailureException || (e is OperationInterruptedException { ShutdownReason.ReplyCode: 403 }))
                return true;
        return false;
    }

    async Task CloseWhenUnusedAsync(AgentConnection connection)
    {
        var deadline = clock.GetUtcNow() + _options.CallTimeout + _options.PendingApprovalWait;
        while (!connection.IdleSince(clock.GetUtcNow(), TimeSpan.Zero) && clock.GetUtcNow() < deadline)
            await Task.Delay(TimeSpan.FromMilliseconds(200), clock);
        await connection.DisposeAsync();
    }

    static byte[] Hash(string password) => HMACSHA256.HashData(Salt, Encoding.UTF8.GetBytes(password));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = _options.IdleTimeout / 4 < TimeSpan.FromSeconds(30) ? _options.IdleTimeout / 4 : TimeSpan.FromSeconds(30);
        using var timer = new PeriodicTimer(period < TimeSpan.FromMilliseconds(250) ? TimeSpan.FromMilliseconds(250) : period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            await CloseIdleAsync(clock.GetUtcNow());
    }

    internal async Task CloseIdleAsync(DateTimeOffset now)
    {
        foreach (var (agentId, connection) in _connections)
        {
            if (!connection.IdleSince(now, _options.IdleTimeout))
                continue;
            if (_connections.TryRemove(new KeyValuePair<string, AgentConnection>(agentId, connection)))
            {
                logger.LogInformation("Agent {AgentId}: broker connection closed after {Idle} without a call", agentId, _options.IdleTimeout);
                await connection.DisposeAsync();
            }
        }
        foreach (var (agentId, failures) in _failures)
            if (failures.Stale(now))
                _failures.TryRemove(new KeyValuePair<string, FailedLogins>(agentId, failures));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var connection in _connections.Values)
            await connection.DisposeAsync();
        _connections.Clear();
    }

    sealed class FailedLogins
    {
        readonly Queue<DateTimeOffset> _times = new();

        public void Record(DateTimeOffset now)
        {
            lock (_times)
                _times.Enqueue(now);
        }

        public bool Exceeded(DateTimeOffset now, int limit)
        {
            lock (_times)
            {
                while (_times.Count > 0 && now - _times.Peek() > TimeSpan.FromMinutes(1))
                    _times.Dequeue();
                return _times.Count >= limit;
            }
        }

        public bool Stale(DateTimeOffset now)
        {
            lock (_times)
                return _times.Count == 0 || now - _times.Last() > TimeSpan.FromMinutes(1);
        }
    }
}

/// <summary>An agent's broker connection as the gateway holds it; calls in flight keep it open.</summary>
public sealed class AgentConnection(string agentId, byte[] passwordHash, AgentClient client, TimeProvider clock) : IAsyncDisposable
{
    readonly TimeProvider _clock = clock;
    long _lastUsedTicks = clock.GetUtcNow().UtcTicks;
    long _verifiedTicks = clock.GetUtcNow().UtcTicks;
    int _inFlight;
    int _disposed;
    bool _retired;

    public string AgentId { get; } = agentId;

    public AgentClient? Client => Volatile.Read(ref _disposed) == 0 ? client : null;

    public bool Matches(byte[] presentedHash) => !_retired && CryptographicOperations.FixedTimeEquals(passwordHash, presentedHash);

    public bool VerifiedWithin(DateTimeOffset now, TimeSpan recheck) => now.UtcTicks - Interlocked.Read(ref _verifiedTicks) < recheck.Ticks;

    public AgentConnection Verified(DateTimeOffset now)
    {
        Interlocked.Exchange(ref _verifiedTicks, now.UtcTicks);
        return this;
    }

    public AgentConnection Touch(DateTimeOffset now)
    {
        Interlocked.Exchange(ref _lastUsedTicks, now.UtcTicks);
        return this;
    }

    /// <summary>Marks a call in flight until the returned handle is disposed, so the idle sweep leaves the connection open.</summary>
    public IDisposable Use()
    {
        Interlocked.Increment(ref _inFlight);
        Touch(_clock.GetUtcNow());
        return new Release(this);
    }

    public void Retire() => _retired = true;

    public bool IdleSince(DateTimeOffset now, TimeSpan idle) =>
        Volatile.Read(ref _inFlight) == 0 && (_retired || now.UtcTicks - Interlocked.Read(ref _lastUsedTicks) >= idle.Ticks);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                await client.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or OperationInterruptedException or ObjectDisposedException or AlreadyClosedException)
            {
                // Closing a connection the broker already dropped: nothing is left to release.
            }
        }
    }

    sealed class Release(AgentConnection connection) : IDisposable
    {
        int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Decrement(ref connection._inFlight);
                connection.Touch(connection._clock.GetUtcNow());
            }
        }
    }
}
