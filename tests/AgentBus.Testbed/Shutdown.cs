using System.Runtime.InteropServices;

namespace AgentBus.Testbed;

/// <summary>
/// Cancels a run on Ctrl-C, SIGTERM or when its time is up, so it always gets to clean up (a shell's
/// background job ignores SIGINT; `timeout` and CI runners send SIGTERM).
/// </summary>
public sealed class Shutdown : IDisposable
{
    readonly CancellationTokenSource _cancel;
    readonly PosixSignalRegistration _term;
    readonly PosixSignalRegistration _interrupt;

    public Shutdown(TimeSpan limit)
    {
        _cancel = new CancellationTokenSource(limit);
        Limit = limit;
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
    }

    public TimeSpan Limit { get; }

    public CancellationToken Token => _cancel.Token;

    public bool Requested => _cancel.IsCancellationRequested;

    void Handle(PosixSignalContext context)
    {
        context.Cancel = true;
        Console.Error.WriteLine($"{context.Signal}: stopping and cleaning up ...");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        _term.Dispose();
        _interrupt.Dispose();
        _cancel.Dispose();
    }
}
