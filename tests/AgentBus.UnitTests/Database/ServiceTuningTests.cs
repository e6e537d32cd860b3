using AgentBus.ServiceDefaults.Database;
using Npgsql;

namespace AgentBus.UnitTests.Database;

public class ServiceTuningTests
{
    [Fact]
    public void Services_prepare_their_statements_unless_the_connection_string_says_otherwise()
    {
        var defaulted = new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning("Host=127.0.0.1;Database=agentbus;Password=s3cret;Maximum Pool Size=8"));
        Assert.Equal((64, 8, "s3cret"), (defaulted.MaxAutoPrepare, defaulted.MaxPoolSize, defaulted.Password));

        Assert.Equal(0, new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning("Host=127.0.0.1;Max Auto Prepare=0")).MaxAutoPrepare);
        Assert.Equal(5, new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning("Host=127.0.0.1;max auto prepare=5")).MaxAutoPrepare);
    }

    [Fact]
    public void Pooled_connections_are_not_reset_on_return_unless_the_connection_string_says_otherwise()
    {
        Assert.True(new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning("Host=127.0.0.1")).NoResetOnClose);
        Assert.False(new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning("Host=127.0.0.1;No Reset On Close=false")).NoResetOnClose);
    }
}
