using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Proofsheet.Health;

/// <summary>
/// Keeps each paid or remote backend's last health answer for a while, so that a load balancer polling
/// <c>/health/ready</c> and a reviewer on the health page do not each cost a call to the service.
/// </summary>
public sealed class HealthCheckCache(TimeProvider time)
{
    public static readonly TimeSpan For = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, (DateTimeOffset At, HealthCheckResult Result)> _results = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new();

    public async Task<HealthCheckResult> GetAsync(string name, Func<CancellationToken, Task<HealthCheckResult>> check, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            if (_results.TryGetValue(name, out var hit) && now - hit.At < For)
            {
                return hit.Result;
            }
            var result = await check(ct);
            var data = new Dictionary<string, object>(result.Data) { ["checked at"] = now.ToString("u", System.Globalization.CultureInfo.InvariantCulture) };
            result = new HealthCheckResult(result.Status, result.Description, result.Exception, data);
            _results[name] = (now, result);
            return result;
        }
        finally
        {
            gate.Release();
        }
    }
}

/// <summary>Runs <typeparamref name="T"/> through the <see cref="HealthCheckCache"/>.</summary>
public sealed class CachedHealthCheck<T>(T inner, HealthCheckCache cache) : IHealthCheck where T : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        cache.GetAsync(context.Registration.Name, ct => inner.CheckHealthAsync(context, ct), cancellationToken);
}

public static class CachedHealthChecks
{
    /// <summary>Adds a backend check whose answer is kept for <see cref="HealthCheckCache.For"/>.</summary>
    public static IHealthChecksBuilder AddCachedCheck<T>(this IHealthChecksBuilder builder, string name) where T : class, IHealthCheck
    {
        builder.Services.AddSingleton<HealthCheckCache>();
        builder.Services.AddTransient<T>();
        return builder.Add(new HealthCheckRegistration(name,
            sp => new CachedHealthCheck<T>(sp.GetRequiredService<T>(), sp.GetRequiredService<HealthCheckCache>()),
            failureStatus: null, tags: [HealthExtensions.BackendTag]));
    }
}
