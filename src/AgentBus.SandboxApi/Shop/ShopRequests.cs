using System.Net.Mail;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Primitives;

namespace AgentBus.SandboxApi.Shop;

/// <summary>
/// Reads what a caller sent by the rules openapi.yaml states (id patterns, lengths in characters,
/// enums, whole cents, no unknown fields) and throws InvalidShopRequestException naming the field
/// and the rule it broke.
/// </summary>
public static partial class ShopRequests
{
    public static readonly string[] Priorities = ["low", "normal", "high", "urgent"];
    public static readonly string[] Visibilities = ["public", "internal"];
    public static readonly string[] Resolutions = ["resolved", "duplicate", "wont_fix"];

    public const int MaxIdempotencyKeyLength = 255;

    public static string OrderId(string value) => Id("orderId", value, OrderIdPattern(), "ORD- and 4 to 10 digits, e.g. ORD-1001");

    public static string RefundId(string value) => Id("refundId", value, RefundIdPattern(), "RF- and 6 to 12 digits, e.g. RF-000001");

    public static string TicketId(string value) => Id("ticketId", value, TicketIdPattern(), "TCK- and 6 to 12 digits, e.g. TCK-000001");

    public static RefundRequest Refund(JsonElement body)
    {
        OnlyFields(body, "amountUsd", "reason");
        return new(AmountUsd(body), Text(body, "reason", 1, 500, required: true)!);
    }

    public static TicketRequest Ticket(JsonElement body)
    {
        OnlyFields(body, "title", "description", "priority", "customerEmail");
        return new(
            Text(body, "title", 1, 200, required: true)!,
            Text(body, "description", 0, 5000, required: false),
            OneOf("priority", Text(body, "priority", 0, int.MaxValue, required: true)!, Priorities),
            Email(body, "customerEmail"));
    }

    public static CommentRequest Comment(IReadOnlyDictionary<string, StringValues> form)
    {
        foreach (var name in form.Keys)
            if (!name.Equals("body", StringComparison.OrdinalIgnoreCase) && !name.Equals("visibility", StringComparison.OrdinalIgnoreCase))
                throw Invalid($"Unknown form field '{Shorten(name)}'; the fields are body and visibility.");
        var body = Single(form, "body") ?? throw Invalid("body is required: the comment text, 1 to 5000 characters.");
        var visibility = Single(form, "visibility") ?? "public";
        return new(Length("body", body, 1, 5000), OneOf("visibility", visibility, Visibilities));
    }

    /// <summary>The query parameter resolution; resolved when absent.</summary>
    public static string Resolution(StringValues query) => query.Count switch
    {
        0 => "resolved",
        1 => OneOf("resolution", query[0] ?? "", Resolutions),
        _ => throw Invalid("resolution must be given once."),
    };

    public static string? IdempotencyKey(StringValues header) => header.Count switch
    {
        0 => null,
        1 when header[0] is { Length: > 0 and <= MaxIdempotencyKeyLength } key => key,
        1 => throw Invalid($"Idempotency-Key must be 1 to {MaxIdempotencyKeyLength} characters."),
        _ => throw Invalid("Send one Idempotency-Key header, not several."),
    };

    [GeneratedRegex(@"^ORD-[0-9]{4,10}\z")]
    private static partial Regex OrderIdPattern();

    [GeneratedRegex(@"^RF-[0-9]{6,12}\z")]
    private static partial Regex RefundIdPattern();

    [GeneratedRegex(@"^TCK-[0-9]{6,12}\z")]
    private static partial Regex TicketIdPattern();

    static string Id(string name, string value, Regex pattern, string shape) =>
        pattern.IsMatch(value) ? value : throw Invalid($"{name} '{Shorten(value)}' is not an id of this shop: it must be {shape}.");

    static decimal AmountUsd(JsonElement body)
    {
        if (!body.TryGetProperty("amountUsd", out var element))
            throw Invalid("amountUsd is required: the amount to refund in US dollars, e.g. 12.50.");
        if (element.ValueKind != JsonValueKind.Number)
            throw Invalid($"amountUsd must be a JSON number of US dollars such as 12.50, not {Kind(element)}.");
        if (!element.TryGetDecimal(out var amount))
            throw Invalid("amountUsd is out of range.");
        if (amount <= 0)
            throw Invalid("amountUsd must be greater than 0.");
        if (decimal.Round(amount, 2) != amount)
            throw Invalid("amountUsd must be whole cents: at most two decimals.");
        // Scale 2 whatever the caller wrote (12.5, 12.500): the amount reads back as 12.50.
        return decimal.Round(amount, 2) + 0.00m;
    }

    static string? Email(JsonElement body, string name)
    {
        var value = Text(body, name, 3, 254, required: false);
        if (value is not null && !(MailAddress.TryCreate(value, out var address) && address.Address == value && address.DisplayName.Length == 0))
            throw Invalid($"{name} must be a plain email address such as alice@example.com.");
        return value;
    }

    static string? Text(JsonElement body, string name, int min, int max, bool required)
    {
        if (!body.TryGetProperty(name, out var element))
            return required ? throw Invalid($"{name} is required.") : null;
        if (element.ValueKind != JsonValueKind.String)
            throw Invalid($"{name} must be a string, not {Kind(element)}.");
        string value;
        try
        {
            value = element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Invalid($"{name} is not valid Unicode text.");
        }
        return Length(name, value, min, max);
    }

    /// <summary>Lengths count characters (Unicode code points), as JSON Schema's minLength and maxLength do.</summary>
    static string Length(string name, string value, int min, int max)
    {
        var length = value.EnumerateRunes().Count();
        return length >= min && length <= max ? value : throw Invalid($"{name} must be {min} to {max} characters, not {length}.");
    }

    static string OneOf(string name, string value, string[] allowed) =>
        allowed.Contains(value, StringComparer.Ordinal) ? value : throw Invalid($"{name} must be one of {string.Join(", ", allowed)}, not '{Shorten(value)}'.");

    static void OnlyFields(JsonElement body, params string[] known)
    {
        if (body.ValueKind != JsonValueKind.Object)
            throw Invalid($"The body must be a JSON object, not {Kind(body)}.");
        foreach (var property in body.EnumerateObject())
            if (!known.Contains(property.Name, StringComparer.Ordinal))
                throw Invalid($"Unknown field '{Shorten(property.Name)}'; the fields are {string.Join(", ", known)}.");
    }

    static string? Single(IReadOnlyDictionary<string, StringValues> form, string name) =>
        !form.TryGetValue(name, out var values) ? null : values.Count == 1 ? values[0] : throw Invalid($"{name} must be given once.");

    static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>What a caller sent, cut at 40 characters and with control characters shown as '?', to quote it in a detail.</summary>
    static string Shorten(string value)
    {
        var runes = value.EnumerateRunes().ToList();
        var shown = string.Concat(runes.Take(40).Select(r => Rune.IsControl(r) ? "?" : r.ToString()));
        return runes.Count > 40 ? shown + "…" : shown;
    }

    static InvalidShopRequestException Invalid(string detail) => new(detail);
}
