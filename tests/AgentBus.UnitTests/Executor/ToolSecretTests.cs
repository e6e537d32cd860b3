using System.Collections;
using AgentBus.Executor.Tools;

namespace AgentBus.UnitTests.Executor;

public sealed class ToolSecretTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentbus-secrets-").FullName;

    public ToolSecretTests()
    {
        File.WriteAllText(Path.Combine(_folder, "ticketing"), "ticket-secret\n");
        File.WriteAllText(Path.Combine(_folder, "payments"), "payments-secret");
    }

    static Hashtable Env(params (string Key, string Value)[] variables)
    {
        var table = new Hashtable();
        foreach (var (key, value) in variables)
            table[key] = value;
        return table;
    }

    [Fact]
    public void The_tools_own_file_is_read_and_never_printed()
    {
        var secret = ToolSecret.Load("ticketing", null, _folder, Env());
        Assert.Equal("ticket-secret", secret.Value);
        Assert.Equal("***", secret.ToString());
    }

    [Fact]
    public void The_tools_own_environment_variable_wins_over_the_file() =>
        Assert.Equal("from-env", ToolSecret.Load("ticketing", "ticketing", _folder, Env(("AGENTBUS_TOOL_SECRET_TICKETING", "from-env"))).Value);

    [Fact]
    public void Another_tools_secret_name_stops_the_executor_with_a_clear_message()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ToolSecret.Load("ticketing", "payments", _folder, Env()));
        Assert.Contains("Executor:SecretName is 'payments' but this executor runs tool 'ticketing'", error.Message);
    }

    [Fact]
    public void Another_tools_secret_in_the_environment_stops_the_executor()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            ToolSecret.Load("ticketing", null, _folder, Env(("AGENTBUS_TOOL_SECRET_PAYMENTS", "x"))));
        Assert.Contains("AGENTBUS_TOOL_SECRET_PAYMENTS", error.Message);
        Assert.DoesNotContain("payments-secret", error.Message);
    }

    [Fact]
    public void No_secret_names_where_it_looked()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ToolSecret.Load("crm", null, _folder, Env()));
        Assert.Contains("AGENTBUS_TOOL_SECRET_CRM", error.Message);
        Assert.Contains(_folder, error.Message);
    }

    [Fact]
    public void An_empty_secret_file_is_an_error()
    {
        File.WriteAllText(Path.Combine(_folder, "empty"), "  \n");
        Assert.Contains("is empty", Assert.Throws<InvalidOperationException>(() => ToolSecret.Load("empty", null, _folder, Env())).Message);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
