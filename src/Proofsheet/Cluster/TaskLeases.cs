using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Cluster;

/// <summary>
/// A task step runs on exactly one node at a time. The claim is one conditional UPDATE on the
/// task row (owner and expiry), so two nodes racing for a task cannot both win; the holder renews
/// it while the step runs and clears it when the step ends. A node that dies stops renewing, and
/// another node takes the task once the lease has expired.
/// </summary>
public sealed class TaskLeases(
    IDbContextFactory<AppDbContext> dbs,
    NodeIdentity node,
    DataExtensions.DatabaseInfo database,
    IOptionsMonitor<PipelineOptions> options,
    TimeProvider time)
{
    public TimeSpan Duration => options.CurrentValue.LeaseDuration;

    /// <summary>Takes the task for this node if it is due, working and not held by a live lease of another node.</summary>
    public async Task<bool> TryClaimAsync(string taskId, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var until = now + Duration;
        var me = node.Id;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var claimed = await db.Tasks
            .Where(t => t.Id == taskId
                && WorkflowStatuses.Working.Contains(t.Status)
                && (t.NextAttemptAt == null || t.NextAttemptAt <= now)
                && (t.LeaseOwner == null || t.LeaseOwner == me || t.LeaseExpiresAt < now))
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LeaseOwner, me).SetProperty(t => t.LeaseExpiresAt, until), ct);
        return claimed == 1;
    }

    /// <summary>
    /// Extends the lease of a task this node runs. False when the lease is no longer ours or the
    /// task left its working status (cancelled on another node): the work in flight must stop.
    /// </summary>
    public async Task<bool> RenewAsync(string taskId, CancellationToken ct)
    {
        var until = time.GetUtcNow().UtcDateTime + Duration;
        var me = node.Id;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var renewed = await db.Tasks
            .Where(t => t.Id == taskId && t.LeaseOwner == me && WorkflowStatuses.Working.Contains(t.Status))
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LeaseExpiresAt, until), ct);
        return renewed == 1;
    }

    public async Task ReleaseAsync(string taskId, CancellationToken ct)
    {
        var me = node.Id;
        await using var db = await dbs.CreateDbContextAsync(ct);
        await db.Tasks
            .Where(t => t.Id == taskId && t.LeaseOwner == me)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LeaseOwner, (string?)null).SetProperty(t => t.LeaseExpiresAt, (DateTime?)null), ct);
    }

    /// <summary>
    /// On SQLite this process is the only node (a second one is refused at start), so leases left by
    /// a process that died are released at once instead of waiting out their expiry.
    /// </summary>
    public async Task RecoverAsync(CancellationToken ct)
    {
        if (database.IsPostgres)
        {
            return;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        await db.Tasks
            .Where(t => t.LeaseOwner != null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LeaseOwner, (string?)null).SetProperty(t => t.LeaseExpiresAt, (DateTime?)null), ct);
    }
}
