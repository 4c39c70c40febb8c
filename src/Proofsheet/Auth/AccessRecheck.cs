using Proofsheet.People;

namespace Proofsheet.Auth;

/// <summary>
/// An event stream stays open as long as its page or client does, long after the request that opened it
/// was authenticated. Before sending, the stream asks again (at most once a second) whether whoever opened
/// it still may: the Hub session is not revoked, the API key not revoked, the person not removed. The
/// answer comes from the database, so a revocation on any node stops streams on every node.
/// </summary>
public sealed class AccessRecheck
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    private readonly Func<CancellationToken, Task<bool>> _stillAllowed;
    private readonly TimeProvider _time;
    private long _checkedAt;

    private AccessRecheck(Func<CancellationToken, Task<bool>> stillAllowed, TimeProvider time)
    {
        _stillAllowed = stillAllowed;
        _time = time;
        _checkedAt = time.GetTimestamp();
    }

    /// <summary>For the request that opens the stream: its Hub session, or else the API key it presented.</summary>
    public static AccessRecheck For(HttpContext http)
    {
        var services = http.RequestServices;
        var time = services.GetRequiredService<TimeProvider>();
        if (http.User.SessionId() is { } session)
        {
            var people = services.GetRequiredService<PeopleStore>();
            return new(async ct => await people.SessionPersonAsync(session, ct) is not null, time);
        }
        if (AuthExtensions.PresentedApiKey(http.Request) is { } key)
        {
            var keys = services.GetRequiredService<ApiKeyStore>();
            return new(async ct => await keys.FindAsync(key, ct) is not null, time);
        }
        // Not reached for routes that need someone: the request was refused before a stream opened.
        return new(_ => Task.FromResult(true), time);
    }

    /// <summary>True when the last look is recent or a new look says yes.</summary>
    public async ValueTask<bool> StillAllowedAsync(CancellationToken ct)
    {
        if (_time.GetElapsedTime(_checkedAt) < Every)
        {
            return true;
        }
        if (!await _stillAllowed(ct))
        {
            return false;
        }
        _checkedAt = _time.GetTimestamp();
        return true;
    }
}
