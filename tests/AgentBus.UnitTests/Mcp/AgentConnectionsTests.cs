using AgentBus.Mcp;
using AgentBus.UnitTests.Approvals;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.UnitTests.Mcp;

/// <summary>How the gateway lets agents in: the broker judges each password, and the gateway stops asking it after a few wrong ones.</summary>
public sealed class AgentConnectionsTests
{
    readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
    int _logins;

    AgentConnections Connections(Exception refusal) => new(Options.Create(new GatewayOptions { PolicyFile = "unused", FailedLoginsPerMinute = 3 }),
        NullLogger<AgentConnections>.Instance, _clock)
    {
        Connect = (_, _) =>
        {
            _logins++;
            throw refusal;
        },
    };

    static Exception WrongPassword() => new BrokerUnreachableException(new AuthenticationFailureException("ACCESS_REFUSED - Login was refused"));

    [Fact]
    public async Task A_password_the_broker_refuses_is_a_wrong_credential()
    {
        var connections = Connections(WrongPassword());

        var refused = await Assert.ThrowsAsync<AgentAdmissionException>(() => connections.AdmitAsync("support-bot", "guess", CancellationToken.None));

        Assert.Equal(AdmissionFailure.WrongCredential, refused.Failure);
        Assert.DoesNotContain("guess", refused.Message);
    }

    [Fact]
    public async Task After_the_limit_of_wrong_passwords_the_broker_is_not_asked_again_within_the_minute()
    {
        var connections = Connections(WrongPassword());
        for (var i = 0; i < 3; i++)
            await Assert.ThrowsAsync<AgentAdmissionException>(() => connections.AdmitAsync("support-bot", $"guess-{i}", CancellationToken.None));

        var throttled = await Assert.ThrowsAsync<AgentAdmissionException>(() => connections.AdmitAsync("support-bot", "guess-4", CancellationToken.None));
        Assert.Equal(AdmissionFailure.TooManyFailures, throttled.Failure);
        Assert.Equal(3, _logins);

        // Another agent is not held back by this one's failures, and a minute later the broker is asked again.
        await Assert.ThrowsAsync<AgentAdmissionException>(() => connections.AdmitAsync("intern-bot", "guess", CancellationToken.None));
        _clock.Now += TimeSpan.FromSeconds(61);
        var again = await Assert.ThrowsAsync<AgentAdmissionException>(() => connections.AdmitAsync("support-bot", "guess-5", CancellationToken.None));
        Assert.Equal(AdmissionFailure.WrongCredential, again.Failure);
        Assert.Equal(5, _logins);
    }

    [Fact]
    public async Task A_broker_that_cannot_be_reached_is_unavailable_not_a_wrong_password_and_counts_no_failure()
    {
        var connections = Connections(new BrokerUnreachableException(new System.Net.Sockets.SocketException(111)));
        for (var i = 0; i < 5; i++)
        {
            var unavailable = await Assert.ThrowsAsync<AgentAdmissionException>(() => connections.AdmitAsync("support-bot", "right", CancellationToken.None));
            Assert.Equal(AdmissionFailure.BrokerUnavailable, unavailable.Failure);
        }
        Assert.Equal(5, _logins);
    }
}
