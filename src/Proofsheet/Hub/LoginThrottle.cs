using Proofsheet.Cluster;

namespace Proofsheet.Hub;

/// <summary>
/// Failed Hub logins per client address: after five failures in fifteen minutes, that address is
/// refused until the window ends. Counted in the database, so every node behind the load balancer
/// refuses it alike.
/// </summary>
public sealed class LoginThrottle(RateCounters counters)
{
    public const int MaxFailures = 5;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    public async Task<bool> IsLockedOutAsync(string client, CancellationToken ct) =>
        (await counters.PeekAsync(Key(client), Window, ct)).Count >= MaxFailures;

    public Task FailedAsync(string client, CancellationToken ct) => counters.HitAsync(Key(client), Window, ct);

    private static string Key(string client) => "login-failures:" + client;
}
