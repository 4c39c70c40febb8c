using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;

namespace Proofsheet.Cluster;

/// <summary>
/// Keeps this node's row in <c>nodes</c> fresh (the Hub's health page lists the nodes and what
/// each holds), removes it on a clean stop, and tidies what the cluster no longer needs: rows of
/// nodes long gone and rate counters whose window ended.
/// </summary>
public sealed class NodeHeartbeat(
    IDbContextFactory<AppDbContext> dbs,
    NodeIdentity node,
    RateCounters counters,
    IOptionsMonitor<PipelineOptions> options,
    TimeProvider time,
    ILogger<NodeHeartbeat> logger) : BackgroundService
{
    internal static readonly TimeSpan ForgetAfter = TimeSpan.FromDays(1);

    private readonly DateTime _startedAt = time.GetUtcNow().UtcDateTime;
    private DateTime _lastTidy;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await BeatAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Recording this node's heartbeat failed: {Reason}", ex.Message);
            }
            try
            {
                await Task.Delay(options.CurrentValue.LeaseDuration / 3, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    internal async Task BeatAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var row = await db.Nodes.SingleOrDefaultAsync(n => n.Id == node.Id, ct);
        if (row is null)
        {
            db.Nodes.Add(new Node { Id = node.Id, Host = node.Host, Version = NodeIdentity.Version, StartedAt = _startedAt, HeartbeatAt = now });
        }
        else
        {
            row.HeartbeatAt = now;
        }
        await db.SaveChangesAsync(ct);
        if (now - _lastTidy > TimeSpan.FromHours(1))
        {
            _lastTidy = now;
            var cutoff = now - ForgetAfter;
            await db.Nodes.Where(n => n.HeartbeatAt < cutoff).ExecuteDeleteAsync(ct);
            await counters.PruneAsync(ForgetAfter, ct);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await using var db = await dbs.CreateDbContextAsync(cancellationToken);
            await db.Nodes.Where(n => n.Id == node.Id).ExecuteDeleteAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogDebug(ex, "Removing this node's row on stop failed; it is forgotten a day after its last heartbeat");
        }
    }
}
