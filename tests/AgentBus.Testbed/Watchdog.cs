using System.Diagnostics;

namespace AgentBus.Testbed;

/// <summary>
/// A small shell loop that outlives this program: if the run dies without cleaning up (Ctrl-C twice,
/// SIGKILL, a crash), it SIGKILLs every process started with this run's tag in its environment,
/// so no service is left consuming from a vhost that is about to vanish.
/// </summary>
public sealed class Watchdog : IDisposable
{
    const string Script = """
        while kill -0 "$0" 2>/dev/null; do sleep 1; done
        for p in /proc/[0-9]*; do
          if tr '\0' '\n' < "$p/environ" 2>/dev/null | grep -qx "AGENTBUS_TESTBED_RUN=$1"; then kill -9 "${p#/proc/}" 2>/dev/null; fi
        done
        """;

    readonly Process _process;

    public Watchdog(string runTag)
    {
        RunTag = runTag;
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        foreach (var argument in new[] { "-c", Script, Environment.ProcessId.ToString(), runTag })
            start.ArgumentList.Add(argument);
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the watchdog.");
    }

    public string RunTag { get; }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Gone already.
        }
        _process.Dispose();
    }
}
