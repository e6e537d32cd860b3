using System.ComponentModel.DataAnnotations;

namespace AgentBus.Policy;

public sealed class PolicyOptions
{
    public const string Section = "Policy";

    [Required(ErrorMessage = "Policy:File is required.")]
    public string File { get; set; } = "";

    /// <summary>Proposals larger than this are refused before they are parsed.</summary>
    [Range(1024, 4 * 1024 * 1024, ErrorMessage = "Policy:MaxProposalBytes must be between 1 KiB and 4 MiB.")]
    public int MaxProposalBytes { get; set; } = 64 * 1024;

    [Range(1, 1000, ErrorMessage = "Policy:ConcurrentMessageLimit must be between 1 and 1000.")]
    public int ConcurrentMessageLimit { get; set; } = 32;
}
