using System.Text.Json;
using Json.Schema;
using Json.Schema.Keywords;

namespace AgentBus.Catalog.Schemas;

/// <summary>
/// minLength and maxLength counted in Unicode code points, as JSON Schema defines a string's length.
/// JsonSchema.Net counts text elements (grapheme clusters), so a value of 200 "characters" could carry
/// thousands of combining or zero-width code points past a maxLength of 200. Argument schemas are
/// built with <see cref="Dialect"/>: JSON Schema 2020-12 with these two keywords replaced, and nothing else.
/// </summary>
public sealed class CodePointLength : IKeywordHandler
{
    readonly IKeywordHandler _inner;
    readonly bool _maximum;

    CodePointLength(IKeywordHandler inner, bool maximum)
    {
        _inner = inner;
        _maximum = maximum;
    }

    public static readonly Uri Draft202012 = new("https://json-schema.org/draft/2020-12/schema");

    public static readonly Dialect Dialect = new(
        new[]
            {
                Vocabulary.Draft202012_Core, Vocabulary.Draft202012_Applicator, Vocabulary.Draft202012_Unevaluated,
                Vocabulary.Draft202012_Validation, Vocabulary.Draft202012_MetaData, Vocabulary.Draft202012_FormatAnnotation,
                Vocabulary.Draft202012_Content,
            }
            .SelectMany(vocabulary => vocabulary.Keywords)
            // JsonSchema.Net 8.0.5's applicator vocabulary omits "then", which its own 2020-12 dialect has.
            .Append(ThenKeyword.Instance)
            .DistinctBy(keyword => keyword.Name)
            .Select(keyword => keyword.Name switch
            {
                "maxLength" => new CodePointLength(keyword, maximum: true),
                "minLength" => new CodePointLength(keyword, maximum: false),
                _ => keyword,
            }))
    {
        Id = Draft202012,
    };

    /// <summary>Build options under which a schema can only be read in <see cref="Dialect"/>.</summary>
    public static BuildOptions Options()
    {
        var dialects = new DialectRegistry();
        dialects.Register(Dialect);
        return new BuildOptions { SchemaRegistry = new SchemaRegistry(), Dialect = Dialect, DialectRegistry = dialects };
    }

    public string Name => _inner.Name;

    public object? ValidateKeywordValue(JsonElement value) => _inner.ValidateKeywordValue(value);

    public void BuildSubschemas(KeywordData keyword, BuildContext context) => _inner.BuildSubschemas(keyword, context);

    public KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context)
    {
        if (context.Instance.ValueKind != JsonValueKind.String)
            return _inner.Evaluate(keyword, context);
        var limit = keyword.RawValue.GetDecimal();
        var length = Length(context.Instance.GetString()!);
        var valid = _maximum ? length <= limit : length >= limit;
        return new KeywordEvaluation
        {
            Keyword = Name,
            IsValid = valid,
            Error = valid ? null : $"The string has {length} characters; {(_maximum ? "at most" : "at least")} {limit} are allowed.",
        };
    }

    /// <summary>Unicode code points; an unpaired surrogate counts as one.</summary>
    public static int Length(string value)
    {
        var count = 0;
        for (var i = 0; i < value.Length; i++, count++)
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                i++;
        return count;
    }
}
