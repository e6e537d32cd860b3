using System.CommandLine;
using AgentBus.Cli.Commands;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>`agentbus approvers add|list|revoke` against the real database.</summary>
[Collection(ApprovalsCollection.Name)]
public sealed class ApproverCommandsTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        var root = new RootCommand { ApproverCommands.Create() };
        var output = new StringWriter();
        var original = Console.Out;
        Console.SetOut(output);
        try
        {
            string[] policy = args is [_, "add", ..] && !args.Contains("--policy") ? ["--policy", fixture.PolicyFile] : [];
            var exit = await root.Parse([.. args, .. policy, "--postgres", fixture.ConnectionString]).InvokeAsync();
            return (exit, output.ToString());
        }
        finally
        {
            Console.SetOut(original);
        }
    }

    [Theory]
    [InlineData("support-bot")]
    [InlineData("Support-Bot")]
    [InlineData(" support-bot  ")]
    [InlineData("\uFF53\uFF55\uFF50\uFF50\uFF4F\uFF52\uFF54-\uFF42\uFF4F\uFF54")] // fullwidth
    public async Task Add_refuses_a_name_that_is_an_agents_id_in_the_policy(string name)
    {
        var (exit, _) = await RunAsync("approvers", "add", name, "--group", "finance");

        Assert.Equal(2, exit);
        Assert.Empty(await fixture.QueryAsync<string>("SELECT name FROM approvers"));
    }

    [Fact]
    public async Task Add_refuses_when_the_policy_to_check_the_name_against_is_missing()
    {
        var (exit, _) = await RunAsync("approvers", "add", "bob", "--group", "finance", "--policy", Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.yaml"));

        Assert.Equal(2, exit);
        Assert.Empty(await fixture.QueryAsync<string>("SELECT name FROM approvers"));
    }

    [Fact]
    public async Task A_token_file_is_plain_utf8_without_a_byte_order_mark()
    {
        var file = Path.Combine(Path.GetTempPath(), $"agentbus-token-{Guid.NewGuid():N}");
        try
        {
            Assert.Equal(0, (await RunAsync("approvers", "add", "bob", "--group", "finance", "--token-file", file)).Exit);
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.False(bytes is [0xEF, 0xBB, 0xBF, ..], "the token file starts with a UTF-8 byte-order mark");
            Assert.StartsWith("abt_", System.Text.Encoding.ASCII.GetString(bytes));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Add_prints_a_working_token_once_list_shows_it_and_revoke_ends_it()
    {
        var (exit, output) = await RunAsync("approvers", "add", "Bob", "--group", "finance", "--group", "ops");
        Assert.Equal(0, exit);
        var token = output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("abt_", StringComparison.Ordinal));

        var bob = await fixture.Approvers.AuthenticateAsync(token, CancellationToken.None);
        Assert.NotNull(bob);
        Assert.Equal("bob", bob.Name);
        Assert.Equal(["finance", "ops"], bob.Groups);
        var stored = await fixture.QueryAsync<byte[]>("SELECT token_hash FROM approvers WHERE name = 'bob'");
        Assert.Equal(32, Assert.Single(stored).Length);
        Assert.Empty(await fixture.QueryAsync<string>("SELECT name FROM approvers WHERE encode(token_hash, 'escape') LIKE '%abt_%'"));

        Assert.Equal(2, (await RunAsync("approvers", "add", "bob", "--group", "finance")).Exit);
        Assert.Equal(2, (await RunAsync("approvers", "add", "not valid", "--group", "finance")).Exit);
        Assert.Equal(0, (await RunAsync("approvers", "list")).Exit);

        Assert.Equal(0, (await RunAsync("approvers", "revoke", "bob")).Exit);
        Assert.Null(await fixture.Approvers.AuthenticateAsync(token, CancellationToken.None));
        Assert.Equal(2, (await RunAsync("approvers", "revoke", "bob")).Exit);

        var (again, reissued) = await RunAsync("approvers", "add", "bob", "--group", "finance");
        Assert.Equal(0, again);
        var newToken = reissued.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("abt_", StringComparison.Ordinal));
        Assert.NotEqual(token, newToken);
        Assert.Equal(["finance"], (await fixture.Approvers.AuthenticateAsync(newToken, CancellationToken.None))!.Groups);
    }

    [Fact]
    public async Task A_token_can_go_to_a_file_readable_by_its_owner_only_and_is_never_printed()
    {
        var folder = Directory.CreateTempSubdirectory("agentbus-approver-").FullName;
        try
        {
            var file = Path.Combine(folder, "approvers", "dana.token");
            var (exit, output) = await RunAsync("approvers", "add", "dana", "--group", "payments-approvers", "--token-file", file);

            Assert.Equal(0, exit);
            Assert.DoesNotContain("abt_", output);
            var token = (await File.ReadAllTextAsync(file)).Trim();
            Assert.Equal("dana", (await fixture.Approvers.AuthenticateAsync(token, CancellationToken.None))!.Name);
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));

            // Run again (a setup script): the file still holds dana's working token, nothing changes.
            Assert.Equal(0, (await RunAsync("approvers", "add", "dana", "--group", "payments-approvers", "--token-file", file)).Exit);
            Assert.Equal(token, (await File.ReadAllTextAsync(file)).Trim());

            // A token file is never overwritten: not with another approver's token, not after a revoke.
            Assert.Equal(2, (await RunAsync("approvers", "add", "erin", "--group", "payments-approvers", "--token-file", file)).Exit);
            Assert.DoesNotContain(await fixture.Approvers.ListAsync(CancellationToken.None), a => a.Name == "erin");
            Assert.True(await fixture.Approvers.RevokeAsync("dana", CancellationToken.None));
            Assert.Equal(2, (await RunAsync("approvers", "add", "dana", "--group", "payments-approvers", "--token-file", file)).Exit);
            Assert.Equal(token, (await File.ReadAllTextAsync(file)).Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
