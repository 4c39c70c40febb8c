using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Images;

/// <summary>
/// Keeps the preview store (folder or bucket) and the database in agreement: unapproved previews older than
/// <c>Storage:PreviewRetentionDays</c> are deleted, published previews are removed once their
/// upload is recorded, and leftovers of interrupted writes (files the database does not know)
/// are cleared. Runs at start and then every <c>Storage:SweepInterval</c>.
/// </summary>
public sealed class PreviewSweeper(
    IDbContextFactory<AppDbContext> dbs,
    IPreviewStore previews,
    IOptionsMonitor<StorageOptions> options,
    TimeProvider time,
    ILogger<PreviewSweeper> logger,
    Publishing.ActiveStore store) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Preview sweep failed; trying again at the next interval");
            }
            try
            {
                await Task.Delay(options.CurrentValue.SweepInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var opts = options.CurrentValue;
        var now = time.GetUtcNow().UtcDateTime;
        var deleted = 0;
        await using var db = await dbs.CreateDbContextAsync(ct);

        // 1. Unapproved previews past retention, except an image being published right now or waiting for its time.
        var cutoff = now.AddDays(-opts.PreviewRetentionDays);
        var publishing = db.Tasks.Where(t => t.Status == WorkflowStatus.Publishing || t.Status == WorkflowStatus.Scheduled).Select(t => t.SelectedImageId);
        var expired = await db.Images
            .Where(i => (i.Status == CandidateStatus.Preview || i.Status == CandidateStatus.Selected)
                && i.GeneratedAt < cutoff && !publishing.Contains(i.Id))
            .ToListAsync(ct);
        foreach (var image in expired)
        {
            image.Status = CandidateStatus.Discarded;
            image.FileDeleted = true;
        }
        var expiredTasks = expired.Where(i => i.TaskId != null).Select(i => i.TaskId!).Distinct().ToList();
        await db.Tasks.Where(t => expiredTasks.Contains(t.Id) && t.SelectedImageId != null && expired.Select(i => i.Id).Contains(t.SelectedImageId))
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.SelectedImageId, (string?)null), ct);
        foreach (var taskId in expiredTasks)
        {
            db.TaskEvents.Add(new TaskEvent
            {
                TaskId = taskId, At = now, Actor = TaskHistory.System, Kind = "previews_expired",
                Detail = $"{expired.Count(i => i.TaskId == taskId)} preview(s) older than {opts.PreviewRetentionDays} days deleted",
            });
        }

        // 1b. Candidates in the trash past its retention: the file goes, the record stays.
        var trashCutoff = now.AddDays(-opts.TrashRetentionDays);
        var trashed = await db.Images.Where(i => i.Status == CandidateStatus.Discarded && !i.FileDeleted && i.TrashedAt != null && i.TrashedAt < trashCutoff)
            .ToListAsync(ct);
        trashed.ForEach(i => i.FileDeleted = true);
        expired.AddRange(trashed);

        // 1c. Images once published (then unpublished, or replaced) that went to the trash and stayed past its retention:
        // their upload leaves the publishing store too, so nothing is left there that no post or candidate can use.
        var uploaded = await db.Images.AsNoTracking()
            .Where(i => i.Status == CandidateStatus.Discarded && i.CdnUrl != null && i.TrashedAt != null && i.TrashedAt < trashCutoff)
            .Select(i => new { i.Id, i.CdnUrl }).ToListAsync(ct);
        foreach (var image in uploaded)
        {
            try
            {
                await store.Store.DeleteAsync(image.CdnUrl!, ct);
            }
            catch (Publishing.PublishingException ex)
            {
                logger.LogWarning(ex, "Could not delete the published image {Url}; trying again at the next sweep", image.CdnUrl);
                continue;
            }
            await db.Images.Where(i => i.Id == image.Id).ExecuteUpdateAsync(u => u.SetProperty(i => i.CdnUrl, (string?)null), ct);
            deleted++;
        }

        // 2. Published images whose preview outlived its upload (a crash after the publish committed).
        if (!opts.KeepPublishedPreviews)
        {
            var published = await db.Images.Where(i => i.Status == CandidateStatus.Published && !i.FileDeleted).ToListAsync(ct);
            published.ForEach(i => i.FileDeleted = true);
            expired.AddRange(published);
        }

        await db.SaveChangesAsync(ct);
        foreach (var image in expired)
        {
            await previews.DeleteAsync(image.FileName, ct);
            deleted++;
        }

        // 3. Files nobody recorded: an interrupted write, or a candidate whose insert never committed.
        // Stems: a preview's derivatives belong to it and go when it goes.
        var known = (await db.Images.AsNoTracking().Where(i => !i.FileDeleted).Select(i => i.FileName).ToListAsync(ct)).Select(PreviewNames.StemOf).ToHashSet();
        // With several nodes on one bucket, a node may see another's write in progress: the grace covers it.
        var orphans = new List<string>();
        await foreach (var file in previews.ListAsync(ct))
        {
            if (now - file.LastModifiedUtc < opts.OrphanGrace || (!file.IsTemporary && known.Contains(PreviewNames.StemOf(file.FileName))))
            {
                continue;
            }
            orphans.Add(file.FileName);
        }
        foreach (var name in orphans)
        {
            await previews.DeleteAsync(name, ct);
            deleted++;
        }
        if (deleted > 0)
        {
            logger.LogInformation("Preview sweep deleted {Count} file(s)", deleted);
        }
        return deleted;
    }
}
