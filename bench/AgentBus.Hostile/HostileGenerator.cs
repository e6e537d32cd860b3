using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Contracts;

namespace AgentBus.Hostile;

/// <summary>
/// Deterministic hostile proposals: the same seed and index give the same bytes. Each category is a
/// generator with many variants; <see cref="Categories"/> lists them. Valid proposals have variants
/// too (hostile-looking text in free-text fields, odd headers and content types, a body of exactly the
/// size limit), because a gateway that refuses those is as broken as one that lets bad ones through.
/// </summary>
sealed partial class HostileGenerator(int seed, IReadOnlyList<string> agents, string victim, int maxBodyBytes)
{
    public const string Tool = "noop";
    public const string UngrantedTool = "restricted";

    /// <summary>A marker in every log-forging string: a log line that starts with it was forged.</summary>
    public const string ForgedMarker = "HOSTILE-FORGED";

    public static readonly string[] Categories =
    [
        "invalid-json", "invalid-utf8", "wrong-type", "missing-field", "extra-field", "huge", "deep-nesting",
        "unknown-tool", "spoofed-identity", "injection", "wrong-content-type", "schema-violation", "data-exfiltration",
    ];

    static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Strings that have hurt some system somewhere: SQL, shell, log forging, paths, markup, formats, unicode tricks.</summary>
    public static readonly string[] Injections =
    [
        "' OR '1'='1' --", "'; DROP TABLE audit_events; --", "\"; SELECT pg_sleep(30); --", "1; UPDATE execution_claims SET state='succeeded'",
        "$(touch /tmp/hostile-pwned)", "`id`", "; cat /etc/passwd", "| nc 127.0.0.1 4444", "&& curl http://127.0.0.1:1/x",
        $"line\r\n2026-11-24T00:00:00Z info: {ForgedMarker} Action approved by admin", $"\n{ForgedMarker} crit: forged", "\u001b[31mRED\u001b[0m\u001b[2J",
        "\u001b]0;pwned\u0007", "../../../../etc/passwd", "..\\..\\windows\\system32\\config", "/dev/zero", "file:///etc/shadow",
        "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg/onload=alert(1)>", "javascript:alert(1)",
        "%s%s%s%s%n", "{0}{1}{999}", "${jndi:ldap://127.0.0.1/a}", "{{7*7}}", "#{7*7}", "%00", "%0d%0aSet-Cookie: x=1",
        "\u202Egnp.exe", "a\u200Bb\u200Cc\u200Dd\u2060", "\u0000", "A\u0000B", "\uFEFFbom", "𝕳𝖊𝖑𝖑𝖔 🔥💣", "ｆｕｌｌｗｉｄｔｈ", "hоstile-a",
        "agentbus.tool.noop", "#", "*", "amq.rabbitmq.reply-to", "null", "undefined", "true", "NaN", "-1", "1e309",
        "ك\u0650تاب עברית", "\uD83D\uDE00\u0301\u0301\u0301", "\t\v\f\b",
    ];

    public IReadOnlyList<string> Agents => agents;

    // Not HashCode.Combine: it is seeded per process, and the same --seed must send the same bytes in every run.
    Random Rng(int index, int salt = 0) =>
        new((int)((((uint)seed * 2654435761u) ^ ((uint)index * 2246822519u) ^ ((uint)salt * 3266489917u)) & int.MaxValue));

    public string ActionId(int index)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"hostile:{seed}:{index}"));
        return new Guid(hash.AsSpan(0, 16)).ToString("D");
    }

    public string MessageId(int index) => $"hostile-{seed}-{index:D7}";

    int AgentOf(int index) => index % agents.Count;

    JsonObject Base(int index, bool valid)
    {
        var agent = agents[AgentOf(index)];
        return new JsonObject
        {
            ["actionId"] = ActionId(index),
            ["runId"] = $"{(valid ? "valid" : "bad")}-{seed}-r{index / 500:D4}",
            ["agentId"] = agent,
            ["tool"] = Tool,
            ["arguments"] = new JsonObject { ["n"] = index, ["note"] = valid ? "valid" : "hostile" },
            ["intent"] = valid ? "A well-behaved proposal." : "A hostile proposal.",
        };
    }

    static byte[] Bytes(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString(Relaxed));

    static string Text(JsonNode node) => node.ToJsonString(Relaxed);

    HostileCase Case(int index, string category, string variant, bool valid, byte[] body, string[] expected,
        UserIdMode userId = UserIdMode.Own, string? contentType = "application/json", string? messageIdSuffix = null,
        Dictionary<string, object?>? headers = null, string? spoofed = null, string? type = "ActionProposed", bool noMessageId = false,
        string? contentEncoding = null) => new()
    {
        Index = index,
        Category = category,
        Variant = variant,
        Valid = valid,
        Body = body,
        Agent = AgentOf(index),
        UserId = userId,
        SpoofedUserId = spoofed,
        ContentType = contentType,
        ContentEncoding = contentEncoding,
        MessageId = noMessageId ? null : MessageId(index) + messageIdSuffix,
        Headers = headers,
        Type = type,
        ActionId = ActionId(index),
        Expected = expected,
    };

    // ------------------------------------------------------------------ valid

    static readonly string[] ValidVariants =
        ["plain", "plain", "plain", "minimal", "nulls", "hostile-text", "unicode", "near-limit", "odd-content-type", "hostile-headers",
         "reordered", "escaped-keys", "no-message-id", "pretty", "look-alikes", "look-alikes"];

    public HostileCase Valid(int index)
    {
        var r = Rng(index, 1);
        var variant = ValidVariants[r.Next(ValidVariants.Length)];
        var p = Base(index, valid: true);
        var args = (JsonObject)p["arguments"]!;
        string[] allowed = ["allowed"];
        switch (variant)
        {
            case "minimal":
                p.Remove("intent");
                args.Remove("note");
                return Case(index, "valid", variant, true, Bytes(p), allowed);
            case "nulls":
                p["intent"] = null;
                p["idempotencyKey"] = null;
                return Case(index, "valid", variant, true, Bytes(p), allowed);
            case "hostile-text":
            {
                // Free-text fields may say anything within their limits: stored and shown, never interpreted.
                var text = Injections[r.Next(Injections.Length)];
                p["intent"] = text;
                args["note"] = text.Length <= 200 ? text : text[..200];
                // ... except what the contract forbids there: control characters in the key (it becomes an HTTP
                // header), NUL in the intent (PostgreSQL text cannot hold it).
                p["intent"] = text.Replace("\0", "", StringComparison.Ordinal);
                p["idempotencyKey"] = Clip($"{new string(text.Where(ch => !char.IsControl(ch)).ToArray())}-{index}", 200);
                return Case(index, "valid", variant, true, Bytes(p), allowed);
            }
            case "unicode":
                p["intent"] = "Rückerstattung für 客户 — ключ ✓ 🚀 \u05e2\u05d1\u05e8\u05d9\u05ea";
                args["note"] = "café ☕ 𝄞 é (e + combining acute)";
                return Case(index, "valid", variant, true, Bytes(p), allowed);
            case "near-limit":
            {
                // A body of exactly the limit, or just under: allowed (only larger bodies are too large).
                var target = r.Next(2) == 0 ? maxBodyBytes : maxBodyBytes - r.Next(1, 200);
                args["blob"] = "";
                var overhead = Bytes(p).Length;
                args["blob"] = new string('b', target - overhead);
                var body = Bytes(p);
                return Case(index, "valid", $"near-limit ({(body.Length == maxBodyBytes ? "exactly" : "just under")} {maxBodyBytes} B)", true, body, allowed);
            }
            case "odd-content-type":
            {
                string?[] types = [null, "text/plain", "application/xml", "application/octet-stream", "application/json; charset=utf-8"];
                var ct = types[r.Next(types.Length)];
                return Case(index, "valid", $"content type {ct ?? "(none)"}", true, Bytes(p), allowed, contentType: ct);
            }
            case "hostile-headers":
            {
                var headers = new Dictionary<string, object?>
                {
                    ["MT-Activity-Id"] = r.Next(2) == 0 ? "00-zzzz-not-a-traceparent-01" : new string('f', 2000),
                    ["AgentBus-Broker-User-Id"] = victim,
                    ["agentbus-broker-user-id"] = victim,
                    ["MT-Redelivery-Count"] = "not-a-number",
                    ["MT-Fault-Message"] = "forged fault",
                    ["x-death"] = "forged",
                    ["MT-Host-MachineName"] = Injections[r.Next(Injections.Length)],
                    ["X-Big"] = new string('h', 8000),
                };
                return Case(index, "valid", "hostile headers", true, Bytes(p), allowed, headers: headers,
                    type: Injections[r.Next(Injections.Length)]);
            }
            case "reordered":
            {
                var reordered = new JsonObject();
                foreach (var (key, value) in p.OrderByDescending(kv => kv.Key, StringComparer.Ordinal).ToList())
                {
                    p.Remove(key);
                    reordered[key] = value;
                }
                return Case(index, "valid", variant, true, Bytes(reordered), allowed);
            }
            case "escaped-keys":
            {
                // "\u0061ctionId" is "actionId": JSON escapes in names are names.
                var text = Text(p).Replace("\"actionId\"", "\"\\u0061ctionId\"", StringComparison.Ordinal)
                    .Replace("\"tool\"", "\"t\\u006fol\"", StringComparison.Ordinal);
                return Case(index, "valid", variant, true, Encoding.UTF8.GetBytes(text), allowed);
            }
            case "no-message-id":
                return Case(index, "valid", variant, true, Bytes(p), allowed, noMessageId: true);
            case "look-alikes":
            {
                var (label, note, data) = LookAlikes(index, r);
                args["note"] = note;
                args[DataArgument] = data;
                return Case(index, "valid", $"look-alikes: {label}", true, Bytes(p), allowed);
            }
            case "pretty":
                return Case(index, "valid", variant, true,
                    Encoding.UTF8.GetBytes("\n\t " + p.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\r\n  "), allowed);
            default:
                return Case(index, "valid", "plain", true, Bytes(p), allowed);
        }
    }

    // ------------------------------------------------------------------ bad

    public HostileCase Bad(int index, string category)
    {
        var r = Rng(index, 2);
        return category switch
        {
            "invalid-json" => InvalidJson(index, r),
            "invalid-utf8" => InvalidUtf8(index, r),
            "wrong-type" => WrongType(index, r),
            "missing-field" => MissingField(index, r),
            "extra-field" => ExtraField(index, r),
            "huge" => Huge(index, r),
            "deep-nesting" => DeepNesting(index, r),
            "unknown-tool" => UnknownTool(index, r),
            "spoofed-identity" => SpoofedIdentity(index, r),
            "injection" => Injection(index, r),
            "wrong-content-type" => WrongContentType(index, r),
            "schema-violation" => SchemaViolation(index, r),
            "data-exfiltration" => DataExfiltration(index, r),
            _ => throw new ArgumentOutOfRangeException(nameof(category), category, null),
        };
    }

    static readonly string[] InvalidJsonCode = [ReasonCodes.InvalidJson];

    HostileCase InvalidJson(int index, Random r)
    {
        var p = Base(index, valid: false);
        var text = Text(p);
        const string c = "invalid-json";
        switch (r.Next(16))
        {
            case 0: return Case(index, c, "empty body", false, [], InvalidJsonCode);
            case 1: return Case(index, c, "whitespace only", false, " \r\n\t "u8.ToArray(), InvalidJsonCode);
            case 2: return Case(index, c, "truncated", false, Encoding.UTF8.GetBytes(text[..r.Next(1, text.Length - 1)]), InvalidJsonCode);
            case 3:
            {
                var garbage = new byte[r.Next(1, 2000)];
                for (var i = 0; i < garbage.Length; i++)
                    garbage[i] = (byte)r.Next(0x20, 0x7f);
                return Case(index, c, "printable garbage", false, garbage, InvalidJsonCode);
            }
            case 4: return Case(index, c, "UTF-8 byte order mark", false, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)], InvalidJsonCode);
            case 5:
            {
                string[] specials = ["NaN", "Infinity", "-Infinity", "0x10", "01", "+1", ".5", "1.", "undefined"];
                var special = specials[r.Next(specials.Length)];
                return Case(index, c, $"number {special}", false, Encoding.UTF8.GetBytes(text.Replace($"\"n\":{index}", $"\"n\":{special}", StringComparison.Ordinal)), InvalidJsonCode);
            }
            case 6: return Case(index, c, "trailing comma", false, Encoding.UTF8.GetBytes(text[..^1] + ",}"), InvalidJsonCode);
            case 7: return Case(index, c, "comment", false, Encoding.UTF8.GetBytes("/* approved */" + text), InvalidJsonCode);
            case 8: return Case(index, c, "single quotes", false, Encoding.UTF8.GetBytes(text.Replace('"', '\'')), InvalidJsonCode);
            case 9:
            {
                string[] roots = [$"[{text}]", "\"a string\"", "42", "null", "true", "[]"];
                return Case(index, c, "not an object", false, Encoding.UTF8.GetBytes(roots[r.Next(roots.Length)]), InvalidJsonCode);
            }
            case 10: return Case(index, c, "two objects", false, Encoding.UTF8.GetBytes(text + text), InvalidJsonCode);
            case 11: return Case(index, c, "raw control character in a string", false,
                Encoding.UTF8.GetBytes(text.Replace("A hostile proposal.", "A hostile\nproposal.\u0001", StringComparison.Ordinal)), InvalidJsonCode);
            case 12:
            {
                // A parser differential: one reader takes the first agentId, another the last.
                var first = r.Next(2) == 0 ? "\"agentId\":\"" + victim + "\"," : "\"tool\":\"" + UngrantedTool + "\",";
                return Case(index, c, "duplicate keys", false, Encoding.UTF8.GetBytes("{" + first + text[1..]), InvalidJsonCode);
            }
            case 13: return Case(index, c, "unquoted keys", false, Encoding.UTF8.GetBytes(text.Replace("\"actionId\"", "actionId", StringComparison.Ordinal)), InvalidJsonCode);
            case 14: return Case(index, c, "lone surrogate escape", false,
                Encoding.UTF8.GetBytes(text.Replace("A hostile proposal.", "\\ud800 lone", StringComparison.Ordinal)), []);
            default: return Case(index, c, "NUL bytes", false, [0, 0, 0, .. Encoding.UTF8.GetBytes(text)], InvalidJsonCode);
        }
    }

    static readonly byte[][] BadUtf8 =
    [
        [0xC0, 0xAF], [0x80], [0xBF, 0xBF], [0xED, 0xA0, 0x80], [0xFF], [0xFE], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xE9], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ];

    HostileCase InvalidUtf8(int index, Random r)
    {
        var p = Base(index, valid: false);
        var text = Text(p);
        var bad = BadUtf8[r.Next(BadUtf8.Length)];
        var hex = Convert.ToHexString(bad);
        const string c = "invalid-utf8";
        string[] code = [ReasonCodes.InvalidUtf8];
        switch (r.Next(5))
        {
            case 0:
            {
                var at = text.IndexOf("hostile proposal", StringComparison.Ordinal);
                return Case(index, c, $"{hex} in a string value", false,
                    [.. Encoding.UTF8.GetBytes(text[..at]), .. bad, .. Encoding.UTF8.GetBytes(text[at..])], code);
            }
            case 1:
            {
                var at = text.IndexOf("ntent", StringComparison.Ordinal);
                return Case(index, c, $"{hex} in a field name", false,
                    [.. Encoding.UTF8.GetBytes(text[..at]), .. bad, .. Encoding.UTF8.GetBytes(text[at..])], code);
            }
            case 2: return Case(index, c, $"{hex} before the body", false, [.. bad, .. Encoding.UTF8.GetBytes(text)], code);
            case 3: return Case(index, c, $"{hex} after the body", false, [.. Encoding.UTF8.GetBytes(text), .. bad], code);
            default:
            {
                var utf16 = r.Next(2) == 0;
                return utf16
                    ? Case(index, c, "UTF-16 with byte order mark", false, [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(text)], code)
                    : Case(index, c, "Latin-1", false, Encoding.Latin1.GetBytes(text.Replace("hostile", "hôstile", StringComparison.Ordinal)), code);
            }
        }
    }

    static readonly string[] RequiredStrings = ["actionId", "runId", "agentId", "tool"];
    static readonly string[] OptionalStrings = ["intent", "idempotencyKey"];

    HostileCase WrongType(int index, Random r)
    {
        var p = Base(index, valid: false);
        const string c = "wrong-type";
        string[] fields = [.. RequiredStrings, .. OptionalStrings, "arguments"];
        var field = fields[r.Next(fields.Length)];
        if (field == "arguments")
        {
            JsonNode?[] values = [JsonValue.Create("n=1"), JsonValue.Create(1), JsonValue.Create(true), new JsonArray(1, 2), null, JsonValue.Create("")];
            var value = values[r.Next(values.Length)];
            p["arguments"] = value;
            return Case(index, c, $"arguments: {Kind(value)}", false, Bytes(p), [ReasonCodes.InvalidFieldType]);
        }
        JsonNode?[] wrong = [JsonValue.Create(123), JsonValue.Create(-1.5), JsonValue.Create(true), JsonValue.Create(false), new JsonArray("x"),
            new JsonObject { ["a"] = 1 }, new JsonArray(), JsonValue.Create(1e300)];
        var v = wrong[r.Next(wrong.Length)];
        p[field] = v;
        return Case(index, c, $"{field}: {Kind(v)}", false, Bytes(p), [ReasonCodes.InvalidFieldType]);
    }

    static string Kind(JsonNode? node) => node?.GetValueKind().ToString().ToLowerInvariant() ?? "null";

    HostileCase MissingField(int index, Random r)
    {
        var p = Base(index, valid: false);
        const string c = "missing-field";
        string[] missing = [ReasonCodes.MissingField];
        switch (r.Next(4))
        {
            case 0:
            {
                string[] fields = [.. RequiredStrings, "arguments"];
                var field = fields[r.Next(fields.Length)];
                p.Remove(field);
                return Case(index, c, $"{field} absent", false, Bytes(p), missing);
            }
            case 1:
            {
                var field = RequiredStrings[r.Next(RequiredStrings.Length)];
                p[field] = null;
                return Case(index, c, $"{field} null", false, Bytes(p), missing);
            }
            case 2:
            {
                var field = RequiredStrings[r.Next(RequiredStrings.Length)];
                p[field] = r.Next(2) == 0 ? "" : "   ";
                // "   " is not empty: a name outside its alphabet.
                return Case(index, c, $"{field} empty or blank", false, Bytes(p), [ReasonCodes.MissingField, ReasonCodes.InvalidField]);
            }
            default:
                return Case(index, c, "empty object", false, "{}"u8.ToArray(), missing);
        }
    }

    static readonly string[] ExtraKeys =
    [
        "approved", "ActionId", "AGENTID", "agentid", "decision", "reasonCode", "policyVersion", "$type", "__proto__", "constructor", "",
        "userId", "user_id", "signature", "authorization", "budget", "priority", "tool ", "actionId\u0000", "\u202Etool",
    ];

    HostileCase ExtraField(int index, Random r)
    {
        var p = Base(index, valid: false);
        const string c = "extra-field";
        if (r.Next(8) == 0)
        {
            for (var i = 0; i < 1000; i++)
                p[$"x{i}"] = i;
            return Case(index, c, "1000 extra fields", false, Bytes(p), [ReasonCodes.UnknownField]);
        }
        var key = r.Next(6) == 0 ? Injections[r.Next(Injections.Length)] : ExtraKeys[r.Next(ExtraKeys.Length)];
        p[key] = key switch
        {
            "$type" => "System.Diagnostics.Process, System",
            "__proto__" => new JsonObject { ["admin"] = true },
            "decision" => "allowed",
            "userId" => victim,
            _ => JsonValue.Create(true),
        };
        return Case(index, c, $"extra '{Printable(key)}'", false, Bytes(p), [ReasonCodes.UnknownField]);
    }

    HostileCase Huge(int index, Random r)
    {
        var p = Base(index, valid: false);
        var args = (JsonObject)p["arguments"]!;
        const string c = "huge";
        var pick = r.Next(20);
        if (pick < 9)
        {
            // Bodies over the limit, from one byte over to megabytes (rarely, to keep the run's memory sane).
            int target = pick switch
            {
                0 or 1 => maxBodyBytes + 1,
                2 or 3 => maxBodyBytes + r.Next(2, 4096),
                4 or 5 => maxBodyBytes * 2,
                6 => 1024 * 1024 + 1,
                7 => index % 10 == 0 ? 4 * 1024 * 1024 : 300_000,
                _ => index % 50 == 0 ? 16 * 1024 * 1024 : 500_000,
            };
            p["intent"] = "";
            var overhead = Bytes(p).Length;
            p["intent"] = new string('i', target - overhead);
            var body = Bytes(p);
            return Case(index, c, body.Length == maxBodyBytes + 1 ? "limit + 1 byte" : $"{Size(body.Length)} body", false, body,
                [ReasonCodes.PayloadTooLarge, "broker_refused"]);
        }
        switch (pick)
        {
            case 9: p["runId"] = new string('r', 129); return Case(index, c, "runId of 129 characters", false, Bytes(p), [ReasonCodes.InvalidField]);
            case 10: p["intent"] = new string('i', 2001); return Case(index, c, "intent of 2001 characters", false, Bytes(p), [ReasonCodes.InvalidField]);
            case 11: p["idempotencyKey"] = new string('k', 201); return Case(index, c, "idempotencyKey of 201 characters", false, Bytes(p), [ReasonCodes.InvalidField]);
            case 12: p["tool"] = new string('t', 65); return Case(index, c, "tool of 65 characters", false, Bytes(p), [ReasonCodes.InvalidField]);
            case 13: p["agentId"] = new string('a', 30_000); return Case(index, c, "agentId of 30000 characters", false, Bytes(p), [ReasonCodes.InvalidField]);
            case 14: args["note"] = new string('b', 60_000); return Case(index, c, "argument of 60000 over its maxLength of 200", false, Bytes(p), [ReasonCodes.InvalidArguments]);
            case 15:
            {
                var array = new JsonArray();
                for (var i = 0; i < 15_000; i++)
                    array.Add(i % 10);
                args["note"] = array;
                return Case(index, c, "array of 15000 numbers", false, Bytes(p), [ReasonCodes.InvalidArguments]);
            }
            case 16:
            {
                for (var i = 0; i < 5000; i++)
                    args[$"k{i}"] = 1;
                return Case(index, c, "5000 argument fields", false, Bytes(p), [ReasonCodes.InvalidArguments]);
            }
            case 17: args["n"] = JsonValue.Create(decimal.MaxValue); return Case(index, c, "n = 79228162514264337593543950335 (over its maximum)", false,
                Bytes(p), [ReasonCodes.InvalidArguments]);
            case 18:
            {
                var text = Text(p).Replace($"\"n\":{index}", "\"n\":1" + new string('0', 20_000), StringComparison.Ordinal);
                return Case(index, c, "n with 20000 digits", false, Encoding.UTF8.GetBytes(text), [ReasonCodes.InvalidField]);
            }
            default:
            {
                var text = Text(p).Replace($"\"n\":{index}", "\"n\":1e999999", StringComparison.Ordinal);
                return Case(index, c, "n = 1e999999", false, Encoding.UTF8.GetBytes(text), [ReasonCodes.InvalidField]);
            }
        }
    }

    static string Size(int bytes) => bytes >= 1024 * 1024 ? $"{bytes / 1024.0 / 1024:0.#} MiB" : $"{bytes / 1024.0:0.#} KiB";

    HostileCase DeepNesting(int index, Random r)
    {
        var p = Base(index, valid: false);
        var text = Text(p);
        const string c = "deep-nesting";
        int[] depths = [10_000, 10_000, 1000, 100, 65, 63, 62, 30_000];
        var depth = depths[r.Next(depths.Length)];
        var objects = r.Next(2) == 0;
        var open = objects ? string.Concat(Enumerable.Repeat("{\"a\":", depth)) : new string('[', depth);
        var close = objects ? new string('}', depth) : new string(']', depth);
        var where = r.Next(3);
        var unclosed = r.Next(8) == 0;
        var nested = open + "1" + (unclosed ? "" : close);
        // Depth counts the top-level object as 1: arguments.note at n levels is 2 + n deep; the parser allows 64.
        string replaced;
        int total;
        switch (where)
        {
            case 0: replaced = text.Replace("\"note\":\"hostile\"", "\"note\":" + nested, StringComparison.Ordinal); total = 2 + depth; break;
            case 1: replaced = text.Replace("\"intent\":\"A hostile proposal.\"", "\"intent\":" + nested, StringComparison.Ordinal); total = 1 + depth; break;
            default: replaced = text[..^1] + ",\"x\":" + nested + "}"; total = 1 + depth; break;
        }
        string[] expected = unclosed || total > 64 ? InvalidJsonCode
            : where switch { 0 => [ReasonCodes.InvalidArguments], 1 => [ReasonCodes.InvalidFieldType], _ => [ReasonCodes.UnknownField] };
        var body = Encoding.UTF8.GetBytes(replaced);
        if (body.Length > maxBodyBytes)
            expected = [ReasonCodes.PayloadTooLarge];
        return Case(index, c, $"{(objects ? "objects" : "arrays")} {depth} deep in {(where switch { 0 => "arguments", 1 => "intent", _ => "an extra field" })}{(unclosed ? ", unclosed" : "")}",
            false, body, expected);
    }

    static readonly string[] UnknownTools = ["no-such-tool", "noop2", "noop-", "n00p", "http", "agentbus-policy", "payments", "ticketing", "x"];
    static readonly string[] InvalidTools = ["NOOP", "noop ", " noop", "*", "#", "noop.#", "../noop", "noop\n", "nоop", "no\u200Bop", "-noop", "noop\u0000", "agentbus.tool.noop/../x"];

    HostileCase UnknownTool(int index, Random r)
    {
        var p = Base(index, valid: false);
        const string c = "unknown-tool";
        switch (r.Next(5))
        {
            case 0 or 1:
            {
                var tool = UnknownTools[r.Next(UnknownTools.Length)] + (r.Next(2) == 0 ? "" : $"-{r.Next(1000)}");
                p["tool"] = tool;
                return Case(index, c, "tool not in the policy", false, Bytes(p), [ReasonCodes.UnknownTool]);
            }
            case 2:
                p["tool"] = UngrantedTool;
                return Case(index, c, "tool in the policy, no grant", false, Bytes(p), [ReasonCodes.NoGrant]);
            default:
            {
                var tool = InvalidTools[r.Next(InvalidTools.Length)];
                p["tool"] = tool;
                return Case(index, c, $"tool name '{Printable(tool)}'", false, Bytes(p), [ReasonCodes.InvalidField]);
            }
        }
    }

    HostileCase SpoofedIdentity(int index, Random r)
    {
        var p = Base(index, valid: false);
        var own = agents[AgentOf(index)];
        var other = agents[(AgentOf(index) + 1) % agents.Count];
        const string c = "spoofed-identity";
        switch (r.Next(10))
        {
            case 0 or 1:
                p["agentId"] = victim;
                return Case(index, c, "agentId of another agent in the policy", false, Bytes(p), [ReasonCodes.IdentityMismatch]);
            case 2:
                p["agentId"] = other;
                return Case(index, c, "agentId of a fellow agent", false, Bytes(p), [ReasonCodes.IdentityMismatch]);
            case 3:
            {
                string[] names = ["agentbus-policy", "agentbus-operator", "guest", "nobody-here", "admin"];
                p["agentId"] = names[r.Next(names.Length)];
                return Case(index, c, $"agentId '{p["agentId"]}'", false, Bytes(p), [ReasonCodes.IdentityMismatch]);
            }
            case 4:
                return Case(index, c, "no user_id", false, Bytes(p), [ReasonCodes.IdentityMissing], userId: UserIdMode.Missing);
            case 5:
                p["agentId"] = victim;
                return Case(index, c, "no user_id, the victim's agentId and identity header", false, Bytes(p), [ReasonCodes.IdentityMissing],
                    userId: UserIdMode.Missing, headers: new() { ["AgentBus-Broker-User-Id"] = victim });
            case 6:
                return Case(index, c, "no user_id, malformed body", false, Encoding.UTF8.GetBytes(Text(p)[..40]), [ReasonCodes.InvalidJson],
                    userId: UserIdMode.Missing);
            default:
            {
                string[] users = [victim, other, "agentbus-policy", own.ToUpperInvariant(), own + " ", ""];
                var user = users[r.Next(users.Length)];
                return Case(index, c, $"user_id '{user}' (not the login)", false, Bytes(p), ["broker_refused", ReasonCodes.IdentityMissing],
                    userId: UserIdMode.Spoofed, spoofed: user);
            }
        }
    }

    HostileCase Injection(int index, Random r)
    {
        var p = Base(index, valid: false);
        var args = (JsonObject)p["arguments"]!;
        const string c = "injection";
        var text = Injections[r.Next(Injections.Length)];
        Dictionary<string, object?>? headers = r.Next(4) == 0
            ? new() { ["X-Injection"] = text, ["MT-Activity-Id"] = text, ["MT-Activity-Correlation-Context"] = text }
            : null;
        var suffix = r.Next(4) == 0 ? "|" + Clip(text, 60) : null;
        var type = r.Next(4) == 0 ? Clip(text, 100) : "ActionProposed";
        switch (r.Next(9))
        {
            case 0 or 1 or 2 or 3:
            {
                // "null", "NaN" or "1e309" are fine run ids (and well-formed names): only strings outside the alphabet are hostile here.
                while (PlainAlphabet().IsMatch(text))
                    text = Injections[r.Next(Injections.Length)];
                var field = RequiredStrings[r.Next(RequiredStrings.Length)];
                p[field] = text;
                string[] expected = [ReasonCodes.InvalidField];
                return Case(index, c, $"{field}: {Printable(text)}", false, Bytes(p), expected, headers: headers, messageIdSuffix: suffix, type: type);
            }
            case 4:
                args["n"] = text;
                return Case(index, c, $"arguments.n: {Printable(text)}", false, Bytes(p), [ReasonCodes.InvalidArguments], headers: headers, messageIdSuffix: suffix, type: type);
            case 5:
                args[text] = 1;
                return Case(index, c, $"arguments key: {Printable(text)}", false, Bytes(p), [ReasonCodes.InvalidArguments], headers: headers, messageIdSuffix: suffix, type: type);
            case 6:
                p["intent"] = string.Concat(Enumerable.Repeat(text, 2001 / Math.Max(1, text.Length) + 1));
                return Case(index, c, $"intent over 2000: {Printable(text)}", false, Bytes(p), [ReasonCodes.InvalidField], headers: headers, messageIdSuffix: suffix, type: type);
            case 7:
                p["idempotencyKey"] = string.Concat(Enumerable.Repeat(text, 201 / Math.Max(1, text.Length) + 1));
                return Case(index, c, $"idempotencyKey over 200: {Printable(text)}", false, Bytes(p), [ReasonCodes.InvalidField], headers: headers, messageIdSuffix: suffix, type: type);
            default:
                // JSON Schema's maxLength counts code points, not UTF-16 units.
                args["note"] = string.Concat(Enumerable.Repeat(text, 201 / Math.Max(1, text.EnumerateRunes().Count()) + 1));
                return Case(index, c, $"arguments.note over 200: {Printable(text)}", false, Bytes(p), [ReasonCodes.InvalidArguments], headers: headers, messageIdSuffix: suffix, type: type);
        }
    }

    HostileCase WrongContentType(int index, Random r)
    {
        var p = Base(index, valid: false);
        var text = Text(p);
        const string c = "wrong-content-type";
        switch (r.Next(7))
        {
            case 0:
            {
                // MassTransit's own envelope: agents speak plain JSON, so its fields are unknown.
                var envelope = new JsonObject
                {
                    ["messageId"] = ActionId(index),
                    ["messageType"] = new JsonArray("urn:message:AgentBus.Contracts:ActionProposed"),
                    ["message"] = JsonNode.Parse(text),
                };
                return Case(index, c, "MassTransit envelope", false, Bytes(envelope), [ReasonCodes.UnknownField],
                    contentType: "application/vnd.masstransit+json");
            }
            case 1:
                return Case(index, c, "XML", false, Encoding.UTF8.GetBytes($"<ActionProposed><actionId>{ActionId(index)}</actionId><tool>noop</tool></ActionProposed>"),
                    InvalidJsonCode, contentType: "application/xml");
            case 2:
                return Case(index, c, "form data", false, Encoding.UTF8.GetBytes($"actionId={ActionId(index)}&tool=noop&arguments=%7B%7D"),
                    InvalidJsonCode, contentType: "application/x-www-form-urlencoded");
            case 3:
            {
                using var buffer = new MemoryStream();
                using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
                    gzip.Write(Encoding.UTF8.GetBytes(text));
                return Case(index, c, "gzip-compressed JSON", false, buffer.ToArray(), [ReasonCodes.InvalidUtf8, ReasonCodes.InvalidJson],
                    contentEncoding: "gzip");
            }
            case 4:
                return Case(index, c, "BSON content type", false, [0x16, 0, 0, 0, 2, (byte)'t', 0, 5, 0, 0, 0, (byte)'n', (byte)'o', (byte)'o', (byte)'p', 0, 0],
                    [ReasonCodes.InvalidJson], contentType: "application/vnd.masstransit+bson");
            case 5:
                return Case(index, c, "UTF-16 JSON with a charset", false, Encoding.Unicode.GetBytes(text), [ReasonCodes.InvalidJson],
                    contentType: "application/json; charset=utf-16");
            default:
                return Case(index, c, "no content type, YAML body", false, Encoding.UTF8.GetBytes($"actionId: {ActionId(index)}\ntool: noop\n"),
                    InvalidJsonCode, contentType: null);
        }
    }

    HostileCase SchemaViolation(int index, Random r)
    {
        var p = Base(index, valid: false);
        var args = (JsonObject)p["arguments"]!;
        const string c = "schema-violation";
        string variant;
        switch (r.Next(10))
        {
            case 0: args["n"] = -1 - r.Next(1000); variant = "n below its minimum"; break;
            case 1: args["n"] = index.ToString(); variant = "n a string"; break;
            case 2: args["n"] = index + 0.5; variant = "n a fraction"; break;
            case 3: args["n"] = null; variant = "n null"; break;
            case 4: args.Remove("n"); variant = "n missing"; break;
            case 5: p["arguments"] = new JsonObject(); variant = "no arguments at all"; break;
            case 6: args["note"] = new string('x', 201); variant = "note over its maxLength"; break;
            case 7: args["note"] = 5; variant = "note a number"; break;
            case 8: args["command"] = "rm -rf /"; variant = "an argument the schema does not name"; break;
            default: args["n"] = true; variant = "n a boolean"; break;
        }
        return Case(index, c, variant, false, Bytes(p), [ReasonCodes.InvalidArguments]);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:-]*\z")]
    private static partial System.Text.RegularExpressions.Regex PlainAlphabet();

    static string Clip(string text, int max) => text.Length <= max ? text : text[..max];

    /// <summary>A label for the report: control characters and invisible ones shown as escapes, long strings cut.</summary>
    public static string Printable(string text)
    {
        var builder = new StringBuilder();
        foreach (var ch in Clip(text, 40))
            builder.Append(char.IsControl(ch) || ch is '\u200B' or '\u200C' or '\u200D' or '\u2060' or '\u202E' or '\uFEFF' || char.IsSurrogate(ch)
                ? $"\\u{(int)ch:x4}" : ch.ToString());
        return text.Length > 40 ? builder + "…" : builder.ToString();
    }
}
