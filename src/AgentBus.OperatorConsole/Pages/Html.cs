using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using AgentBus.OperatorConsole.Identity;
using Microsoft.AspNetCore.Antiforgery;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>
/// The console's page frame and small pieces. Everything that comes from data is HTML-encoded; no script
/// runs on any page (the Content-Security-Policy forbids it), so every action is a plain form post.
/// </summary>
static class Html
{
    public static readonly (string Path, string Label)[] Sections =
    [
        ("/controls", "Controls"), ("/runs", "Runs"), ("/agents", "Agents and tools"), ("/dead-letters", "Dead letters"),
        ("/gates", "Gates and costs"), ("/audit", "Audit"),
    ];

    const string Style = """
        *{box-sizing:border-box} body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
        header{background:#1d2330;color:#fff;padding:.6rem 1.5rem;display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
        header a{color:#cfd6e4;text-decoration:none} header a.active{color:#fff;border-bottom:2px solid #7fb2ff}
        header .who{margin-left:auto;display:flex;gap:.8rem;align-items:center} header form{margin:0}
        main{max-width:88rem;margin:1.2rem auto;padding:0 1rem} h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:1.6rem}
        .card{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:1rem 1.2rem;margin-bottom:1rem}
        .notice{padding:.7rem 1rem;border-radius:6px;margin-bottom:1rem}.ok{background:#e3f6e8;border:1px solid #7ac48d}
        .error{background:#fde8e8;border:1px solid #e08a8a} .warn{background:#fff4d6;border:1px solid #e0c060}
        table{border-collapse:collapse;width:100%;font-size:.88rem;background:#fff} td,th{border-bottom:1px solid #e3e6eb;padding:.3rem .45rem;text-align:left;vertical-align:top}
        th{background:#eef0f4} .num{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#667} code,pre{font-size:.82rem}
        pre{background:#f0f2f5;padding:.5rem;overflow:auto;max-height:16rem;margin:.2rem 0}
        .badge{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.78rem;border:1px solid #aab}
        .b-ok,.b-pass,.b-succeeded,.b-allowed,.b-active{background:#e3f6e8;border-color:#7ac48d}
        .b-bad,.b-fail,.b-failed,.b-denied,.b-suspended,.b-broken{background:#fde8e8;border-color:#e08a8a}
        .b-warn,.b-running,.b-approval,.b-pending,.b-pending_approval,.b-approval_required,.b-verifying,.b-not_verified,.b-outcome_unknown{background:#fff4d6;border-color:#e0c060}
        form.inline{display:inline} input,select,button{font:inherit;padding:.25rem .5rem} button{border-radius:5px;border:1px solid #888;cursor:pointer;background:#fff}
        button.danger{background:#b93a3a;color:#fff;border-color:#b93a3a} button.primary{background:#2f6fd0;color:#fff;border-color:#2f6fd0}
        .filters{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end;margin-bottom:1rem} .filters label{display:flex;flex-direction:column;font-size:.8rem}
        td.cell a{display:block;white-space:nowrap} dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
        svg text{font-family:system-ui,sans-serif}
        """;

    public static string E(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    /// <summary>An encoded path segment or query value.</summary>
    public static string U(string text) => Uri.EscapeDataString(text);

    public static string When(DateTimeOffset? at) =>
        at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "—";

    public static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    public static string Usd(decimal? amount) => amount is { } a ? "$" + a.ToString("0.00####", CultureInfo.InvariantCulture) : "—";

    public static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Badge(string text, string? kind = null) =>
        $"<span class=\"badge b-{E((kind ?? text).Replace(' ', '_'))}\">{E(text)}</span>";

    public static string Cut(string? text, int max) => text is null ? "" : text.Length <= max ? text : text[..max] + "…";

    public static string Antiforgery(AntiforgeryTokenSet tokens) =>
        $"<input type=\"hidden\" name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken)}\">";

    public static string Notice(string? notice, string? kind) =>
        string.IsNullOrEmpty(notice) ? "" : $"<div class=\"notice {(kind == "ok" ? "ok" : "error")}\" role=\"status\" id=\"notice\">{E(notice)}</div>";

    public static string Page(string title, string section, ConsoleUser? user, AntiforgeryTokenSet? tokens, string body)
    {
        var html = new StringBuilder(body.Length + 4096);
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append($"<title>{E(title)} · AgentBus console</title><style>{Style}</style></head><body><header><strong>AgentBus console</strong>");
        if (user is not null)
        {
            html.Append("<nav>");
            foreach (var (path, label) in Sections)
                html.Append($"<a href=\"{path}\"{(path == section ? " class=\"active\"" : "")}>{E(label)}</a> ");
            html.Append("</nav><span class=\"who\"><span id=\"who\">").Append(E(user.Name)).Append(" <span class=\"muted\">(")
                .Append(E(string.Join(", ", user.Roles))).Append(")</span></span>");
            if (tokens is not null)
                html.Append($"<form method=\"post\" action=\"/signout\">{Antiforgery(tokens)}<button type=\"submit\" id=\"signout\">Sign out</button></form>");
            html.Append("</span>");
        }
        html.Append("</header><main>").Append(body).Append("</main></body></html>");
        return html.ToString();
    }

    public static IResult Ok(string page, int status = 200) => Results.Content(page, "text/html; charset=utf-8", statusCode: status);

    /// <summary>Post/redirect/get: the result of a change is shown on the page it came from, so a reload never repeats it.</summary>
    public static IResult Back(string path, bool ok, string notice)
    {
        var separator = path.Contains('?') ? '&' : '?';
        return Results.Redirect($"{path}{separator}kind={(ok ? "ok" : "error")}&notice={U(notice)}");
    }
}
