using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AgentBus.Catalog.Http;

/// <summary>
/// Builds the HTTP request of one operation from the agent's arguments alone: the method and the
/// host come from the catalog, the URL from its template, the body as JSON or form fields from the
/// arguments the URL and headers do not use (or from the one body argument), fixed headers from the
/// catalog. The caller adds the secret and the tracking headers. Arguments have passed the schema by now.
/// </summary>
public static class OperationRequest
{
    public const string InvalidHeaderArgument = "invalid_header_argument";
    public const string InvalidBodyArgument = "invalid_body_argument";

    public static (HttpRequestMessage? Request, UrlProblem? Problem) Build(HttpTool tool, HttpOperation operation, JsonElement arguments)
    {
        if (arguments.ValueKind != JsonValueKind.Object)
            return (null, new(InvalidBodyArgument, "The arguments must be a JSON object."));
        var (url, problem) = operation.Url.Expand(arguments);
        if (problem is not null)
            return (null, problem);

        var request = new HttpRequestMessage(new HttpMethod(operation.Method), url);
        foreach (var (name, value) in tool.Headers)
            request.Headers.TryAddWithoutValidation(name, value);
        foreach (var (name, value) in operation.Headers)
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
        foreach (var (header, argument) in operation.HeaderArguments)
        {
            if (!arguments.TryGetProperty(argument, out var value) || value.ValueKind == JsonValueKind.Null)
                continue;
            var text = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                _ => null,
            };
            if (text is null || text.Any(c => char.IsControl(c) || c > '~'))
            {
                request.Dispose();
                return (null, new(InvalidHeaderArgument, $"Argument '{argument}' goes into header {header}: it must be printable ASCII without line breaks."));
            }
            request.Headers.Remove(header);
            request.Headers.TryAddWithoutValidation(header, text);
        }

        if (operation.Body != BodyKind.None)
        {
            var (content, bodyProblem) = Body(operation, arguments);
            if (bodyProblem is not null)
            {
                request.Dispose();
                return (null, bodyProblem);
            }
            request.Content = content;
        }
        return (request, null);
    }

    static (HttpContent?, UrlProblem?) Body(HttpOperation operation, JsonElement arguments)
    {
        IEnumerable<JsonProperty> fields;
        if (operation.BodyArgument is { } bodyArgument)
        {
            if (!arguments.TryGetProperty(bodyArgument, out var whole) || whole.ValueKind == JsonValueKind.Null)
                return (null, null);
            if (operation.Body == BodyKind.Json)
                return (new StringContent(whole.GetRawText(), Encoding.UTF8, "application/json"), null);
            if (whole.ValueKind != JsonValueKind.Object)
                return (null, new(InvalidBodyArgument, $"Argument '{bodyArgument}' is a form body: it must be an object of fields."));
            fields = whole.EnumerateObject();
        }
        else
            fields = arguments.EnumerateObject().Where(property => !operation.PlacedArguments.Contains(property.Name));

        if (operation.Body == BodyKind.Json)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                foreach (var field in fields)
                    field.WriteTo(writer);
                writer.WriteEndObject();
            }
            var json = new ByteArrayContent(buffer.WrittenSpan.ToArray());
            json.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            return (json, null);
        }

        var form = new List<KeyValuePair<string, string>>();
        foreach (var field in fields)
            if (Flatten(field.Value, field.Name, form, depth: 1) is { } formProblem)
                return (null, new(InvalidBodyArgument, formProblem));
        var content = new FormUrlEncodedContent(form);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded") { CharSet = "utf-8" };
        return (content, null);
    }

    /// <summary>
    /// Form fields as APIs such as Stripe read them: arrays repeat the key, nested objects use
    /// brackets (metadata[order]=...). Nesting is bounded so a deep argument cannot blow the stack.
    /// </summary>
    static string? Flatten(JsonElement value, string name, List<KeyValuePair<string, string>> fields, int depth)
    {
        if (depth > 8)
            return "The form body nests deeper than 8 levels.";
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                    if (Flatten(property.Value, $"{name}[{property.Name}]", fields, depth + 1) is { } problem)
                        return problem;
                return null;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                        return $"Form field '{name}' holds a list of objects or lists, which a form cannot carry.";
                    if (Flatten(item, name, fields, depth + 1) is { } problem)
                        return problem;
                }
                return null;
            case JsonValueKind.String:
                fields.Add(new(name, value.GetString()!));
                return null;
            case JsonValueKind.Number:
                fields.Add(new(name, value.GetRawText()));
                return null;
            case JsonValueKind.True or JsonValueKind.False:
                fields.Add(new(name, value.ValueKind == JsonValueKind.True ? "true" : "false"));
                return null;
            case JsonValueKind.Null:
                return null;
            default:
                return $"Form field '{name}' has no value.";
        }
    }
}
