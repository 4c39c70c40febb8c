using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Publishing;

/// <summary>
/// Puts scheduled posts live when their time comes. Every node runs this poll; nothing about which
/// posts are due, or who publishes them, is held in memory: the time is a column, and each publish is
/// one commit guarded by the task row's concurrency token (<see cref="Publisher.GoLiveAsync"/>), so a
/// restart loses nothing and two nodes polling at once publish each post once.
/// </summary>
public sealed class ScheduledPublisher(
    IDbContextFactory<AppDbContext> dbs,
    Publisher publisher,
    IOptionsMonitor<PublishingOptions> options,
    TimeProvider time,
    ILogger<ScheduledPublisher> logger) : BackgroundService
{
    private long _passes;

    /// <summary>Polls finished since start (each has already set the timer of the next).</summary>
    public long Passes => Interlocked.Read(ref _passes);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            // Polls start an interval apart however long one takes, so a post goes live at most one interval late.
            var next = Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.SchedulePollSeconds), time, stoppingToken);
            try
            {
                await PublishDueAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The database may be away for a moment; the rows wait for the next pass.
                logger.LogWarning(ex, "Looking for scheduled posts that are due failed; trying again at the next poll");
            }
            Interlocked.Increment(ref _passes);
            try
            {
                await next;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Publishes every scheduled post whose time has come; returns how many this call published.</summary>
    public async Task<int> PublishDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        List<string> due;
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            due = await db.Tasks.AsNoTracking()
                .Where(t => t.Status == WorkflowStatus.Scheduled && t.PublishAt <= now)
                .OrderBy(t => t.PublishAt)
                .Select(t => t.Id)
                .Take(500)
                .ToListAsync(ct);
        }
        var published = 0;
        foreach (var id in due)
        {
            if (await publisher.GoLiveAsync(id, ct))
            {
                published++;
            }
        }
        return published;
    }
}
