using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AgentBus.ServiceDefaults.Messaging;

public static class MessagingExtensions
{
    /// <summary>
    /// One MassTransit bus on RabbitMQ with the project's conventions: plain JSON on the wire, our
    /// exchange names, publisher confirms, bounded retries and a per-message timeout (a refused
    /// publish would otherwise retry forever), and no usage telemetry (these hosts are offline).
    /// </summary>
    public static IHostApplicationBuilder AddAgentBusMessaging(
        this IHostApplicationBuilder builder, string defaultBrokerUser, Action<IBusRegistrationConfigurator> register,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureBus = null)
    {
        WireJson.Configure();
        builder.AddDefaultSettings([new($"{RabbitMqOptions.Section}:{nameof(RabbitMqOptions.Username)}", defaultBrokerUser)]);
        builder.Services.AddValidatedOptions<RabbitMqOptions>(RabbitMqOptions.Section, RabbitMqOptions.Problems);
        builder.Services.AddOptions<MassTransitHostOptions>().Configure(options =>
        {
            options.WaitUntilStarted = true;
            options.StartTimeout = TimeSpan.FromSeconds(60);
            options.StopTimeout = TimeSpan.FromSeconds(30);
        });

        builder.Services.AddMassTransit(bus =>
        {
            bus.DisableUsageTelemetry();
            bus.AddConfigureEndpointsCallback((context, _, endpoint) =>
            {
                var options = context.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
                // Quorum queues, as `agentbus broker apply` declares them (and MassTransit gives the
                // endpoint's _error and _skipped queues the same type).
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                    rabbit.SetQuorumQueue();
                endpoint.PublishFaults = false;
                endpoint.UseMessageRetry(retry =>
                {
                    retry.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200));
                    retry.ConnectRetryObserver(new RetryMetricsObserver());
                });
                endpoint.UseTimeout(timeout => timeout.Timeout = options.PublishTimeout);
                endpoint.UseFilter(new TraceBaggage.ConsumeFilter());
                endpoint.ConfigureError(pipe => pipe.UseFilter(new MoveWithoutBrokerUserId.ErrorFilter()));
                endpoint.ConfigureDeadLetter(pipe => pipe.UseFilter(new MoveWithoutBrokerUserId.DeadLetterFilter()));
            });

            register(bus);

            bus.UsingRabbitMq((context, cfg) =>
            {
                var options = context.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
                var nodes = options.Nodes();
                cfg.Host(nodes[0].Host, (ushort)nodes[0].Port, options.VirtualHost, builder.Environment.ApplicationName, host =>
                {
                    if (nodes.Count > 1)
                        host.UseCluster(cluster =>
                        {
                            foreach (var node in nodes)
                                cluster.Node(node.ToString());
                        });
                    host.Username(options.Username);
                    host.Password(options.ResolvePassword());
                    host.PublisherConfirmation = true;
                    host.RequestedConnectionTimeout(TimeSpan.FromSeconds(10));
                });

                cfg.ClearSerialization();
                cfg.UseRawJsonSerializer(RawSerializerOptions.AddTransportHeaders, isDefault: true);
                BusTopology.Configure(cfg);
                cfg.ConfigureSend(send => send.UseExecute(AmqpMessageType.Set));
                cfg.ConfigurePublish(publish => publish.UseExecute(AmqpMessageType.Set));
                cfg.ConfigureSend(send => send.UseExecute(TraceBaggage.Write));
                cfg.ConfigurePublish(publish => publish.UseExecute(TraceBaggage.Write));
                var username = options.Username;
                cfg.ConfigureSend(send => send.UseExecute(context => BrokerIdentity.Stamp(context, username)));
                cfg.ConfigurePublish(publish => publish.UseExecute(context => BrokerIdentity.Stamp(context, username)));
                configureBus?.Invoke(context, cfg);

                cfg.ConfigureEndpoints(context);
            });
        });

        return builder;
    }
}
