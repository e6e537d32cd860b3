using System.Net;
using System.Text;

namespace AgentBus.UnitTests.Sandbox;

/// <summary>What an attacker or a confused agent might send: always a 4xx (or a faithful 2xx), never a 500, and the record stays readable.</summary>
public sealed class ShopHostileInputTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await sandbox.ResetAsync();
        await sandbox.CreateTicketAsync();
    }

    public async Task DisposeAsync()
    {
        // Whatever was sent, the record must still be served: a body that cannot be written back would break /calls for every later test.
        using var calls = await sandbox.Client.GetAsync("/calls");
        Assert.Equal(HttpStatusCode.OK, calls.StatusCode);
    }

    public static TheoryData<string, string> HostilePaths()
    {
        var long5000 = new string('9', 5000);
        return new()
        {
            { "GET", "/api/orders/ORD-1001%2F..%2F..%2Fcalls" },
            { "GET", "/api/orders/..%2F..%2Fcalls" },
            { "GET", "/api/orders/../../calls/../api/orders/ORD-1001%2F" },
            { "GET", "/api/orders/%2E%2E" },
            { "GET", "/api/orders/ORD-1001%0A" },
            { "GET", "/api/orders/ORD-1001%0D%0AX-Injected:%201" },
            { "GET", "/api/orders/ORD-1001%00" },
            { "GET", "/api/orders/ORD-%D9%A1%D9%A2%D9%A3%D9%A4" },
            { "GET", "/api/orders/ORD-" + long5000 },
            { "GET", "/api/orders/" + new string('A', 20_000) },
            { "GET", "/api/orders/%FF%FE" },
            { "GET", "/api/refunds/RF-000001%2F..%2Fcancel" },
            { "POST", "/api/refunds/RF-" + long5000 + "/cancel" },
            { "GET", "/api/tickets/TCK-000001%2Fcomments" },
            { "POST", "/api/tickets/TCK-000001%2F..%2FTCK-000002/close" },
            { "POST", "/api/tickets/TCK-000001/close?resolution=resolved%0D%0AX-Injected:%201" },
            { "POST", "/api/tickets/TCK-000001/close?resolution=" + long5000 },
            { "GET", "/api/orders/ORD-1001?delayMs=-5" },
        };
    }

    [Theory]
    [MemberData(nameof(HostilePaths))]
    public async Task Hostile_path_or_query_is_refused_with_4xx_and_changes_nothing(string method, string path)
    {
        var credential = path.StartsWith("/api/tickets", StringComparison.Ordinal) ? Credential.Ticketing : Credential.Payments;

        var reply = await sandbox.SendAsync(new HttpMethod(method), path, credential);

        Assert.InRange((int)reply.Status, 200, 499);
        Assert.False(reply.Headers.Contains("X-Injected"));
        var ticket = await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing);
        Assert.Equal("open", ticket.Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Id_with_a_trailing_line_break_is_not_taken_for_the_id()
    {
        var reply = await sandbox.SendAsync(HttpMethod.Get, "/api/orders/ORD-1001%0A", Credential.Payments);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
    }

    public static TheoryData<byte[]> HostileJson() =>
    [
        Encoding.UTF8.GetBytes("""{"amountUsd":1,"reason":"\ud800"}"""),
        Encoding.UTF8.GetBytes("""{"amountUsd":1,"\udc00":"x","reason":"ok"}"""),
        [.. Encoding.UTF8.GetBytes("""{"amountUsd":1,"reason":" """), 0xFF, 0xFE, .. Encoding.UTF8.GetBytes("\"}")],
        Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000)),
        Encoding.UTF8.GetBytes("""{"amountUsd":""" + new string('9', 100_000) + ""","reason":"x"}"""),
        Encoding.UTF8.GetBytes("""{"amountUsd":1,"reason":"x"} trailing"""),
        Encoding.UTF8.GetBytes("null"),
        Encoding.UTF8.GetBytes("""{"amountUsd":1,"reason":"x\u0000\r\nX-Injected: 1"}"""),
        Encoding.UTF8.GetBytes("""{"amountUsd":1,"reason":""" + "\"" + new string('x', 300_000) + "\"}"),
    ];

    [Theory]
    [MemberData(nameof(HostileJson))]
    public async Task Hostile_json_body_gets_a_4xx_or_a_faithful_refund_never_a_500(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");

        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/orders/ORD-1001/refunds", Credential.Payments, content);

        Assert.InRange((int)reply.Status, 200, 499);
        Assert.Equal("application/json", reply.MediaType);
        Assert.False(reply.Headers.Contains("X-Injected"));
    }

    [Theory]
    [InlineData(new byte[] { 0x7B, 0x22, 0x72, 0x65, 0x61, 0x73, 0x6F, 0x6E, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D }, "not valid UTF-8")]
    [InlineData(new byte[] { 0x7B, 0x22, 0x5C, 0x75, 0x64, 0x38, 0x30, 0x30, 0x22, 0x3A, 0x31, 0x7D }, "not valid Unicode")]
    public async Task Json_that_is_not_valid_unicode_is_422_and_recorded_without_its_body(byte[] body, string detail)
    {
        // {"reason":"<0xFF>"} and {"\ud800":1}
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");

        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/orders/ORD-1001/refunds", Credential.Payments, content);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Contains(detail, reply.Detail);
        Assert.Null(sandbox.Calls.Last().Body);
    }

    public static TheoryData<string> HostileForms() =>
    [
        "body=hi&visibility=public%0D%0AX-Injected:%201",
        "body=%ED%A0%80&visibility=internal",
        "body=%FF%FE%00",
        "body=%",
        "body=hi&" + string.Join("&", Enumerable.Range(0, 2000).Select(i => $"f{i}=x")),
        "body=" + new string('x', 5001),
        "body=" + new string('x', 300_000),
        new string('k', 5000) + "=v",
        "body=hi&body=there&visibility=public",
        "=&=&body=hi",
    ];

    [Theory]
    [MemberData(nameof(HostileForms))]
    public async Task Hostile_form_fields_get_a_4xx_or_a_faithful_comment_never_a_500(string form)
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/comments", Credential.Ticketing,
            new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.InRange((int)reply.Status, 200, 499);
        Assert.Equal("application/json", reply.MediaType);
        Assert.False(reply.Headers.Contains("X-Injected"));
    }

    [Fact]
    public async Task Line_breaks_in_a_comment_body_are_kept_as_text_and_in_visibility_are_refused()
    {
        var multiline = await sandbox.CommentAsync("TCK-000001", "first line\r\nsecond line");
        var injected = await sandbox.CommentAsync("TCK-000001", "hi", "public\r\nX-Injected: 1");

        Assert.Equal(HttpStatusCode.Created, multiline.Status);
        Assert.Equal("first line\r\nsecond line", multiline.Body.GetProperty("body").GetString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, injected.Status);
        Assert.Contains("visibility must be one of public, internal", injected.Detail);
    }

    [Fact]
    public async Task Body_beyond_256_kib_is_413()
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets", Credential.Ticketing,
            SandboxFixture.Json($$"""{"title":"x","priority":"low","description":"{{new string('x', 300_000)}}"}"""));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, reply.Status);
        Assert.Equal("payload_too_large", reply.Error);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(5000)]
    public async Task Idempotency_key_longer_than_255_characters_is_422(int length)
    {
        var reply = await sandbox.RefundAsync("ORD-1001", 1m, idempotencyKey: new string('k', length));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Contains("Idempotency-Key must be 1 to 255 characters", reply.Detail);
    }

    [Fact]
    public async Task Two_payments_keys_are_not_one_valid_key()
    {
        var request = sandbox.Request(HttpMethod.Get, "/api/orders/ORD-1001", Credential.Payments);
        request.Headers.Add("X-Api-Key", "another");

        Assert.Equal(HttpStatusCode.Unauthorized, (await sandbox.SendAsync(request)).Status);
    }
}
