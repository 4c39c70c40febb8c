using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;

namespace Proofsheet.Tasks;

/// <summary>
/// Runs the pipeline for queued work with bounded concurrency. On start it picks up every task
/// left in a working status (a crash or restart loses nothing); a periodic poll finds retries
/// that have come due.
/// </summary>
public sealed class TaskWorker(
    TaskQueue queue,
    TaskPipeline pipeline,
    IDbContextFactory<AppDbContext> dbs,
    IOptionsMonitor<PipelineOptions> options,
    ILogger<TaskWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
            .Where(t => WorkflowStatuses.Working.Contains(t.Status) && (t.NextAttemptAt == null || t.NextAttemptAt <= now))
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
                    try
                    {
                        await pipeline.RunAsync(taskId, cts.Token);
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
}
