using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.OpenApi;

namespace AgentBus.Cli.OpenApi;

/// <summary>
/// Turns an OpenAPI schema (3.0 or 3.1, as Microsoft.OpenApi reads it: 3.0's nullable is already a
/// "null" type, its boolean exclusiveMinimum already a number) into a self-contained JSON Schema
/// 2020-12 for an argument: $refs inlined, allOf merged, oneOf/anyOf kept, OpenAPI-only keywords
/// (example, xml, discriminator, readOnly, extensions) left out. What it cannot carry over goes to
/// <see cref="Notes"/>, once each, for the operation's untranslated list.
/// </summary>
sealed class SchemaTranslator
{
    /// <summary>Nesting deeper than this is cut: no request schema needs it, and a recursive one would never end.</summary>
    public const int MaxDepth = 16;

    static readonly (JsonSchemaType Type, string Name)[] TypeNames =
    [
        (JsonSchemaType.String, "string"), (JsonSchemaType.Integer, "integer"), (JsonSchemaType.Number, "number"),
        (JsonSchemaType.Boolean, "boolean"), (JsonSchemaType.Object, "object"), (JsonSchemaType.Array, "array"),
        (JsonSchemaType.Null, "null"),
    ];

    readonly List<string> _references = [];
    readonly List<string> _notes = [];

    public IReadOnlyList<string> Notes => _notes;

    void Note(string note)
    {
        if (!_notes.Contains(note))
            _notes.Add(note);
    }

    /// <param name="at">Where the schema sits, for notes: "body", "query parameter 'q'".</param>
    public JsonObject Translate(IOpenApiSchema schema, string at) => Translate(schema, at, 0);

    JsonObject Translate(IOpenApiSchema schema, string at, int depth)
    {
        if (schema is OpenApiSchemaReference reference)
        {
            var id = reference.Reference.Id ?? reference.Reference.ReferenceV3 ?? "?";
            if (reference.Target is null)
            {
                Note($"{at}: $ref '{reference.Reference.ReferenceV3 ?? id}' does not resolve; any value is accepted there");
                return [];
            }
            if (_references.Contains(id) || depth > MaxDepth)
                return Cut(schema, at, $"schema '{id}' refers to itself");
            _references.Add(id);
            try
            {
                return Body(reference, at, depth);
            }
            finally
            {
                _references.RemoveAt(_references.Count - 1);
            }
        }
        if (depth > MaxDepth)
            return Cut(schema, at, $"schemas nest deeper than {MaxDepth} levels");
        return Body(schema, at, depth);
    }

    JsonObject Cut(IOpenApiSchema schema, string at, string why)
    {
        Note($"{at}: {why}; cut there, so any {(schema.Type is { } type && type != 0 ? TypeList(type) + " " : "")}value is accepted at that depth");
        var cut = new JsonObject();
        if (schema.Type is { } known && known != 0)
            cut["type"] = TypeNode(known);
        return cut;
    }

    JsonObject Body(IOpenApiSchema schema, string at, int depth)
    {
        var result = new JsonObject();
        if (schema.Title is { Length: > 0 } title)
            result["title"] = title;
        if (schema.Description is { Length: > 0 } description)
            result["description"] = description.Trim();
        if (schema.Type is { } type && type != 0)
            result["type"] = TypeNode(type);
        if (schema.Format is { Length: > 0 } format)
            result["format"] = format;
        if (schema.Pattern is { Length: > 0 } pattern)
        {
            if (IsDotNetRegex(pattern))
                result["pattern"] = pattern;
            else
                Note($"{at}: pattern '{pattern}' is not a regular expression .NET reads; left out");
        }
        if (schema.Const is { } constant)
            result["const"] = constant;
        if (schema.Enum is { Count: > 0 } values)
            result["enum"] = new JsonArray(values.Select(Copy).ToArray());
        if (schema.Default is { } defaultValue)
            result["default"] = Copy(defaultValue);
        Number(result, "minimum", schema.Minimum, at);
        Number(result, "maximum", schema.Maximum, at);
        Number(result, "exclusiveMinimum", schema.ExclusiveMinimum, at);
        Number(result, "exclusiveMaximum", schema.ExclusiveMaximum, at);
        if (schema.MultipleOf is { } multipleOf)
            result["multipleOf"] = multipleOf;
        Count(result, "minLength", schema.MinLength);
        Count(result, "maxLength", schema.MaxLength);
        Count(result, "minItems", schema.MinItems);
        Count(result, "maxItems", schema.MaxItems);
        Count(result, "minProperties", schema.MinProperties);
        Count(result, "maxProperties", schema.MaxProperties);
        if (schema.UniqueItems == true)
            result["uniqueItems"] = true;
        if (schema.Deprecated)
            result["deprecated"] = true;

        if (schema.Items is { } items)
            result["items"] = Translate(items, $"{at}[]", depth + 1);

        var readOnly = new HashSet<string>(StringComparer.Ordinal);
        if (schema.Properties is { Count: > 0 } properties)
        {
            var translated = new JsonObject();
            foreach (var (name, property) in properties)
            {
                // A readOnly property is the server's to set: OpenAPI keeps it out of requests.
                if (property.ReadOnly)
                {
                    readOnly.Add(name);
                    continue;
                }
                translated[name] = Translate(property, $"{at}.{name}", depth + 1);
            }
            result["properties"] = translated;
        }
        if (schema.Required is { Count: > 0 } required)
        {
            var names = required.Where(name => !readOnly.Contains(name)).ToArray();
            if (names.Length > 0)
                result["required"] = new JsonArray(names.Select(n => (JsonNode?)n).ToArray());
        }
        if (schema.PatternProperties is { Count: > 0 } patternProperties)
        {
            var translated = new JsonObject();
            foreach (var (expression, property) in patternProperties)
                translated[expression] = Translate(property, $"{at}[{expression}]", depth + 1);
            result["patternProperties"] = translated;
        }
        if (schema.AdditionalProperties is { } additional)
            result["additionalProperties"] = Translate(additional, $"{at}.*", depth + 1);
        else if (!schema.AdditionalPropertiesAllowed)
            result["additionalProperties"] = false;

        if (schema is IOpenApiSchemaMissingProperties more)
        {
            if (more.PropertyNames is { } propertyNames)
                result["propertyNames"] = Translate(propertyNames, $"{at} property names", depth + 1);
            if (more.If is { } condition)
                result["if"] = Translate(condition, $"{at} if", depth + 1);
            if (more.Then is { } then)
                result["then"] = Translate(then, $"{at} then", depth + 1);
            if (more.Else is { } otherwise)
                result["else"] = Translate(otherwise, $"{at} else", depth + 1);
        }

        if (schema.OneOf is { Count: > 0 } oneOf)
            result["oneOf"] = Members(oneOf, $"{at} oneOf", depth);
        if (schema.AnyOf is { Count: > 0 } anyOf)
            result["anyOf"] = Members(anyOf, $"{at} anyOf", depth);
        if (schema.Not is { } not)
            result["not"] = Translate(not, $"{at} not", depth + 1);
        if (schema.UnrecognizedKeywords is { Count: > 0 } unknown)
            Note($"{at}: schema keyword(s) {string.Join(", ", unknown.Keys.Select(k => $"'{k}'"))} not carried over");

        if (schema.AllOf is { Count: > 0 } allOf)
        {
            var residue = new JsonArray();
            for (var i = 0; i < allOf.Count; i++)
                MergeInto(result, Translate(allOf[i], $"{at} allOf[{i}]", depth + 1), residue);
            if (residue.Count > 0)
                result["allOf"] = residue;
        }
        return result;
    }

    JsonArray Members(IList<IOpenApiSchema> members, string at, int depth) =>
        new(members.Select((member, i) => (JsonNode?)Translate(member, $"{at}[{i}]", depth + 1)).ToArray());

    /// <summary>
    /// allOf as OpenAPI means it, "this object and that one": properties and required lists are
    /// united, types intersected, the outer schema's annotations win. A keyword two members give
    /// different values stays in an allOf of its own, so nothing is lost.
    /// </summary>
    static void MergeInto(JsonObject target, JsonObject member, JsonArray residue)
    {
        var conflicts = new JsonObject();
        foreach (var (key, value) in member)
        {
            if (!target.TryGetPropertyValue(key, out var existing))
            {
                target[key] = value?.DeepClone();
                continue;
            }
            switch (key)
            {
                case "title" or "description":
                    break;
                case "properties" when existing is JsonObject mine && value is JsonObject theirs:
                    foreach (var (name, schema) in theirs)
                    {
                        if (!mine.TryGetPropertyValue(name, out var present))
                            mine[name] = schema?.DeepClone();
                        else if (!JsonNode.DeepEquals(present, schema))
                            mine[name] = new JsonObject { ["allOf"] = new JsonArray(present?.DeepClone(), schema?.DeepClone()) };
                    }
                    break;
                case "required" when existing is JsonArray mine && value is JsonArray theirs:
                    foreach (var name in theirs)
                        if (!mine.Any(n => JsonNode.DeepEquals(n, name)))
                            mine.Add(name?.DeepClone());
                    break;
                case "type" when Intersect(existing, value) is { } both:
                    target["type"] = both;
                    break;
                default:
                    if (!JsonNode.DeepEquals(existing, value))
                        conflicts[key] = value?.DeepClone();
                    break;
            }
        }
        if (conflicts.Count > 0)
            residue.Add(conflicts);
    }

    static JsonNode? Intersect(JsonNode? first, JsonNode? second)
    {
        static HashSet<string> Types(JsonNode? node) => node switch
        {
            JsonValue value => [value.GetValue<string>()],
            JsonArray array => array.Select(t => t!.GetValue<string>()).ToHashSet(),
            _ => [],
        };
        var a = Types(first);
        var b = Types(second);
        // An integer is a number: {number} ∩ {integer} is {integer}.
        if (a.Contains("number")) a.Add("integer");
        if (b.Contains("number")) b.Add("integer");
        var both = TypeNames.Select(t => t.Name).Where(n => a.Contains(n) && b.Contains(n)).ToList();
        if (both.Contains("number") && both.Contains("integer"))
            both.Remove("integer");
        return both.Count switch
        {
            0 => null,
            1 => JsonValue.Create(both[0]),
            _ => new JsonArray(both.Select(n => (JsonNode?)n).ToArray()),
        };
    }

    /// <summary>A value of the spec (enum, default) with the reader's stand-in for JSON null turned back into null.</summary>
    static JsonNode? Copy(JsonNode? value) => value switch
    {
        null => null,
        _ when value.IsJsonNullSentinel() => null,
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, Copy(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Copy).ToArray()),
        _ => value.DeepClone(),
    };

    public static JsonNode TypeNode(JsonSchemaType type)
    {
        var names = TypeNames.Where(t => type.HasFlag(t.Type)).Select(t => t.Name).ToArray();
        return names.Length == 1 ? JsonValue.Create(names[0]) : new JsonArray(names.Select(n => (JsonNode?)n).ToArray());
    }

    static string TypeList(JsonSchemaType type) => string.Join("/", TypeNames.Where(t => type.HasFlag(t.Type)).Select(t => t.Name));

    void Number(JsonObject target, string keyword, string? text, string at)
    {
        if (string.IsNullOrEmpty(text))
            return;
        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            target[keyword] = value;
        else
            Note($"{at}: {keyword} '{text}' is not a number; left out");
    }

    static void Count(JsonObject target, string keyword, int? value)
    {
        if (value is { } count)
            target[keyword] = count;
    }

    static bool IsDotNetRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
