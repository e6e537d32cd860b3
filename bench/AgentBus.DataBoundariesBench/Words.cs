namespace AgentBus.DataBoundariesBench;

/// <summary>Small word lists for sentences, identifiers and names; enough variety for the corpus, small enough to read.</summary>
static class Words
{
    public static readonly string[] English =
    [
        "the", "customer", "asked", "about", "their", "order", "refund", "please", "check", "status", "shipping", "delayed",
        "because", "warehouse", "was", "closed", "we", "will", "send", "a", "replacement", "tomorrow", "invoice", "attached",
        "payment", "failed", "twice", "retry", "after", "update", "account", "address", "changed", "last", "week", "support",
        "ticket", "escalated", "manager", "approved", "credit", "issued", "package", "arrived", "damaged", "photo", "box",
        "return", "label", "printed", "courier", "picked", "up", "morning", "discount", "applied", "coupon", "expired",
        "subscription", "renewed", "annual", "plan", "cancel", "request", "received", "confirm", "email", "phone", "call",
        "back", "within", "two", "business", "days", "thanks", "for", "your", "patience", "note", "internal", "only",
        "priority", "high", "low", "medium", "resolved", "pending", "review", "team", "billing", "question", "answer",
        "product", "size", "color", "blue", "green", "large", "small", "exchange", "store", "online", "mobile", "app",
        "login", "reset", "password", "link", "sent", "again", "error", "message", "screen", "browser", "cache", "cleared",
        "works", "now", "thank", "you", "very", "much", "happy", "holidays", "delivery", "window", "evening", "weekend",
    ];

    public static readonly string[] Code =
    [
        "get", "set", "user", "account", "balance", "refund", "order", "request", "response", "handler", "factory", "service",
        "provider", "manager", "builder", "options", "config", "context", "reader", "writer", "stream", "buffer", "cache",
        "policy", "decision", "evaluator", "executor", "tool", "operation", "catalog", "schema", "validator", "result",
        "async", "task", "token", "session", "client", "server", "message", "queue", "consumer", "publisher", "event",
        "state", "machine", "approval", "budget", "limit", "rate", "window", "json", "http", "xml", "utf", "parse", "format",
        "create", "update", "delete", "list", "find", "by", "id", "name", "email", "phone", "card", "key", "secret", "hash",
        "timeout", "retry", "count", "max", "min", "total", "amount", "currency", "customer", "ticket", "comment", "status",
    ];

    public static readonly string[] FirstNames = ["jane", "john", "maria", "wei", "amir", "olga", "kofi", "lena", "raj", "sofia", "tom", "yuki"];
    public static readonly string[] LastNames = ["doe", "smith", "garcia", "chen", "haddad", "ivanova", "mensah", "berg", "patel", "rossi", "brown", "sato"];
    public static readonly string[] Domains = ["example.com", "example.org", "mail.example.net", "corp.example.co.uk", "shop.example.de", "example.io", "students.example.edu"];
}
