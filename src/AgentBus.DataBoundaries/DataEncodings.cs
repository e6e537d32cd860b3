namespace AgentBus.DataBoundaries;

/// <summary>How the value was found: <c>null</c> as written, or inside one of these encodings.</summary>
public static class DataEncodings
{
    /// <summary>Percent-decoding (<c>%XX</c>) of the string, once.</summary>
    public const string Url = "url";

    /// <summary>A base64 or base64url token of the string whose bytes are UTF-8 text, decoded once.</summary>
    public const string Base64 = "base64";

    /// <summary>Adjacent sibling values of one object or array, concatenated; the pointer names the container.</summary>
    public const string Split = "split";
}
