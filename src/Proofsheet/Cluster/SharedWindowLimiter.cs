using System.Threading.RateLimiting;

namespace Proofsheet.Cluster;

/// <summary>
/// A fixed-window rate limiter whose count lives in the database (<see cref="RateCounters"/>), so
/// a client spreading requests over several nodes gets the allowance once, not once per node.
/// ASP.NET Core's rate-limiting middleware first tries the synchronous path and then waits on the
/// asynchronous one; the database is only asked on the asynchronous path.
/// </summary>
public sealed class SharedWindowLimiter(RateCounters counters, string key, int permitLimit, TimeSpan window) : RateLimiter
{
    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics() => null;

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => Lease.Undecided;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        var hit = await counters.HitAsync(key, window, cancellationToken);
        return hit.Count <= permitLimit ? Lease.Granted : new Lease(false, hit.Remaining);
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Granted = new(true, null);
        public static readonly Lease Undecided = new(false, null);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = retryAfter;
            return retryAfter is not null && metadataName == MetadataName.RetryAfter.Name;
        }
    }
}
