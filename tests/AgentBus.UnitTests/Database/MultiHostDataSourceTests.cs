using AgentBus.ServiceDefaults.Database;
using Npgsql;

namespace AgentBus.UnitTests.Database;

/// <summary>
/// The Kubernetes manifests give every service <c>Host=a,b;Target Session Attributes=read-write</c>, and the
/// services build their data source with <c>NpgsqlDataSourceBuilder.Build()</c>. Npgsql 7 to 9 refused that
/// ("TargetSessionAttributes cannot be specified"); Npgsql 10 builds the multi-host source and keeps the
/// attribute for every connection. These pin that, so a downgrade fails here and not at a pod's start.
/// </summary>
public class MultiHostDataSourceTests
{
    const string Manifests = "Host=pg-0.pg,pg-1.pg;Port=5432;Target Session Attributes=read-write;Username=agentbus-policy;Database=agentbus";

    [Fact]
    public async Task The_manifests_multi_host_string_builds_one_source_over_both_hosts_that_asks_for_a_writable_server()
    {
        await using var dataSource = new NpgsqlDataSourceBuilder(DatabaseExtensions.WithServiceTuning(Manifests)).Build();

        Assert.IsType<NpgsqlMultiHostDataSource>(dataSource);
        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        Assert.Equal(("pg-0.pg,pg-1.pg", "read-write", 64), (settings.Host, settings.TargetSessionAttributes, settings.MaxAutoPrepare));
        await using var connection = dataSource.CreateConnection();
        Assert.Equal("read-write", new NpgsqlConnectionStringBuilder(connection.ConnectionString).TargetSessionAttributes);
    }

    [Fact]
    public void A_password_file_keeps_every_host_of_the_string()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "s3cret-from-file\n");
            var resolved = new NpgsqlConnectionStringBuilder(new DatabaseOptions { ConnectionString = Manifests, PasswordFile = file }.ResolveConnectionString());
            Assert.Equal(("pg-0.pg,pg-1.pg", "read-write", "s3cret-from-file"), (resolved.Host, resolved.TargetSessionAttributes, resolved.Password));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void With_several_hosts_services_look_at_a_host_again_after_one_second_not_ten()
    {
        Assert.Equal(1, new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning(Manifests)).HostRecheckSeconds);
        Assert.Equal(5, new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning(Manifests + ";Host Recheck Seconds=5")).HostRecheckSeconds);
        Assert.Equal(10, new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithServiceTuning("Host=127.0.0.1;Database=agentbus")).HostRecheckSeconds);
    }
}
