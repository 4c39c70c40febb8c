using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Cluster;
using Proofsheet.Data;

namespace Proofsheet.Tasks;

/// <summary>
/// Runs the pipeline for queued work with bounded concurrency. On start it picks up every task
/// left in a working status (a crash or restart loses nothing); a periodic poll finds retries
/// that have come due and tasks whose node died. Before running a task a runner claims its lease,
/// so across any number of nodes each step runs once.
/// </summary>
public sealed class TaskWorker(
    TaskQueue queue,
    TaskPipeline pipeline,
    TaskLeases leases,
    IDbContextFactory<AppDbContext> dbs,
    IOptionsMonitor<PipelineOptions> options,
    ILogger<TaskWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await leases.RecoverAsync(stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Releasing the leases of an earlier run failed; they expire on their own");
        }
        var runners = Enumerable.Range(0, options.CurrentValue.MaxConcurrency)
            .Select(_ => RunnerAsync(stoppingToken))
            .ToList();
        runners.Add(PollAsync(stoppingToken));
        await Task.WhenAll(runners);
    }

    private async Task PollAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await EnqueueDueAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Looking for due tasks failed; trying again shortly");
            }
            try
            {
                await Task.Delay(options.CurrentValue.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task EnqueueDueAsync(CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var due = await db.Tasks.AsNoTracking()
            .Where(t => WorkflowStatuses.Working.Contains(t.Status) && (t.NextAttemptAt == null || t.NextAttemptAt <= now)
                && (t.LeaseOwner == null || t.LeaseExpiresAt < now))
            .OrderBy(t => t.Id)
            .Select(t => t.Id)
            .Take(1000)
            .ToListAsync(ct);
        foreach (var id in due)
        {
            queue.Enqueue(id);
        }
    }

    private async Task RunnerAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var taskId in queue.Reader.ReadAllAsync(stoppingToken))
            {
                var again = true;
                while (again && !stoppingToken.IsCancellationRequested)
                {
                    var cts = queue.TryStart(taskId, stoppingToken);
                    if (cts is null)
                    {
                        break;
                    }
                    // Every log line of this task's work, in any class, carries its id.
                    using var scope = logger.BeginScope(new Dictionary<string, object?> { ["TaskId"] = taskId });
                    try
                    {
                        await RunLeasedAsync(taskId, cts, stoppingToken);
                    }
                    catch (OperationCanceledException) when (cts.IsCancellationRequested)
                    {
                        logger.LogInformation("Work on task {TaskId} was stopped", taskId);
                    }
                    catch (Exception ex)
                    {
                        // The pipeline records failures itself; this is a failure to record one (the
                        // database is away?). The poll brings the task back.
                        logger.LogError(ex, "Task {TaskId} could not be processed", taskId);
                    }
                    finally
                    {
                        again = queue.Finish(taskId);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Runs the task while holding its lease: claimed first, renewed meanwhile, released after.</summary>
    private async Task RunLeasedAsync(string taskId, CancellationTokenSource work, CancellationToken stoppingToken)
    {
        if (!await leases.TryClaimAsync(taskId, stoppingToken))
        {
            return; // another node runs it, or it is no longer due
        }
        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewal = RenewAsync(taskId, work, renewing.Token);
        try
        {
            await pipeline.RunAsync(taskId, work.Token);
        }
        finally
        {
            await renewing.CancelAsync();
            await renewal;
            try
            {
                await leases.ReleaseAsync(taskId, CancellationToken.None);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Releasing the lease on task {TaskId} failed; it expires on its own", taskId);
            }
        }
    }

    private async Task RenewAsync(string taskId, CancellationTokenSource work, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(leases.Duration / 3, ct);
                if (!await leases.RenewAsync(taskId, ct))
                {
                    // Cancelled from another node, or the lease passed to another node while this
                    // one was stalled: the step must not go on here.
                    logger.LogInformation("Task {TaskId} is no longer this node's to run; stopping its work", taskId);
                    await work.CancelAsync();
                    return;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database is away: keep working; the next renewal tries again before expiry.
                logger.LogWarning(ex, "Renewing the lease on task {TaskId} failed", taskId);
            }
        }
    }
}
