using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentBus.DataBoundariesBench;

/// <summary>Argument bodies of about a given size, made of the negative corpus's values, optionally with three findings in them.</summary>
static class BodyBuilder
{
    public static string Build(CorpusGenerator generator, int size, bool withFindings)
    {
        var negatives = generator.Negatives(1).Select(s => JsonNode.Parse(s.Json)!["value"]!).ToList();
        var body = new JsonObject
        {
            ["orderId"] = "ORD-2026-000123",
            ["amountUsd"] = 42.5,
            ["reason"] = generator.Sentence(8, 20),
            ["customer"] = new JsonObject { ["id"] = "cus_NffrFeUfNV2Hib", ["since"] = "2024-03-09" },
        };
        if (withFindings)
        {
            body["contact"] = "reach me at jane.doe@example.com or on my card 4242 4242 4242 4242";
            body["config"] = new JsonObject { ["stripe"] = "sk_live_" + new string('a', 4) + "51HqLyjWDarjtT1zdp7dcQ" };
        }
        var items = new JsonArray();
        body["items"] = items;
        var i = 0;
        while (body.ToJsonString().Length < size - 160)
        {
            var value = negatives[i % negatives.Count].DeepClone();
            if (i > 0 && i % negatives.Count == 0)
                negatives = generator.Negatives(1).Select(s => JsonNode.Parse(s.Json)!["value"]!).ToList();
            items.Add(new JsonObject { ["sku"] = $"SKU-{i:D5}", ["qty"] = (i % 5) + 1, ["detail"] = value, ["note"] = generator.Sentence(2, 6) });
            i++;
        }
        while (body.ToJsonString().Length > size && items.Count > 0)
            items.RemoveAt(items.Count - 1);
        return body.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
