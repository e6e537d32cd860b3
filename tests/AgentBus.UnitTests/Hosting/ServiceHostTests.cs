using AgentBus.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace AgentBus.UnitTests.Hosting;

public sealed class ServiceHostTests
{
    [Fact]
    public void A_service_host_does_not_watch_its_working_directory_for_configuration_changes()
    {
        var builder = ServiceHost.CreateBuilder([]);

        var jsonSources = ((IConfigurationBuilder)builder.Configuration).Sources.OfType<JsonConfigurationSource>().ToList();
        Assert.NotEmpty(jsonSources);
        Assert.All(jsonSources, source => Assert.False(source.ReloadOnChange, $"{source.Path} is reloaded on change"));
    }

    [Fact]
    public void An_operator_can_still_turn_reloading_on_from_the_command_line()
    {
        var builder = ServiceHost.CreateBuilder(["--hostBuilder:reloadConfigOnChange=true"]);

        Assert.Contains(((IConfigurationBuilder)builder.Configuration).Sources.OfType<JsonConfigurationSource>(), source => source.ReloadOnChange);
    }

    [Fact]
    public void The_services_own_arguments_still_reach_the_configuration()
    {
        var builder = ServiceHost.CreateBuilder(["--RabbitMq:Username=agentbus-policy"]);

        Assert.Equal("agentbus-policy", builder.Configuration["RabbitMq:Username"]);
    }
}
