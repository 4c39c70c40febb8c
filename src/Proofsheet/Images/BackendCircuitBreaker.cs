using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// Remembers which image backends keep failing: after <see cref="CircuitBreakerOptions.FailureThreshold"/>
/// failures in a row a backend is skipped for <see cref="CircuitBreakerOptions.BreakDuration"/>, so that a
/// dead server does not cost every request its timeout. After the pause one request tries it again;
/// a success closes the circuit, a failure opens it for another pause.
/// </summary>
public sealed class BackendCircuitBreaker(IOptionsMonitor<CircuitBreakerOptions> options, TimeProvider time)
{
    private sealed class State
    {
        public int ConsecutiveFailures;
        public DateTimeOffset OpenUntil;
    }

    private readonly Dictionary<string, State> _states = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    /// <summary>When the backend is being skipped, the time it will be tried again.</summary>
    public DateTimeOffset? SkippedUntil(string backend)
    {
        lock (_lock)
        {
            return _states.TryGetValue(backend, out var s) && s.OpenUntil > time.GetUtcNow() ? s.OpenUntil : null;
        }
    }

    public void RecordSuccess(string backend)
    {
        lock (_lock)
        {
            _states.Remove(backend);
        }
    }

    /// <returns>True when this failure opened the circuit.</returns>
    public bool RecordFailure(string backend)
    {
        var o = options.CurrentValue;
        lock (_lock)
        {
            if (!_states.TryGetValue(backend, out var s))
            {
                _states[backend] = s = new State();
            }
            s.ConsecutiveFailures++;
            if (s.ConsecutiveFailures >= o.FailureThreshold)
            {
                s.OpenUntil = time.GetUtcNow() + o.BreakDuration;
                return true;
            }
            return false;
        }
    }
}
