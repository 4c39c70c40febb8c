using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Cluster;

public sealed record HeldTask(string Id, string Label, string Status);

public sealed record NodeView(string Id, string Host, string? Version, DateTime StartedAt, DateTime HeartbeatAt, bool IsThisNode, bool IsSilent, IReadOnlyList<HeldTask> Tasks);

/// <summary>The nodes as their heartbeats and task leases tell it, for the Hub's health page.</summary>
public sealed class ClusterStatus(IDbContextFactory<AppDbContext> dbs, NodeIdentity node, Microsoft.Extensions.Options.IOptionsMonitor<PipelineOptions> options, TimeProvider time)
{
    public async Task<IReadOnlyList<NodeView>> ReadAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var nodes = await db.Nodes.AsNoTracking().OrderBy(n => n.StartedAt).ToListAsync(ct);
        var held = await db.Tasks.AsNoTracking()
            .Where(t => t.LeaseOwner != null && t.LeaseExpiresAt > now)
            .Select(t => new { t.LeaseOwner, t.Id, Label = t.Title ?? t.Topic, t.Status })
            .ToListAsync(ct);
        // A node is silent once it has missed a lease's worth of heartbeats: its tasks pass to others.
        var silentAfter = options.CurrentValue.LeaseDuration;
        return nodes.Select(n => new NodeView(
                n.Id, n.Host, n.Version, n.StartedAt, n.HeartbeatAt, n.Id == node.Id, now - n.HeartbeatAt > silentAfter,
                held.Where(t => t.LeaseOwner == n.Id).Select(t => new HeldTask(t.Id, t.Label, t.Status.ToWire())).ToList()))
            .ToList();
    }
}
