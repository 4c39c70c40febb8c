using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;

namespace Proofsheet.Webhooks;

/// <summary>
/// Keeps the outbox from growing for ever: delivered rows are deleted once older than
/// <c>Webhooks:RetentionDays</c>, hourly. Dead rows (given up after the last attempt) are kept, so
/// someone can see them and send them again. Each change is one conditional statement, so several
/// app instances may run this at once.
/// </summary>
public sealed class WebhookHousekeeping(
    IDbContextFactory<AppDbContext> dbs,
    WebhookSignal signal,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookHousekeeping> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                var pruned = await PruneDeliveredAsync(stoppingToken);
                if (pruned > 0)
                {
                    logger.LogInformation("Deleted {Count} webhook deliveries delivered more than {Days} days ago", pruned, options.Value.RetentionDays);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database may be briefly unavailable; the rows are still there next hour.
                logger.LogWarning(ex, "Pruning delivered webhook rows failed; trying again in {Interval}", Interval);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Deletes delivered rows older than the retention; returns how many.</summary>
    public async Task<int> PruneDeliveredAsync(CancellationToken ct)
    {
        var cutoff = time.GetUtcNow().UtcDateTime.AddDays(-options.Value.RetentionDays);
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.WebhookDeliveries.Where(d => d.DeliveredAt != null && d.DeliveredAt < cutoff).ExecuteDeleteAsync(ct);
    }

    /// <summary>Dead deliveries, newest first.</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> DeadAsync(int limit, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.WebhookDeliveries.AsNoTracking()
            .Where(d => d.DeliveredAt == null && d.NextAttemptAt == null)
            .OrderByDescending(d => d.CreatedAt)
            .Take(limit)
            .ToListAsync(ct);
    }

    /// <summary>
    /// Queues a dead delivery again, with a fresh set of attempts and the same payload and
    /// signature; false when it is not dead (unknown, delivered, or already queued).
    /// </summary>
    public async Task<bool> RedeliverAsync(string id, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var queued = await db.WebhookDeliveries
            .Where(d => d.Id == id && d.DeliveredAt == null && d.NextAttemptAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Attempts, 0).SetProperty(d => d.NextAttemptAt, now), ct);
        if (queued == 0)
        {
            return false;
        }
        logger.LogInformation("Webhook {DeliveryId} queued for delivery again", id);
        signal.Notify();
        return true;
    }
}
