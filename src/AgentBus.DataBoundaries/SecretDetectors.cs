using System.Buffers;

namespace AgentBus.DataBoundaries;

/// <summary>
/// Credentials recognised by their own format: provider key prefixes, JWTs, PEM private-key blocks
/// and URLs with a password. One vectorised search finds every prefix at once; each hit is then
/// checked against its format (body alphabet and length, boundaries, the JWT header).
/// </summary>
static partial class Detectors
{
    static readonly SearchValues<char> Upper36 = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    static readonly SearchValues<char> Alnum = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    static readonly SearchValues<char> AlnumUnderscore = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    internal static readonly SearchValues<char> Base64Url = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    static readonly SearchValues<char> GitLab = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
    static readonly SearchValues<char> Slack = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
    static readonly SearchValues<char> Base64Padded = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
    static readonly SearchValues<char> Hex = SearchValues.Create("0123456789abcdefABCDEF");
    static readonly SearchValues<char> Letters = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    static readonly SearchValues<char> PemLabel = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ");
    static readonly SearchValues<char> Scheme = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-");
    static readonly SearchValues<char> UserInfoEnd = SearchValues.Create("/?#@ \t\r\n\"'<>\\");
    static readonly SearchValues<char> Host = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]");

    /// <summary>A provider's key: a fixed prefix, then <paramref name="Min"/>–<paramref name="Max"/> characters of <paramref name="Body"/>.</summary>
    internal sealed record KeyFormat(string Prefix, string Provider, string Class, SearchValues<char> Body, int Min, int Max, bool NeedsDigit = false);

    /// <summary>The key formats recognised, as documented in docs/data-boundaries.md.</summary>
    internal static readonly KeyFormat[] KeyFormats =
    [
        new("AKIA", "AWS access key id", DataClasses.AwsAccessKey, Upper36, 16, 16),
        new("ASIA", "AWS temporary access key id", DataClasses.AwsAccessKey, Upper36, 16, 16),
        new("ABIA", "AWS STS service bearer token id", DataClasses.AwsAccessKey, Upper36, 16, 16),
        new("ACCA", "AWS context-specific credential id", DataClasses.AwsAccessKey, Upper36, 16, 16),
        new("github_pat_", "GitHub fine-grained token", DataClasses.ApiKey, AlnumUnderscore, 60, 120),
        new("ghp_", "GitHub personal access token", DataClasses.ApiKey, Alnum, 36, 40),
        new("gho_", "GitHub OAuth token", DataClasses.ApiKey, Alnum, 36, 40),
        new("ghu_", "GitHub user-to-server token", DataClasses.ApiKey, Alnum, 36, 40),
        new("ghs_", "GitHub server-to-server token", DataClasses.ApiKey, Alnum, 36, 40),
        new("ghr_", "GitHub refresh token", DataClasses.ApiKey, Alnum, 36, 40),
        new("glpat-", "GitLab personal access token", DataClasses.ApiKey, GitLab, 20, 64),
        new("sk_live_", "Stripe secret key", DataClasses.ApiKey, Alnum, 16, 255),
        new("rk_live_", "Stripe restricted key", DataClasses.ApiKey, Alnum, 16, 255),
        new("sk_test_", "Stripe test-mode secret key", DataClasses.ApiKey, Alnum, 16, 255),
        new("rk_test_", "Stripe test-mode restricted key", DataClasses.ApiKey, Alnum, 16, 255),
        new("whsec_", "Stripe webhook signing secret", DataClasses.ApiKey, Base64Padded, 24, 88),
        new("xoxb-", "Slack bot token", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("xoxp-", "Slack user token", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("xoxa-", "Slack app token (legacy)", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("xoxr-", "Slack refresh token", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("xoxs-", "Slack session token", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("xoxe-", "Slack rotating token", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("xapp-", "Slack app-level token", DataClasses.ApiKey, Slack, 10, 255, NeedsDigit: true),
        new("sk-", "OpenAI / Anthropic key (sk-, sk-proj-, sk-svcacct-, sk-admin-, sk-ant-)", DataClasses.ApiKey, Base64Url, 32, 255, NeedsDigit: true),
        new("AIza", "Google API key", DataClasses.ApiKey, Base64Url, 35, 35),
        new("npm_", "npm access token", DataClasses.ApiKey, Alnum, 36, 36),
        new("hf_", "Hugging Face token", DataClasses.ApiKey, Letters, 30, 40),
        new("pypi-AgEIcHlwaS5vcmc", "PyPI API token", DataClasses.ApiKey, Base64Url, 50, 255),
        new("dop_v1_", "DigitalOcean personal access token", DataClasses.ApiKey, Hex, 64, 64),
        new("shpat_", "Shopify access token", DataClasses.ApiKey, Hex, 32, 32),
        new("shpss_", "Shopify shared secret", DataClasses.ApiKey, Hex, 32, 32),
        new("shpca_", "Shopify custom app token", DataClasses.ApiKey, Hex, 32, 32),
        new("shppa_", "Shopify private app token", DataClasses.ApiKey, Hex, 32, 32),
    ];

    const string PemBegin = "-----BEGIN ";
    const string JwtStart = "eyJ";
    const string SchemeSeparator = "://";
    const string SendGrid = "SG.";
    const string SlackWebhook = "hooks.slack.com/services/";

    static readonly SearchValues<string> SecretStarts = SearchValues.Create(
        [.. KeyFormats.Select(f => f.Prefix), PemBegin, JwtStart, SchemeSeparator, SendGrid, SlackWebhook], StringComparison.Ordinal);

    public static void Secrets(Inspection inspection, ReadOnlySpan<char> text)
    {
        var from = 0;
        while (from < text.Length)
        {
            var found = text[from..].IndexOfAny(SecretStarts);
            if (found < 0)
                return;
            var at = from + found;
            var end = MatchSecret(inspection, text, at);
            from = end > at ? end : at + 1;
        }
    }

    static int MatchSecret(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        var rest = text[at..];
        if (rest.StartsWith(SchemeSeparator))
            return PasswordInUrl(inspection, text, at);
        if (rest.StartsWith(PemBegin))
            return PrivateKey(inspection, text, at);
        if (rest.StartsWith(JwtStart))
            return Jwt(inspection, text, at);
        if (rest.StartsWith(SlackWebhook))
            return SlackWebhookUrl(inspection, text, at);
        if (!StartsWord(text, at))
            return -1;
        if (rest.StartsWith(SendGrid))
            return SendGridKey(inspection, text, at);
        foreach (var format in KeyFormats)
        {
            if (!rest.StartsWith(format.Prefix))
                continue;
            var bodyStart = at + format.Prefix.Length;
            var body = Run(text, bodyStart, format.Body);
            if (body < format.Min || body > format.Max || EndsInWord(text, bodyStart + body))
                continue;
            if (format.NeedsDigit && !HasDigitAndLetter(text.Slice(bodyStart, body)))
                continue;
            inspection.Report(format.Class, at, bodyStart + body);
            return bodyStart + body;
        }
        return -1;
    }

    /// <summary><c>-----BEGIN … PRIVATE KEY-----</c> (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … BLOCK); the span runs to its END line when there is one.</summary>
    static int PrivateKey(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        var labelStart = at + PemBegin.Length;
        var label = Run(text, labelStart, PemLabel);
        if (label > 40)
            return -1;
        var labelText = text.Slice(labelStart, label);
        if (!labelText.EndsWith("PRIVATE KEY") && !labelText.EndsWith("PRIVATE KEY BLOCK"))
            return -1;
        if (!text[(labelStart + label)..].StartsWith("-----"))
            return -1;
        var end = labelStart + label + 5;
        var endLine = text[end..].IndexOf("-----END ");
        if (endLine >= 0)
        {
            var close = text[(end + endLine + 9)..].IndexOf("-----");
            if (close >= 0)
                end = end + endLine + 9 + close + 5;
        }
        inspection.Report(DataClasses.PrivateKey, at, end);
        return end;
    }

    /// <summary>Three base64url segments; the first starts <c>eyJ</c> (<c>{"</c>) and decodes to a JSON header naming <c>alg</c> or <c>typ</c>.</summary>
    static int Jwt(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        if (at > 0 && (char.IsAsciiLetterOrDigit(text[at - 1]) || text[at - 1] is '_' or '-' or '.'))
            return -1;
        var header = Run(text, at, Base64Url);
        var payloadStart = at + header + 1;
        if (header < 10 || payloadStart >= text.Length || text[payloadStart - 1] != '.')
            return -1;
        var payload = Run(text, payloadStart, Base64Url);
        var signatureStart = payloadStart + payload + 1;
        if (payload < 2 || signatureStart > text.Length || text[signatureStart - 1] != '.')
            return -1;
        var end = signatureStart + Run(text, signatureStart, Base64Url);
        if (header > 1024 || !Decoders.JwtHeader(text.Slice(at, header)))
            return -1;
        inspection.Report(DataClasses.Jwt, at, end);
        return end;
    }

    /// <summary><c>scheme://user:password@host</c> with a non-empty password that is not a mask (<c>***</c>, <c>xxx</c>) or a placeholder (<c>${…}</c>, <c>{{…}}</c>, <c>&lt;…&gt;</c>).</summary>
    static int PasswordInUrl(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        var schemeStart = at;
        while (schemeStart > 0 && Scheme.Contains(text[schemeStart - 1]) && at - schemeStart < 32)
            schemeStart--;
        while (schemeStart < at && !char.IsAsciiLetter(text[schemeStart]))
            schemeStart++;
        if (at - schemeStart < 2)
            return -1;
        var userStart = at + 3;
        var userInfo = text[userStart..].IndexOfAny(UserInfoEnd);
        if (userInfo < 0 || userInfo > 256 || userStart + userInfo >= text.Length || text[userStart + userInfo] != '@')
            return -1;
        var credentials = text.Slice(userStart, userInfo);
        var colon = credentials.IndexOf(':');
        if (colon < 0)
            return -1;
        var password = credentials[(colon + 1)..];
        if (password.IsEmpty || IsPlaceholder(password))
            return -1;
        var hostStart = userStart + userInfo + 1;
        var host = Run(text, hostStart, Host);
        if (host == 0)
            return -1;
        inspection.Report(DataClasses.PasswordInUrl, schemeStart, hostStart + host);
        return hostStart + host;
    }

    static bool IsPlaceholder(ReadOnlySpan<char> password) =>
        password.IndexOfAnyExcept('*') < 0 || password.IndexOfAnyExcept('x', 'X') < 0 || password.IndexOfAnyExcept('.') < 0
        || password.StartsWith("${") || password.StartsWith("{{") || password.StartsWith("%7B", StringComparison.OrdinalIgnoreCase)
        || (password.StartsWith("<") && password.EndsWith(">")) || password.StartsWith("%3C", StringComparison.OrdinalIgnoreCase)
        || password.StartsWith("$(");

    /// <summary>SendGrid: <c>SG.</c> + 22 base64url + <c>.</c> + 43 base64url.</summary>
    static int SendGridKey(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        var first = Run(text, at + 3, Base64Url);
        var secondStart = at + 3 + first + 1;
        if (first != 22 || secondStart > text.Length || text[secondStart - 1] != '.')
            return -1;
        var second = Run(text, secondStart, Base64Url);
        if (second != 43 || EndsInWord(text, secondStart + second))
            return -1;
        inspection.Report(DataClasses.ApiKey, at, secondStart + second);
        return secondStart + second;
    }

    /// <summary>A Slack incoming-webhook URL path: <c>hooks.slack.com/services/T…/B…/secret</c>.</summary>
    static int SlackWebhookUrl(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        var position = at + SlackWebhook.Length;
        for (var part = 0; part < 3; part++)
        {
            var length = Run(text, position, part < 2 ? Upper36 : Alnum);
            if (length < 8 || (part == 0 && text[position] != 'T') || (part == 1 && text[position] != 'B'))
                return -1;
            position += length;
            if (part < 2)
            {
                if (position >= text.Length || text[position] != '/')
                    return -1;
                position++;
            }
        }
        // The span starts at the scheme when there is one, so that a URL split across fields is whole fragments.
        var start = text[..at].EndsWith("https://") ? at - 8 : text[..at].EndsWith("http://") ? at - 7 : at;
        inspection.Report(DataClasses.ApiKey, start, position);
        return position;
    }

    static int Run(ReadOnlySpan<char> text, int start, SearchValues<char> set)
    {
        if (start >= text.Length)
            return 0;
        var length = text[start..].IndexOfAnyExcept(set);
        return length < 0 ? text.Length - start : length;
    }

    static bool StartsWord(ReadOnlySpan<char> text, int at) => at == 0 || !char.IsAsciiLetterOrDigit(text[at - 1]);

    static bool EndsInWord(ReadOnlySpan<char> text, int end) => end < text.Length && char.IsAsciiLetterOrDigit(text[end]);

    static bool HasDigitAndLetter(ReadOnlySpan<char> body) => body.IndexOfAnyInRange('0', '9') >= 0 && body.IndexOfAny(Letters) >= 0;
}
