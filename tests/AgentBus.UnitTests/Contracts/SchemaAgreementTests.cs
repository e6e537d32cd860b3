using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using AgentBus.Contracts;
using Json.Schema;

namespace AgentBus.UnitTests.Contracts;

/// <summary>
/// The JSON Schemas are the contract for agents in other languages; the records are what our
/// services actually serialize. These tests fail as soon as the two drift apart.
/// </summary>
public class SchemaAgreementTests
{
    public static TheoryData<Type, string> Messages() => new()
    {
        { typeof(ActionProposed), "action-proposed.schema.json" },
        { typeof(ActionDecided), "action-decided.schema.json" },
        { typeof(ActionSucceeded), "action-succeeded.schema.json" },
        { typeof(ActionFailed), "action-failed.schema.json" },
        { typeof(SpendReported), "spend-reported.schema.json" },
        { typeof(RunCompleted), "run-completed.schema.json" },
    };

    static readonly JsonSerializerOptions Wire = AgentBus.ServiceDefaults.Messaging.WireJson.Options;
    static readonly NullabilityInfoContext Nullability = new();

    static JsonObject Schema(string file) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", file)))!.AsObject();

    static Dictionary<string, PropertyInfo> Properties(Type type) =>
        type.GetProperties().Where(p => p.Name != "EqualityContract")
            .ToDictionary(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));

    static HashSet<string> Types(JsonNode property) => property["type"] switch
    {
        JsonArray many => many.Select(t => t!.GetValue<string>()).ToHashSet(),
        { } one => [one.GetValue<string>()],
        null => [],
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Record_and_schema_name_the_same_fields(Type record, string file)
    {
        var schemaFields = Schema(file)["properties"]!.AsObject().Select(p => p.Key).Order();
        Assert.Equal(Properties(record).Keys.Order(), schemaFields);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Non_nullable_fields_are_required_and_nullable_ones_allow_null(Type record, string file)
    {
        var schema = Schema(file);
        var required = schema["required"]!.AsArray().Select(r => r!.GetValue<string>()).ToHashSet();
        foreach (var (name, property) in Properties(record))
        {
            var nullable = Nullable.GetUnderlyingType(property.PropertyType) is not null
                           || Nullability.Create(property).ReadState == NullabilityState.Nullable;
            var types = Types(schema["properties"]![name]!);
            if (nullable)
                Assert.True(types.Contains("null"), $"{record.Name}.{name} is nullable but the schema does not allow null");
            else
            {
                Assert.True(required.Contains(name), $"{record.Name}.{name} is not nullable but the schema does not require it");
                Assert.False(types.Contains("null"), $"{record.Name}.{name} is not nullable but the schema allows null");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Json_types_match_the_clr_types(Type record, string file)
    {
        var schema = Schema(file);
        foreach (var (name, property) in Properties(record))
        {
            var clr = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var node = schema["properties"]![name]!;
            var types = Types(node);
            types.Remove("null");
            var expected = clr switch
            {
                _ when clr == typeof(string) || clr.IsEnum || clr == typeof(DateTimeOffset) => "string",
                _ when clr == typeof(bool) => "boolean",
                _ when clr == typeof(int) || clr == typeof(long) => "integer",
                _ when clr == typeof(decimal) || clr == typeof(double) => "number",
                _ when clr == typeof(JsonElement) => "object",
                _ when clr.IsGenericType && clr.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) => "array",
                _ => throw new InvalidOperationException($"No JSON type known for {clr}"),
            };
            Assert.True(types.SetEquals([expected]), $"{record.Name}.{name}: schema says {string.Join("|", types)}, record needs {expected}");

            if (clr == typeof(DateTimeOffset))
                Assert.Equal("date-time", node["format"]?.GetValue<string>());
            if (clr.IsEnum)
            {
                var wireNames = clr.GetFields(BindingFlags.Public | BindingFlags.Static)
                    .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name).Order();
                Assert.Equal(wireNames, node["enum"]!.AsArray().Select(v => v!.GetValue<string>()).Order());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void The_schema_example_reads_as_the_record_and_the_record_writes_valid_json(Type record, string file)
    {
        var schemaText = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", file));
        var schema = JsonSchema.FromText(schemaText);
        var example = JsonNode.Parse(schemaText)!["examples"]![0]!;
        var options = new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

        var exampleElement = JsonSerializer.SerializeToElement(example);
        Assert.True(schema.Evaluate(exampleElement, options).IsValid, $"the example in {file} does not satisfy its own schema");

        var message = exampleElement.Deserialize(record, Wire)!;
        var written = JsonSerializer.SerializeToElement(message, record, Wire);
        var result = schema.Evaluate(written, options);
        Assert.True(result.IsValid, $"{record.Name} as our services write it fails {file}: " +
            string.Join("; ", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }
}
