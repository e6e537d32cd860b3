using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;
using YamlDotNet.Serialization.NodeDeserializers;

namespace AgentBus.Catalog.Yaml;

/// <summary>How every file people write (policy, policy cases, catalog) is read: the same rules, the same errors.</summary>
public static class YamlReading
{
    /// <summary>camelCase keys, duplicate keys refused, argument schemas read as JSON, every entry stamped with its line.</summary>
    public static IDeserializer Deserializer() => new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .WithDuplicateKeyChecking()
        .WithTypeConverter(new YamlJsonConverter())
        .WithNodeDeserializer(inner => new LineTrackingDeserializer(inner), s => s.InsteadOf<ObjectNodeDeserializer>())
        .Build();

    /// <summary>YamlDotNet wraps the real problem ("Property 'tema' not found") in a generic one: the innermost, on one line.</summary>
    public static string Describe(YamlException ex)
    {
        var innermost = ex;
        while (innermost.InnerException is YamlException nested)
            innermost = nested;
        var message = innermost.InnerException is { } cause and not YamlException ? $"{innermost.Message} {cause.Message}" : innermost.Message;
        return message.Replace("\r", "", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Trim();
    }
}
