using System.ComponentModel.DataAnnotations;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Proposals;

/// <summary>The "Policy:Signing" section: the key that signs every ExecuteTool, and how long a signature holds.</summary>
public sealed class SigningOptions
{
    public const string Section = "Policy:Signing";

    /// <summary>PEM file with the ECDSA P-256 private key (`agentbus keys generate --out DIR` writes one).</summary>
    [Required(ErrorMessage = "Policy:Signing:PrivateKeyFile is required: the policy service signs every ExecuteTool. Create a key pair with `agentbus keys generate --out DIR`.")]
    public string PrivateKeyFile { get; set; } = "";

    /// <summary>
    /// How long after the decision an executor may still start the call. A command that waited in
    /// its tool's queue longer is refused as authorization_expired, never run late.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00", ErrorMessage = "Policy:Signing:Lifetime must be between 5 seconds and 1 day.")]
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(10);
}

public static class SigningExtensions
{
    /// <summary>The signing key, loaded and checked while the host starts; the authorizer that uses it.</summary>
    public static IHostApplicationBuilder AddExecutionAuthorizer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<SigningOptions>(SigningOptions.Section, KeyProblems);
        builder.Services.AddSingleton(services =>
            AuthorizationSigner.FromFile(services.GetRequiredService<IOptions<SigningOptions>>().Value.PrivateKeyFile));
        builder.Services.AddSingleton<ExecutionAuthorizer>();
        return builder;
    }

    static IEnumerable<string> KeyProblems(SigningOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.PrivateKeyFile))
            yield break;
        string? problem = null;
        try
        {
            using var key = SigningKeys.Load(options.PrivateKeyFile, requirePrivate: true);
        }
        catch (InvalidOperationException ex)
        {
            problem = $"{SigningOptions.Section}:PrivateKeyFile: {ex.Message}";
        }
        if (problem is not null)
            yield return problem;
    }
}
