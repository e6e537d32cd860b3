using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AgentBus.Policy.Engine.Rules;

/// <summary>
/// A compiled validator for the JSON Schema keywords argument schemas use most (type, enum, const,
/// required, properties, additionalProperties, items, bounds, lengths, pattern, allOf/anyOf/oneOf/not,
/// if/then/else; format, whose checks JsonSchema.Net owns, is left to it), so the common decision does not pay JsonSchema.Net's general evaluation (about
/// 6 µs and 7 KB per call, measured). A schema with any other keyword ($ref, patternProperties, …)
/// is not compiled and JsonSchema.Net evaluates it; JsonSchema.Net also writes every error message.
/// Unit tests hold the two to the same verdicts.
/// </summary>
public sealed class FastSchema
{
    static readonly HashSet<string> Annotations =
    [
        "$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
        "contentMediaType", "contentEncoding",
    ];

    bool? _constant;
    string[]? _types;
    JsonElement[]? _enum;
    string[]? _required;
    (string Name, FastSchema Schema)[]? _properties;
    HashSet<string>? _propertyNames;
    FastSchema? _additional;
    FastSchema? _items;
    int? _minItems, _maxItems, _minLength, _maxLength, _minProperties, _maxProperties;
    decimal? _minimum, _maximum, _exclusiveMinimum, _exclusiveMaximum, _multipleOf;
    Regex? _pattern;
    FastSchema[]? _allOf, _anyOf, _oneOf;
    FastSchema? _not, _if, _then, _else;

    FastSchema()
    {
    }

    /// <summary>Compiles the schema, or returns null when it uses a keyword this validator does not implement.</summary>
    public static FastSchema? TryCompile(JsonNode? schema)
    {
        try
        {
            return Compile(schema);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    static FastSchema Compile(JsonNode? node)
    {
        var compiled = new FastSchema();
        if (node is JsonValue value && value.TryGetValue<bool>(out var constant))
        {
            compiled._constant = constant;
            return compiled;
        }
        if (node is not JsonObject schema)
            throw new NotSupportedException();

        foreach (var (keyword, argument) in schema)
        {
            switch (keyword)
            {
                case "$schema" when argument?.GetValue<string>() is not ("https://json-schema.org/draft/2020-12/schema"):
                    throw new NotSupportedException();
                case "type":
                    compiled._types = argument is JsonArray many ? many.Select(t => t!.GetValue<string>()).ToArray() : [argument!.GetValue<string>()];
                    break;
                case "enum":
                    compiled._enum = argument!.AsArray().Select(e => JsonSerializer.SerializeToElement(e)).ToArray();
                    break;
                case "const":
                    compiled._enum = [JsonSerializer.SerializeToElement(argument)];
                    break;
                case "required":
                    compiled._required = argument!.AsArray().Select(r => r!.GetValue<string>()).ToArray();
                    break;
                case "properties":
                    compiled._properties = argument!.AsObject().Select(p => (p.Key, Compile(p.Value))).ToArray();
                    compiled._propertyNames = compiled._properties.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
                    break;
                case "additionalProperties":
                    compiled._additional = Compile(argument);
                    break;
                case "items":
                    compiled._items = Compile(argument);
                    break;
                case "minItems": compiled._minItems = Integer(argument); break;
                case "maxItems": compiled._maxItems = Integer(argument); break;
                case "minLength": compiled._minLength = Integer(argument); break;
                case "maxLength": compiled._maxLength = Integer(argument); break;
                case "minProperties": compiled._minProperties = Integer(argument); break;
                case "maxProperties": compiled._maxProperties = Integer(argument); break;
                case "minimum": compiled._minimum = Number(argument); break;
                case "maximum": compiled._maximum = Number(argument); break;
                case "exclusiveMinimum": compiled._exclusiveMinimum = Number(argument); break;
                case "exclusiveMaximum": compiled._exclusiveMaximum = Number(argument); break;
                case "multipleOf": compiled._multipleOf = Number(argument); break;
                case "pattern":
                    compiled._pattern = new Regex(argument!.GetValue<string>(), RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
                    break;
                case "allOf": compiled._allOf = argument!.AsArray().Select(Compile).ToArray(); break;
                case "anyOf": compiled._anyOf = argument!.AsArray().Select(Compile).ToArray(); break;
                case "oneOf": compiled._oneOf = argument!.AsArray().Select(Compile).ToArray(); break;
                case "not": compiled._not = Compile(argument); break;
                case "if": compiled._if = Compile(argument); break;
                case "then": compiled._then = Compile(argument); break;
                case "else": compiled._else = Compile(argument); break;
                case var annotation when Annotations.Contains(annotation):
                    break;
                default:
                    throw new NotSupportedException();
            }
        }
        return compiled;
    }

    static int Integer(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<long>(out var l) && l is >= 0 and <= int.MaxValue ? (int)l : throw new NotSupportedException();

    static decimal Number(JsonNode? node) =>
        node is JsonValue v && (v.TryGetValue<decimal>(out var d) || (v.TryGetValue<long>(out var l) && (d = l) == l)) ? d : throw new NotSupportedException();

    public bool IsValid(JsonElement instance)
    {
        if (_constant is { } constant)
            return constant;

        if (_types is not null && !HasType(instance))
            return false;
        if (_enum is not null && !InEnum(instance))
            return false;

        switch (instance.ValueKind)
        {
            case JsonValueKind.Object when !ObjectValid(instance):
            case JsonValueKind.Array when !ArrayValid(instance):
            case JsonValueKind.String when !StringValid(instance):
            case JsonValueKind.Number when !NumberValid(instance):
                return false;
        }

        if (_allOf is not null)
            foreach (var schema in _allOf)
                if (!schema.IsValid(instance))
                    return false;
        if (_anyOf is not null)
        {
            var any = false;
            foreach (var schema in _anyOf)
                if (schema.IsValid(instance))
                {
                    any = true;
                    break;
                }
            if (!any)
                return false;
        }
        if (_oneOf is not null)
        {
            var count = 0;
            foreach (var schema in _oneOf)
                if (schema.IsValid(instance) && ++count > 1)
                    return false;
            if (count != 1)
                return false;
        }
        if (_not is not null && _not.IsValid(instance))
            return false;
        if (_if is not null)
        {
            var branch = _if.IsValid(instance) ? _then : _else;
            if (branch is not null && !branch.IsValid(instance))
                return false;
        }
        return true;
    }

    bool HasType(JsonElement instance)
    {
        foreach (var type in _types!)
        {
            var matches = type switch
            {
                "object" => instance.ValueKind == JsonValueKind.Object,
                "array" => instance.ValueKind == JsonValueKind.Array,
                "string" => instance.ValueKind == JsonValueKind.String,
                "number" => instance.ValueKind == JsonValueKind.Number,
                "integer" => instance.ValueKind == JsonValueKind.Number && IsInteger(instance),
                "boolean" => instance.ValueKind is JsonValueKind.True or JsonValueKind.False,
                "null" => instance.ValueKind == JsonValueKind.Null,
                _ => false,
            };
            if (matches)
                return true;
        }
        return false;
    }

    static bool IsInteger(JsonElement number) =>
        number.TryGetDecimal(out var d) ? decimal.Truncate(d) == d : Math.Floor(number.GetDouble()) == number.GetDouble();

    bool InEnum(JsonElement instance)
    {
        foreach (var candidate in _enum!)
            if (JsonEquals(candidate, instance))
                return true;
        return false;
    }

    /// <summary>JSON equality as JSON Schema defines it: numbers by value, objects regardless of member order.</summary>
    static bool JsonEquals(JsonElement a, JsonElement b)
    {
        if (a.ValueKind != b.ValueKind)
            return false;
        switch (a.ValueKind)
        {
            case JsonValueKind.String:
                return a.ValueEquals(b.GetString());
            case JsonValueKind.Number:
                return a.TryGetDecimal(out var x) && b.TryGetDecimal(out var y) ? x == y : a.GetDouble().Equals(b.GetDouble());
            case JsonValueKind.Array:
                if (a.GetArrayLength() != b.GetArrayLength())
                    return false;
                for (var i = 0; i < a.GetArrayLength(); i++)
                    if (!JsonEquals(a[i], b[i]))
                        return false;
                return true;
            case JsonValueKind.Object:
                var count = 0;
                foreach (var property in a.EnumerateObject())
                {
                    count++;
                    if (!b.TryGetProperty(property.Name, out var other) || !JsonEquals(property.Value, other))
                        return false;
                }
                foreach (var _ in b.EnumerateObject())
                    count--;
                return count == 0;
            default:
                return true;
        }
    }

    bool ObjectValid(JsonElement instance)
    {
        if (_required is not null)
            foreach (var name in _required)
                if (!instance.TryGetProperty(name, out _))
                    return false;

        if (_properties is not null)
            foreach (var (name, schema) in _properties)
                if (instance.TryGetProperty(name, out var value) && !schema.IsValid(value))
                    return false;

        if (_additional is not null || _minProperties is not null || _maxProperties is not null)
        {
            var count = 0;
            foreach (var property in instance.EnumerateObject())
            {
                count++;
                if (_additional is not null && (_propertyNames is null || !_propertyNames.Contains(property.Name)) && !_additional.IsValid(property.Value))
                    return false;
            }
            if (count < _minProperties || count > _maxProperties)
                return false;
        }
        return true;
    }

    bool ArrayValid(JsonElement instance)
    {
        var length = instance.GetArrayLength();
        if (length < _minItems || length > _maxItems)
            return false;
        if (_items is not null)
            foreach (var item in instance.EnumerateArray())
                if (!_items.IsValid(item))
                    return false;
        return true;
    }

    bool StringValid(JsonElement instance)
    {
        if (_minLength is null && _maxLength is null && _pattern is null)
            return true;
        if (_minLength is null && _maxLength is { } max && JsonText.CertainlyAtMost(instance, max))
            return _pattern is null || JsonText.IsMatch(_pattern, instance);
        var text = instance.GetString()!;
        if (_minLength is not null || _maxLength is not null)
        {
            // JSON Schema counts Unicode code points, not UTF-16 units.
            var length = 0;
            foreach (var _ in text.EnumerateRunes())
                length++;
            if (length < _minLength || length > _maxLength)
                return false;
        }
        return _pattern is null || _pattern.IsMatch(text);
    }

    bool NumberValid(JsonElement instance)
    {
        if (_minimum is null && _maximum is null && _exclusiveMinimum is null && _exclusiveMaximum is null && _multipleOf is null)
            return true;
        if (!instance.TryGetDecimal(out var number))
            throw new NotSupportedException("A number outside decimal range goes to the general evaluator.");
        if (number < _minimum || number > _maximum || number <= _exclusiveMinimum || number >= _exclusiveMaximum)
            return false;
        return _multipleOf is not { } divisor || number % divisor == 0;
    }
}
