using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace AgentBus.Approvals.Approvers;

/// <summary>
/// Approver bearer tokens: "abt_" and 256 random bits (base64url). Only SHA-256 of the token is
/// stored. A slow KDF (bcrypt, Argon2) protects low-entropy passwords against guessing after a leak;
/// these tokens have 256 bits of entropy, so a leaked hash cannot be reversed by guessing, and a fast
/// hash keeps the per-request check to one indexed lookup.
/// </summary>
public static class ApproverTokens
{
    public const string Prefix = "abt_";
    const int RandomBytes = 32;
    static readonly int EncodedLength = Prefix.Length + WebEncoders.Base64UrlEncode(new byte[RandomBytes]).Length;

    public static string Create() => Prefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(RandomBytes));

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Shaped like one of ours (right prefix and length); says nothing about whether it is valid.</summary>
    public static bool IsWellFormed(string? token) =>
        token is not null && token.Length == EncodedLength && token.StartsWith(Prefix, StringComparison.Ordinal)
        && token.AsSpan(Prefix.Length).ContainsAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == false;
}
