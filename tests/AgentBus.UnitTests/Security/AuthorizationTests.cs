using System.Security.Cryptography;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Security;

namespace AgentBus.UnitTests.Security;

public sealed class AuthorizationTests : IDisposable
{
    static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    readonly AuthorizationSigner _signer;
    readonly AuthorizationVerifier _verifier;
    readonly string _folder = Directory.CreateTempSubdirectory("agentbus-keys-").FullName;

    public AuthorizationTests()
    {
        _signer = NewSigner(out var publicPem);
        var publicFile = Path.Combine(_folder, "policy" + SigningKeys.PublicKeySuffix);
        File.WriteAllText(publicFile, publicPem);
        _verifier = AuthorizationVerifier.FromPath(publicFile);
    }

    static AuthorizationSigner NewSigner(out string publicPem)
    {
        var key = SigningKeys.Generate();
        publicPem = SigningKeys.PublicPem(key);
        return new AuthorizationSigner(key);
    }

    static ExecuteTool Command(string tool = "ticketing", object? arguments = null)
    {
        var args = JsonSerializer.SerializeToElement(arguments ?? new { method = "POST", url = "http://127.0.0.1:5080/ticketing/tickets", body = new { title = "t" } });
        return new ExecuteTool("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "run-1", "support-bot", tool, args, CanonicalJson.Hash(args), null, Now,
            Authorization: null!);
    }

    ExecuteTool Signed(ExecuteTool command, TimeSpan? lifetime = null, string? approvalId = null) =>
        command with { Authorization = _signer.Sign(command, approvalId, Now + (lifetime ?? TimeSpan.FromMinutes(5))) };

    [Fact]
    public void A_command_signed_by_the_policy_key_for_this_tool_passes()
    {
        Assert.Null(_verifier.Check(Signed(Command()), "ticketing", Now));
        Assert.Null(_verifier.Check(Signed(Command(), approvalId: "apr-1"), "ticketing", Now));
    }

    [Fact]
    public void No_authorization_is_refused_as_missing() =>
        Assert.Equal(ExecutionErrorCodes.AuthorizationMissing, _verifier.Check(Command(), "ticketing", Now)!.ErrorCode);

    [Fact]
    public void A_signature_from_another_key_with_the_trusted_key_id_is_invalid()
    {
        using var other = new AuthorizationSigner(SigningKeys.Generate());
        var forged = Command() with { Authorization = other.Sign(Command(), null, Now.AddMinutes(5)) with { KeyId = _signer.KeyId } };
        Assert.Equal(ExecutionErrorCodes.AuthorizationInvalid, _verifier.Check(forged, "ticketing", Now)!.ErrorCode);
    }

    [Fact]
    public void A_key_id_the_executor_does_not_trust_is_refused()
    {
        using var other = new AuthorizationSigner(SigningKeys.Generate());
        var command = Command() with { Authorization = other.Sign(Command(), null, Now.AddMinutes(5)) };
        Assert.Equal(ExecutionErrorCodes.AuthorizationUnknownKey, _verifier.Check(command, "ticketing", Now)!.ErrorCode);
    }

    [Theory]
    [InlineData("refund", "get_order")]
    [InlineData("refund", null)]
    [InlineData(null, "refund")]
    public void The_operation_is_signed_so_a_command_cannot_be_turned_into_another_operation(string? signedOperation, string? sentOperation)
    {
        var arguments = new { orderId = "ORD-1001", amountUsd = 25, reason = "damaged" };
        var signed = Signed(Command("payments", arguments) with { Operation = signedOperation });
        Assert.Null(_verifier.Check(signed, "payments", Now));

        var changed = signed with { Operation = sentOperation };
        Assert.Equal(ExecutionErrorCodes.AuthorizationInvalid, _verifier.Check(changed, "payments", Now)!.ErrorCode);
    }

    public static TheoryData<string> SignedFields() => ["actionId", "runId", "agentId", "tool", "argumentsHash", "idempotencyKey", "approvalId", "notAfter", "signature"];

    [Theory]
    [MemberData(nameof(SignedFields))]
    public void Changing_any_signed_field_breaks_the_signature(string field)
    {
        var signed = Signed(Command());
        var tampered = field switch
        {
            "actionId" => signed with { ActionId = "0193e3c2-6f1a-7c3b-9d4e-000000000000" },
            "runId" => signed with { RunId = "run-2" },
            "agentId" => signed with { AgentId = "intern-bot" },
            "tool" => signed with { Tool = "payments" },
            "argumentsHash" => signed with { ArgumentsHash = "sha256:" + new string('0', 64) },
            "idempotencyKey" => signed with { IdempotencyKey = "other-key" },
            "approvalId" => signed with { Authorization = signed.Authorization with { ApprovalId = "apr-forged" } },
            "notAfter" => signed with { Authorization = signed.Authorization with { NotAfter = signed.Authorization.NotAfter.AddHours(1) } },
            _ => signed with { Authorization = signed.Authorization with { Signature = Convert.ToBase64String(new byte[64]) } },
        };
        Assert.Equal(ExecutionErrorCodes.AuthorizationInvalid, _verifier.Check(tampered, tampered.Tool, Now)!.ErrorCode);
    }

    [Fact]
    public void A_valid_command_for_another_tool_is_refused_as_wrong_tool() =>
        Assert.Equal(ExecutionErrorCodes.WrongTool, _verifier.Check(Signed(Command("payments")), "ticketing", Now)!.ErrorCode);

    [Fact]
    public void Arguments_that_no_longer_match_the_signed_hash_are_refused_as_changed()
    {
        var signed = Signed(Command());
        var changed = signed with { Arguments = JsonSerializer.SerializeToElement(new { method = "DELETE", url = "http://127.0.0.1:5080/" }) };
        Assert.Equal(ExecutionErrorCodes.ArgumentsChanged, _verifier.Check(changed, "ticketing", Now)!.ErrorCode);
    }

    [Fact]
    public void Key_order_and_spacing_of_the_arguments_do_not_matter()
    {
        var signed = Signed(Command(arguments: new { a = 1, b = new { c = "x" } }));
        var reordered = signed with { Arguments = JsonDocument.Parse("""{ "b" : { "c":"x" }, "a": 1.0 }""").RootElement };
        Assert.Null(_verifier.Check(reordered, "ticketing", Now));
    }

    [Fact]
    public void After_not_after_the_command_is_refused_as_expired()
    {
        var signed = Signed(Command(), TimeSpan.FromSeconds(30));
        Assert.Null(_verifier.Check(signed, "ticketing", Now.AddSeconds(30)));
        Assert.Equal(ExecutionErrorCodes.AuthorizationExpired, _verifier.Check(signed, "ticketing", Now.AddSeconds(30.001))!.ErrorCode);
    }

    [Fact]
    public void A_folder_of_public_keys_trusts_old_and_new_while_keys_rotate()
    {
        using var next = NewSigner(out var nextPem);
        File.WriteAllText(Path.Combine(_folder, "next" + SigningKeys.PublicKeySuffix), nextPem);
        File.WriteAllText(Path.Combine(_folder, "ignored.txt"), "not a key");
        using var both = AuthorizationVerifier.FromPath(_folder);

        Assert.Equal(2, both.KeyIds.Count);
        Assert.Null(both.Check(Signed(Command()), "ticketing", Now));
        var byNext = Command() with { Authorization = next.Sign(Command(), null, Now.AddMinutes(1)) };
        Assert.Null(both.Check(byNext, "ticketing", Now));
    }

    [Fact]
    public void The_statement_is_canonical_json_naming_every_bound_field()
    {
        var text = System.Text.Encoding.UTF8.GetString(AuthorizationStatement.For(Command(), "k1", null, Now));
        Assert.Equal(
            """{"actionId":"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f","agentId":"support-bot","approvalId":null,"argumentsHash":""" +
            $"\"{Command().ArgumentsHash}\"" +
            ""","idempotencyKey":null,"keyId":"k1","notAfter":1740830400000,"runId":"run-1","tool":"ticketing","v":"agentbus-tool-authorization/v1"}""",
            text);
    }

    [Fact]
    public void Loading_refuses_a_public_key_where_a_private_one_is_needed_and_other_curves()
    {
        var publicFile = Directory.GetFiles(_folder, "*" + SigningKeys.PublicKeySuffix)[0];
        var error = Assert.Throws<InvalidOperationException>(() => SigningKeys.Load(publicFile, requirePrivate: true));
        Assert.Contains("public key", error.Message);

        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var p384File = Path.Combine(_folder, "p384.key.pem");
        File.WriteAllText(p384File, p384.ExportPkcs8PrivateKeyPem());
        Assert.Contains("P-256", Assert.Throws<InvalidOperationException>(() => SigningKeys.Load(p384File, requirePrivate: true)).Message);

        var garbage = Path.Combine(_folder, "garbage.pem");
        File.WriteAllText(garbage, "hello");
        Assert.Contains(garbage, Assert.Throws<InvalidOperationException>(() => SigningKeys.Load(garbage, requirePrivate: false)).Message);
        Assert.Contains("does not exist", Assert.Throws<InvalidOperationException>(() => AuthorizationVerifier.FromPath(Path.Combine(_folder, "nope"))).Message);
    }

    [Fact]
    public void A_widened_result_clearance_breaks_the_signature_and_a_removed_one_clears_nothing()
    {
        var command = Signed(Command() with { ResultClearance = ["pii.email"] });
        Assert.Null(_verifier.Check(command, "ticketing", Now));

        var widened = command with { ResultClearance = ["pii.email", "pii.card"] };
        Assert.Equal(ExecutionErrorCodes.AuthorizationInvalid, _verifier.Check(widened, "ticketing", Now)!.ErrorCode);

        // Stripped, the statement is the one without a clearance: it no longer matches this signature either.
        var stripped = command with { ResultClearance = null };
        Assert.Equal(ExecutionErrorCodes.AuthorizationInvalid, _verifier.Check(stripped, "ticketing", Now)!.ErrorCode);

        // The order the classes arrive in does not matter.
        var reordered = Signed(Command() with { ResultClearance = ["pii.phone", "pii.email"] }) with { ResultClearance = ["pii.email", "pii.phone"] };
        Assert.Null(_verifier.Check(reordered, "ticketing", Now));
    }

    public void Dispose()
    {
        _signer.Dispose();
        _verifier.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
