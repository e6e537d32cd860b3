using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AgentBus.Approvals.Display;

/// <summary>
/// What approvers see of an action's arguments: the same JSON with the values of secret-looking keys
/// (password, token, api key, authorization, cookie, card number, …) replaced by a mask, and with
/// secret-looking query parameters masked inside URL strings. Approvers decide on what the action
/// does; they never need the credentials in it.
/// </summary>
public static partial class ArgumentRedactor
{
    public const string Mask = "***";

    [GeneratedRegex(@"pass(word|wd|phrase)?|secret|token|api[-_]?key|apikey|auth|cookie|credential|private[-_]?key|session|signature|" +
                    @"card[-_]?(number|no)|^pan$|cvv|cvc|ssn|iban|account[-_]?(number|no)|pin$", RegexOptions.IgnoreCase)]
    private static partial Regex SecretKey();

    public static bool IsSecretKey(string key) => SecretKey().IsMatch(key);

    public static JsonNode? Redact(JsonElement element) => Redact(JsonNode.Parse(element.GetRawText()));

    static JsonNode? Redact(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                    obj[key] = IsSecretKey(key) && value is not null && value is not JsonObject and not JsonArray ? JsonValue.Create(Mask)
                        : IsSecretKey(key) && value is not null ? MaskAll(value)
                        : Redact(value?.DeepClone());
                return obj;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                    array[i] = Redact(array[i]?.DeepClone());
                return array;
            case JsonValue value when value.TryGetValue(out string? text):
                return JsonValue.Create(RedactUrl(text));
            default:
                return node;
        }
    }

    static JsonNode MaskAll(JsonNode node) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)(p.Value is null ? null : MaskAll(p.Value))))),
        JsonArray array => new JsonArray(array.Select(v => (JsonNode?)(v is null ? null : MaskAll(v))).ToArray()),
        _ => JsonValue.Create(Mask),
    };

    /// <summary>Masks credentials and secret-looking query parameters of an http(s) URL (https://h/p?api_key=… → api_key=***).</summary>
    public static string RedactUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            return text;
        var result = string.IsNullOrEmpty(uri.UserInfo) ? text : text.Replace(uri.UserInfo + "@", Mask + "@", StringComparison.Ordinal);
        var question = result.IndexOf('?');
        if (question < 0)
            return result;
        var hash = result.IndexOf('#', question);
        var query = hash < 0 ? result[(question + 1)..] : result[(question + 1)..hash];
        var fragment = hash < 0 ? "" : result[hash..];
        var parts = query.Split('&').Select(part =>
        {
            var equals = part.IndexOf('=');
            return equals >= 0 && IsSecretKey(Uri.UnescapeDataString(part[..equals])) ? $"{part[..equals]}={Mask}" : part;
        });
        return result[..(question + 1)] + string.Join('&', parts) + fragment;
    }
}
