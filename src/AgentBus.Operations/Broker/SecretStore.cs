using System.Security.Cryptography;

namespace AgentBus.Operations.Broker;

/// <summary>
/// Secrets as files (mode 0600 in a 0700 folder), created once and reused, so re-provisioning
/// keeps every user's password and running processes keep working.
/// </summary>
public sealed class SecretStore(string directory)
{
    const string Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

    public string Directory { get; } = directory;

    public string PathFor(string kind, string name) => Path.Combine(Directory, kind, name);

    public string GetOrCreate(string kind, string name)
    {
        var path = PathFor(kind, name);
        if (ReadExisting(path) is { } existing)
            return existing;

        System.IO.Directory.CreateDirectory(Directory);
        // Provisioners creating the same secret at once (parallel setups, test fixtures) must end up with one
        // password, not the broker holding one and the file another. A move without overwrite is not enough:
        // on Linux .NET may check and then rename, and two renames both succeed. An exclusive lock (flock,
        // across processes) around check-and-create is.
        using var _ = Lock();
        return ReadExisting(path) ?? Create(path);
    }

    FileStream Lock()
    {
        var lockFile = Path.Combine(Directory, ".secrets.lock");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Random.Shared.Next(5, 25));
            }
        }
    }

    static string? ReadExisting(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0)
            {
                DropByteOrderMark(path);
                return existing;
            }
        }
        return null;
    }

    string Create(string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        System.IO.Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var secret = RandomNumberGenerator.GetString(Alphabet, 32);
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.new";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        // No byte-order mark: an agent in any language reads its password file as plain text.
        using (var writer = new StreamWriter(temporary, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options))
            writer.Write(secret);
        // Whole or not at all: a reader never sees a half-written file (an empty one is replaced).
        File.Move(temporary, path, overwrite: true);
        return secret;
    }

    /// <summary>
    /// Earlier versions wrote a UTF-8 byte-order mark, which a plain reader (Python's open().read())
    /// takes as part of the password: the same secret is written back without it, in place.
    /// </summary>
    static void DropByteOrderMark(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes is not [0xEF, 0xBB, 0xBF, ..])
            return;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Write(bytes, 3, bytes.Length - 3);
        stream.SetLength(bytes.Length - 3);
    }
}
