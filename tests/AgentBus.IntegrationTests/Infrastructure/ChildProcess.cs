using System.Diagnostics;
using System.Text;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// One bounded run of a program a test drives (a Python agent, node, npm, the CLI): text on stdin,
/// stdout and stderr read in full, and the program killed with its children when it overstays, so a
/// test never hangs on it.
/// </summary>
public static class ChildProcess
{
    public sealed record Output(int ExitCode, string Stdout, string Stderr);

    public static ProcessStartInfo StartInfo(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return start;
    }

    /// <param name="name">How a failure names the program ("agent.py", "npm install ...").</param>
    /// <param name="missing">What to say when the program cannot be started at all (not installed).</param>
    public static async Task<Output> RunAsync(ProcessStartInfo start, string? stdin, TimeSpan limit, string name, string? missing = null)
    {
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{name} could not be started ({ex.Message}). {missing}", ex);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
                await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();

            using var timeout = new CancellationTokenSource(limit);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                throw new TimeoutException($"{name} did not stop within {limit.TotalSeconds:0} s and was killed.\nstdout:\n{await stdout}\nstderr:\n{await stderr}");
            }
            return new Output(process.ExitCode, await stdout, await stderr);
        }
    }
}
