using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit.Serialization;
using MassTransit.Serialization.JsonConverters;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// MassTransit's raw JSON serializer uses one shared set of options. Out of the box they write
/// decimals as JSON strings and indent every message; the contract (contracts/schemas) says
/// numbers and agents in other languages parse numbers. This adjusts the shared options once,
/// before any bus serializes anything.
/// </summary>
public static class WireJson
{
    static readonly Lock Gate = new();
    static bool _configured;

    public static JsonSerializerOptions Options
    {
        get
        {
            Configure();
            return SystemTextJsonMessageSerializer.Options;
        }
    }

    public static void Configure()
    {
        lock (Gate)
        {
            if (_configured)
                return;
            var options = SystemTextJsonMessageSerializer.Options;
            if (options.IsReadOnly)
                throw new InvalidOperationException("MassTransit's JSON options were used before AgentBus could configure them.");

            options.WriteIndented = false;
            var stringDecimals = options.Converters.OfType<StringDecimalJsonConverter>().ToList();
            foreach (var converter in stringDecimals)
                options.Converters.Remove(converter);
            options.Converters.Insert(0, new NumberDecimalConverter());
            _configured = true;
        }
    }

    /// <summary>Writes decimals as JSON numbers; still reads strings, as a lenient reader should.</summary>
    sealed class NumberDecimalConverter : JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType switch
            {
                JsonTokenType.Number => reader.GetDecimal(),
                JsonTokenType.String when decimal.TryParse(reader.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => throw new JsonException($"Expected a number, found {reader.TokenType}."),
            };

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }
}
