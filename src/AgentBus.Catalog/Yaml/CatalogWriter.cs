using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.EventEmitters;
using YamlDotNet.Serialization.NamingConventions;

namespace AgentBus.Catalog.Yaml;

/// <summary>
/// Writes a catalog file the way <see cref="CatalogLoader"/> reads it: camelCase keys, defaults and
/// empty lists left out, argument schemas as YAML maps (strings that would read back as numbers,
/// booleans or null are quoted), multi-line descriptions as literal blocks.
/// </summary>
public static class CatalogWriter
{
    static readonly ISerializer Yaml = new SerializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .WithTypeConverter(new YamlJsonConverter())
        .WithQuotingNecessaryStrings()
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitDefaults | DefaultValuesHandling.OmitEmptyCollections | DefaultValuesHandling.OmitNull)
        .WithEventEmitter(next => new LiteralBlocks(next))
        .DisableAliases()
        // The line an entry was read from is bookkeeping, not part of the format.
        .WithAttributeOverride<CatalogDocument>(d => d.Line, new YamlIgnoreAttribute())
        .WithAttributeOverride<CatalogDocument.HttpToolEntry>(d => d.Line, new YamlIgnoreAttribute())
        .WithAttributeOverride<CatalogDocument.SecretEntry>(d => d.Line, new YamlIgnoreAttribute())
        .WithAttributeOverride<CatalogDocument.OperationEntry>(d => d.Line, new YamlIgnoreAttribute())
        .WithAttributeOverride<CatalogDocument.HttpOperationEntry>(d => d.Line, new YamlIgnoreAttribute())
        .WithAttributeOverride<CatalogDocument.CompensationEntry>(d => d.Line, new YamlIgnoreAttribute())
        .Build();

    public static string Write(CatalogDocument document) => Yaml.Serialize(document);

    /// <summary>One schema (or any JSON) as a YAML document, e.g. for `agentbus tools show`.</summary>
    public static string Write(JsonNode? node)
    {
        var text = new StringWriter();
        var emitter = new Emitter(text);
        emitter.Emit(new YamlDotNet.Core.Events.StreamStart());
        emitter.Emit(new YamlDotNet.Core.Events.DocumentStart());
        YamlJsonConverter.Write(emitter, node);
        emitter.Emit(new YamlDotNet.Core.Events.DocumentEnd(true));
        emitter.Emit(new YamlDotNet.Core.Events.StreamEnd());
        return text.ToString();
    }

    sealed class LiteralBlocks(IEventEmitter next) : ChainedEventEmitter(next)
    {
        public override void Emit(ScalarEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Value is string text && text.Contains('\n', StringComparison.Ordinal))
                eventInfo.Style = ScalarStyle.Literal;
            base.Emit(eventInfo, emitter);
        }
    }
}
