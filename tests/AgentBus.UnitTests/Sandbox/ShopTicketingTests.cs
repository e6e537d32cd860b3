using System.Net;
using System.Net.Http.Json;

namespace AgentBus.UnitTests.Sandbox;

public sealed class ShopTicketingTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => sandbox.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Ticket_is_opened_with_no_comments_and_read_back()
    {
        var created = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets", Credential.Ticketing, SandboxFixture.Json(
            """{"title":"Parcel lost","description":"Tracking stopped a week ago.","priority":"urgent","customerEmail":"alice@example.com"}"""));

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("TCK-000001", created.Body.GetProperty("ticketId").GetString());
        Assert.Equal("open", created.Body.GetProperty("status").GetString());
        Assert.Equal("urgent", created.Body.GetProperty("priority").GetString());
        Assert.Equal(0, created.Body.GetProperty("comments").GetArrayLength());
        Assert.Equal("/api/tickets/TCK-000001", created.Headers.Location?.OriginalString);

        var read = await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing);
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal("Parcel lost", read.Body.GetProperty("title").GetString());
        Assert.Equal("alice@example.com", read.Body.GetProperty("customerEmail").GetString());
    }

    [Theory]
    [InlineData("""{"priority":"normal"}""", "title is required")]
    [InlineData("""{"title":"","priority":"normal"}""", "title must be 1 to 200 characters, not 0")]
    [InlineData("""{"title":"Lost","priority":"critical"}""", "priority must be one of low, normal, high, urgent, not 'critical'")]
    [InlineData("""{"title":"Lost"}""", "priority is required")]
    [InlineData("""{"title":"Lost","priority":"normal","customerEmail":"not an address"}""", "customerEmail must be a plain email address")]
    [InlineData("""{"title":"Lost","priority":"normal","customerEmail":"Alice <alice@example.com>"}""", "customerEmail must be a plain email address")]
    [InlineData("""{"title":"Lost","priority":"normal","description":null}""", "description must be a string, not null")]
    [InlineData("""{"title":"Lost","priority":"normal","assignee":"bob"}""", "Unknown field 'assignee'")]
    [InlineData("""{"title":["Lost"],"priority":"normal"}""", "title must be a string, not an array")]
    public async Task Ticket_breaking_a_documented_rule_is_422_saying_which(string body, string detail)
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets", Credential.Ticketing, SandboxFixture.Json(body));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Contains(detail, reply.Detail);
        Assert.Equal(HttpStatusCode.NotFound, (await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing)).Status);
    }

    [Fact]
    public async Task Title_counts_characters_not_utf16_units()
    {
        var reply = await sandbox.CreateTicketAsync(title: string.Concat(Enumerable.Repeat("😀", 200)));

        Assert.Equal(HttpStatusCode.Created, reply.Status);
    }

    [Fact]
    public async Task Same_idempotency_key_opens_one_ticket()
    {
        var first = await sandbox.CreateTicketAsync(idempotencyKey: "action-1");
        var again = await sandbox.CreateTicketAsync(idempotencyKey: "action-1");
        var other = await sandbox.CreateTicketAsync(idempotencyKey: "action-2");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(["true"], again.Headers.GetValues("Idempotent-Replayed"));
        Assert.Equal("TCK-000001", again.Body.GetProperty("ticketId").GetString());
        Assert.Equal("TCK-000002", other.Body.GetProperty("ticketId").GetString());
    }

    [Fact]
    public async Task Comment_is_accepted_form_encoded_and_appears_on_the_ticket()
    {
        await sandbox.CreateTicketAsync();

        var comment = await sandbox.CommentAsync("TCK-000001", "We are looking into it.", "internal");
        var defaulted = await sandbox.CommentAsync("TCK-000001", "Refund sent.");

        Assert.Equal(HttpStatusCode.Created, comment.Status);
        Assert.Equal("CMT-000001", comment.Body.GetProperty("commentId").GetString());
        Assert.Equal("internal", comment.Body.GetProperty("visibility").GetString());
        Assert.Equal("public", defaulted.Body.GetProperty("visibility").GetString());
        var ticket = await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing);
        Assert.Equal(["We are looking into it.", "Refund sent."],
            ticket.Body.GetProperty("comments").EnumerateArray().Select(c => c.GetProperty("body").GetString()));
    }

    [Fact]
    public async Task Comment_sent_as_json_or_multipart_is_415_and_adds_nothing()
    {
        await sandbox.CreateTicketAsync();

        var json = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/comments", Credential.Ticketing,
            JsonContent.Create(new { body = "hello" }));
        var multipart = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/comments", Credential.Ticketing,
            new MultipartFormDataContent { { new StringContent("hello"), "body" } });

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.Status);
        Assert.Equal("unsupported_media_type", json.Error);
        Assert.Contains("application/x-www-form-urlencoded", json.Detail);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, multipart.Status);
        var ticket = await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing);
        Assert.Equal(0, ticket.Body.GetProperty("comments").GetArrayLength());
    }

    [Theory]
    [InlineData("visibility=public", "body is required")]
    [InlineData("body=", "body must be 1 to 5000 characters, not 0")]
    [InlineData("body=hi&visibility=everyone", "visibility must be one of public, internal")]
    [InlineData("body=hi&body=there", "body must be given once")]
    [InlineData("body=hi&author=bob", "Unknown form field 'author'")]
    public async Task Comment_breaking_a_documented_rule_is_422_saying_which(string form, string detail)
    {
        await sandbox.CreateTicketAsync();

        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/comments", Credential.Ticketing,
            new StringContent(form, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Contains(detail, reply.Detail);
    }

    [Fact]
    public async Task Comment_on_an_unknown_ticket_is_404()
    {
        var reply = await sandbox.CommentAsync("TCK-000404", "hello");

        Assert.Equal(HttpStatusCode.NotFound, reply.Status);
        Assert.Equal("ticket_not_found", reply.Error);
    }

    [Fact]
    public async Task Closed_ticket_keeps_its_resolution_and_refuses_comments()
    {
        await sandbox.CreateTicketAsync();

        var closed = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/close?resolution=duplicate", Credential.Ticketing);
        var comment = await sandbox.CommentAsync("TCK-000001", "One more thing");
        var closedAgain = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/close", Credential.Ticketing);

        Assert.Equal(HttpStatusCode.OK, closed.Status);
        Assert.Equal("closed", closed.Body.GetProperty("status").GetString());
        Assert.Equal("duplicate", closed.Body.GetProperty("resolution").GetString());
        Assert.Equal(HttpStatusCode.Conflict, comment.Status);
        Assert.Equal("ticket_closed", comment.Error);
        Assert.Equal(HttpStatusCode.Conflict, closedAgain.Status);
        Assert.Equal("already_closed", closedAgain.Error);
    }

    [Fact]
    public async Task Closing_without_a_resolution_resolves_and_an_unknown_resolution_is_422()
    {
        await sandbox.CreateTicketAsync();
        await sandbox.CreateTicketAsync();

        var unknown = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/close?resolution=fixed", Credential.Ticketing);
        var twice = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/close?resolution=resolved&resolution=duplicate", Credential.Ticketing);
        var closed = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000002/close", Credential.Ticketing);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown.Status);
        Assert.Contains("resolution must be one of resolved, duplicate, wont_fix", unknown.Detail);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, twice.Status);
        Assert.Equal("resolved", closed.Body.GetProperty("resolution").GetString());
    }

    [Fact]
    public async Task Same_idempotency_key_posts_a_comment_once_even_after_the_ticket_closed()
    {
        await sandbox.CreateTicketAsync();
        var first = await sandbox.CommentAsync("TCK-000001", "Refund sent.", idempotencyKey: "action-5");
        await sandbox.SendAsync(HttpMethod.Post, "/api/tickets/TCK-000001/close", Credential.Ticketing);

        var again = await sandbox.CommentAsync("TCK-000001", "Refund sent.", idempotencyKey: "action-5");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal("CMT-000001", again.Body.GetProperty("commentId").GetString());
        var ticket = await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing);
        Assert.Equal(1, ticket.Body.GetProperty("comments").GetArrayLength());
    }

    [Theory]
    [InlineData(Credential.None)]
    [InlineData(Credential.Wrong)]
    [InlineData(Credential.Payments)]
    public async Task Ticketing_without_the_bearer_token_is_401_and_opens_nothing(Credential credential)
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/tickets", credential,
            SandboxFixture.Json("""{"title":"Lost","priority":"normal"}"""));

        Assert.Equal(HttpStatusCode.Unauthorized, reply.Status);
        Assert.Equal("unauthorized", reply.Error);
        Assert.Equal(HttpStatusCode.NotFound, (await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing)).Status);
    }
}
