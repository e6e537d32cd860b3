using System.Globalization;
using System.Text;
using AgentBus.Audit.Gates;
using AgentBus.Audit.Reports;
using AgentBus.OperatorConsole.Identity;
using Microsoft.AspNetCore.Antiforgery;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>Whether each workflow (agent and tool) may leave pilot, how that moved week by week, and what a successful run costs over time.</summary>
static class GatesPage
{
    static readonly string[] Gates =
        [GateNames.CompletionRate, GateNames.CriticalErrorRate, GateNames.CostPerSuccessfulRun, GateNames.AuditCoverage, GateNames.UnapprovedWriteGrants];

    static readonly string[] Palette = ["#2f6fd0", "#d0562f", "#2f8f4e", "#7a4fd0", "#b0902f", "#2fa3b0", "#b93a7a", "#556070"];

    public static IEndpointRouteBuilder MapGatesPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/gates", (HttpContext http, GatesBoard board, IAntiforgery antiforgery) =>
        {
            var user = ConsoleUser.From(http.User);
            board.Touch();
            var html = new StringBuilder("<h1>Gates and costs</h1>");
            if (board.Error is { } error)
                html.Append($"<div class=\"notice error\" id=\"notice\">The last computation failed: {Html.E(error)}</div>");
            if (board.Snapshot is not { } snapshot)
                html.Append("<p id=\"computing\">The gates are being computed for the first time; reload in a moment.</p>");
            else
                Render(html, snapshot);
            return Html.Ok(Html.Page("Gates and costs", "/gates", user, antiforgery.GetAndStoreTokens(http), html.ToString()));
        }).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        return app;
    }

    static void Render(StringBuilder html, GatesSnapshot snapshot)
    {
        var report = snapshot.Report;
        html.Append($"<p class=\"muted\" id=\"computed\">Since {Html.When(report.Since)} UTC; computed at {Html.When(snapshot.ComputedAt)} UTC ")
            .Append($"in {snapshot.Took.TotalMilliseconds:0} ms, the same figures as <code>agentbus gates</code>. Trend: each of the last {GatesBoard.TrendWeeks} weeks, oldest first.</p>");
        html.Append(report.Rows.Count == 0
            ? "<p id=\"verdict\">No agent has activity or grants in the window.</p>"
            : report.Passed
                ? $"<p id=\"verdict\">{Html.Badge("all gates pass", "pass")}</p>"
                : $"<p id=\"verdict\">{Html.Badge($"{report.Rows.Count(r => !r.Passed)} workflow(s) not ready for autopilot", "fail")}</p>");
        html.Append("<table id=\"gates\"><thead><tr><th>agent</th><th>tool</th><th class=\"num\">runs</th>");
        foreach (var gate in Gates)
            html.Append($"<th>{Html.E(gate.Replace('_', ' '))}</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in report.Rows.OrderBy(r => r.Facts.AgentId, StringComparer.Ordinal).ThenBy(r => r.Facts.Tool ?? "", StringComparer.Ordinal))
        {
            var f = row.Facts;
            html.Append($"<tr data-agent=\"{Html.E(f.AgentId)}\" data-tool=\"{Html.E(f.Tool ?? "(all)")}\"><td>{Html.E(f.AgentId)}</td>")
                .Append($"<td>{(f.Tool is null ? "<strong>(all)</strong>" : Html.E(f.Tool))}</td><td class=\"num\">{f.Runs}</td>");
            foreach (var gate in Gates)
            {
                var result = row.Results.FirstOrDefault(r => r.Gate == gate);
                var trend = snapshot.Trend.Select(p => p.Report.Rows.FirstOrDefault(r => r.Facts.AgentId == f.AgentId && r.Facts.Tool == f.Tool)
                    ?.Results.FirstOrDefault(r => r.Gate == gate)?.Value).ToList();
                html.Append("<td>");
                if (result is not null)
                    html.Append(Status(result)).Append(' ').Append(Value(gate, result.Value))
                        .Append(result.Target is { } target ? $" <span class=\"muted\">({(gate is GateNames.CompletionRate or GateNames.AuditCoverage ? "≥" : "≤")} {Value(gate, target)})</span>" : "")
                        .Append("<br>").Append(Sparkline(trend));
                html.Append("</td>");
            }
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");

        html.Append($"<h2>Cost per successful run</h2><p class=\"muted\">Per agent and day (UTC) since {Html.When(snapshot.CostsSince)} UTC: ")
            .Append("everything the runs cost, failed ones included, over the runs their agent reported successful (<code>agentbus costs</code>). ")
            .Append($"In all: {Html.Usd(snapshot.Costs.Total.CostUsd)} over {snapshot.Costs.Total.SuccessfulRuns} successful run(s), ")
            .Append($"{Html.Usd(snapshot.Costs.Total.CostPerSuccessfulRunUsd)} each.</p>");
        html.Append(CostChart(snapshot.Costs, snapshot.CostsSince, snapshot.ComputedAt));
        html.Append("<table id=\"costs\"><thead><tr><th>agent</th><th class=\"num\">runs</th><th class=\"num\">successful</th><th class=\"num\">failed</th>")
            .Append("<th class=\"num\">not reported</th><th class=\"num\">cost</th><th class=\"num\">per successful run</th></tr></thead><tbody>");
        foreach (var total in snapshot.Costs.AgentTotals)
            html.Append($"<tr><td>{Html.E(total.AgentId)}</td><td class=\"num\">{total.Runs}</td><td class=\"num\">{total.SuccessfulRuns}</td>")
                .Append($"<td class=\"num\">{total.FailedRuns}</td><td class=\"num\">{total.UnreportedRuns}</td><td class=\"num\">{Html.Usd(total.CostUsd)}</td>")
                .Append($"<td class=\"num\">{Html.Usd(total.CostPerSuccessfulRunUsd)}</td></tr>");
        html.Append("</tbody></table>");
    }

    static string Status(GateResult result) => result.Status switch
    {
        GateStatus.Pass => Html.Badge("pass"),
        GateStatus.Fail => Html.Badge("fail"),
        GateStatus.NoData => Html.Badge("no data", "warn"),
        _ => Html.Badge("not gated", "muted"),
    };

    static string Value(string gate, decimal? value) => value is not { } v ? "—" : gate switch
    {
        GateNames.CostPerSuccessfulRun => Html.Usd(v),
        GateNames.UnapprovedWriteGrants => v.ToString("0", CultureInfo.InvariantCulture),
        _ => (v * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %",
    };

    /// <summary>A gate's value week by week; a gap where a week had no data.</summary>
    static string Sparkline(IReadOnlyList<decimal?> values)
    {
        const int width = 80, height = 18;
        var known = values.Where(v => v is not null).Select(v => (double)v!.Value).ToList();
        if (known.Count == 0)
            return "<span class=\"muted\" title=\"no data in the last weeks\">no trend</span>";
        double min = known.Min(), max = known.Max();
        var range = max - min < 1e-9 ? 1 : max - min;
        var svg = new StringBuilder($"<svg class=\"trend\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"><title>{Html.E(string.Join(" → ", values.Select(v => v?.ToString("0.####", CultureInfo.InvariantCulture) ?? "no data")))}</title>");
        var points = new List<string>();
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is not { } v)
                continue;
            var x = 4 + i * (width - 8) / Math.Max(1, values.Count - 1);
            var y = height - 3 - ((double)v - min) / range * (height - 6);
            points.Add($"{F(x)},{F(y)}");
            svg.Append($"<circle cx=\"{F(x)}\" cy=\"{F(y)}\" r=\"2\" fill=\"#2f6fd0\"/>");
        }
        if (points.Count > 1)
            svg.Append($"<polyline points=\"{string.Join(' ', points)}\" fill=\"none\" stroke=\"#2f6fd0\" stroke-width=\"1.5\"/>");
        return svg.Append("</svg>").ToString();
    }

    /// <summary>Cost per successful run per agent and day, one line per agent; days without a successful run leave a gap.</summary>
    static string CostChart(CostReport costs, DateTimeOffset since, DateTimeOffset until)
    {
        const int width = 900, height = 260, left = 70, right = 150, top = 15, bottom = 35;
        var perRun = costs.Days.Where(d => d.CostPerSuccessfulRunUsd is not null).ToList();
        if (perRun.Count == 0)
            return "<p class=\"muted\" id=\"cost-chart-empty\">No successful run reported in the period yet.</p>";
        var first = DateOnly.FromDateTime(since.UtcDateTime);
        var last = DateOnly.FromDateTime(until.UtcDateTime);
        var days = Math.Max(1, last.DayNumber - first.DayNumber);
        var max = (double)perRun.Max(d => d.CostPerSuccessfulRunUsd!.Value);
        max = max <= 0 ? 1 : max * 1.1;
        double X(DateOnly day) => left + (double)(day.DayNumber - first.DayNumber) / days * (width - left - right);
        double Y(decimal value) => top + (1 - (double)value / max) * (height - top - bottom);

        var svg = new StringBuilder($"<svg id=\"cost-chart\" role=\"img\" aria-label=\"Cost per successful run per day\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" style=\"background:#fff;border:1px solid #d8dce3;border-radius:8px;max-width:100%\">");
        foreach (var fraction in new[] { 0.0, 0.5, 1.0 })
        {
            var value = (decimal)(max * fraction);
            var y = Y(value);
            svg.Append($"<line x1=\"{left}\" y1=\"{F(y)}\" x2=\"{width - right}\" y2=\"{F(y)}\" stroke=\"#e3e6eb\"/>")
                .Append($"<text x=\"{left - 6}\" y=\"{F(y + 4)}\" font-size=\"11\" text-anchor=\"end\">{Html.Usd(Math.Round(value, 4))}</text>");
        }
        foreach (var (day, anchor) in new[] { (first, "start"), (last, "end") })
            svg.Append($"<text x=\"{F(X(day))}\" y=\"{height - 12}\" font-size=\"11\" text-anchor=\"{anchor}\">{day:yyyy-MM-dd}</text>");

        var agents = perRun.Select(d => d.AgentId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < agents.Count; i++)
        {
            var colour = Palette[i % Palette.Length];
            var points = perRun.Where(d => d.AgentId == agents[i]).OrderBy(d => d.Day).ToList();
            var path = new StringBuilder();
            DateOnly? previous = null;
            foreach (var point in points)
            {
                path.Append(previous is { } p && point.Day.DayNumber - p.DayNumber == 1 ? " L" : " M").Append($"{F(X(point.Day))},{F(Y(point.CostPerSuccessfulRunUsd!.Value))}");
                previous = point.Day;
            }
            svg.Append($"<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" data-agent=\"{Html.E(agents[i])}\"/>");
            foreach (var point in points)
                svg.Append($"<circle cx=\"{F(X(point.Day))}\" cy=\"{F(Y(point.CostPerSuccessfulRunUsd!.Value))}\" r=\"2.5\" fill=\"{colour}\"><title>")
                    .Append($"{Html.E(agents[i])} {point.Day:yyyy-MM-dd}: {Html.Usd(point.CostPerSuccessfulRunUsd)} per successful run ({point.SuccessfulRuns} of {point.Runs} runs)</title></circle>");
            svg.Append($"<rect x=\"{width - right + 12}\" y=\"{top + i * 18}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>")
                .Append($"<text x=\"{width - right + 27}\" y=\"{top + i * 18 + 9}\" font-size=\"11\">{Html.E(Html.Cut(agents[i], 18))}</text>");
        }
        return svg.Append("</svg>").ToString();
    }

    static string F(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
