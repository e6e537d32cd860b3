using AgentBus.Operations.Broker;
using AgentBus.Cli.Commands;

namespace AgentBus.UnitTests.Cli;

/// <summary>Files the CLI writes for other programs to read are plain UTF-8: no byte-order mark.</summary>
public sealed class SecretFileTests : IDisposable
{
    readonly string _directory = Path.Combine(Path.GetTempPath(), $"agentbus-secrets-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    static bool HasBom(string file) => File.ReadAllBytes(file) is [0xEF, 0xBB, 0xBF, ..];

    [Fact]
    public void A_generated_password_file_has_no_byte_order_mark_and_is_exactly_the_password()
    {
        var store = new SecretStore(_directory);
        var secret = store.GetOrCreate("rabbitmq", "support-bot");

        Assert.False(HasBom(store.PathFor("rabbitmq", "support-bot")));
        Assert.Equal(secret, File.ReadAllText(store.PathFor("rabbitmq", "support-bot"), System.Text.Encoding.Latin1));
    }

    [Fact]
    public async Task Provisioners_creating_the_same_secret_at_once_all_get_the_one_that_is_in_the_file()
    {
        var stores = Enumerable.Range(0, 8).Select(_ => new SecretStore(_directory)).ToList();

        var secrets = await Task.WhenAll(stores.Select(store => Task.Run(() => store.GetOrCreate("rabbitmq", "agentbus-projections"))));

        var inFile = File.ReadAllText(stores[0].PathFor("rabbitmq", "agentbus-projections"));
        Assert.All(secrets, secret => Assert.Equal(inFile, secret));
        Assert.Single(Directory.GetFiles(Path.Combine(_directory, "rabbitmq")));
    }

    [Fact]
    public void A_password_file_an_earlier_version_wrote_with_a_byte_order_mark_keeps_its_password_and_loses_the_mark()
    {
        var store = new SecretStore(_directory);
        var path = store.PathFor("tools", "payments");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "s3cret-value"u8]);

        Assert.Equal("s3cret-value", store.GetOrCreate("tools", "payments"));
        Assert.Equal("s3cret-value"u8.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void Generated_signing_keys_have_no_byte_order_mark()
    {
        var key = KeyCommands.Generate(_directory, "test-signing", force: false);

        Assert.False(HasBom(key.PrivateKeyFile));
        Assert.False(HasBom(key.PublicKeyFile));
    }
}
