using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Images;

/// <summary>Overrides a caller may give for one generation; the rest comes from the task and <c>Images:*</c>.</summary>
public sealed record GenerationOverrides
{
    public string? Prompt { get; init; }
    public string? NegativePrompt { get; init; }
    public ulong? Seed { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public int? Steps { get; init; }
    public string? Source { get; init; }
}

/// <summary>
/// Makes image candidates and keeps them: variation numbers are reserved on the task first (so a
/// number is never handed out twice, even across a crash), the backend chain draws, each image is
/// written atomically to the preview store and only then recorded.
/// </summary>
public sealed class CandidateGenerator(
    IDbContextFactory<AppDbContext> dbs,
    ImageGeneratorChain chain,
    IPreviewStore previews,
    TaskEventStream stream,
    IOptionsMonitor<ImageOptions> imageOptions,
    ILogger<CandidateGenerator> logger)
{
    /// <param name="fromPipeline">True when the task's pending count is being worked off (the
    /// generating stage); false for an extra request on a task under review.</param>
    public async Task<IReadOnlyList<ImageCandidate>> GenerateForTaskAsync(
        string taskId, int count, GenerationOverrides overrides, bool fromPipeline, string actor, CancellationToken ct)
    {
        var (task, first, exclude) = await ReserveAsync(taskId, count, ct);
        var request = BuildRequest(task, count, first, overrides) with { ExcludeSourceUrls = exclude };
        // A backend reports drawing, then each image is saved: the bar only ever moves forward.
        var high = 0;
        void Report(int done, string? step)
        {
            if (done >= Volatile.Read(ref high))
            {
                Volatile.Write(ref high, done);
                stream.Progress(taskId, new ProgressData(done, count, step, "generating_images"));
            }
        }
        var progress = new InlineProgress(p =>
        {
            if (p.Preview is { } preview)
            {
                // Shown while it denoises, never stored: the finished image replaces it.
                stream.Publish(taskId, new TaskStreamMessage("preview", preview));
                return;
            }
            Report(p.Done, p.Step);
        });
        Report(0, "starting");

        var watch = Stopwatch.StartNew();
        var results = await chain.GenerateAsync(request, overrides.Source ?? task.ImageSource, progress, ct);
        var perImage = watch.Elapsed.TotalSeconds / Math.Max(1, results.Sum(r => r.Images.Count));

        // The previews are written (and flushed to disk, or uploaded) at once rather than one after the
        // other: each write waits for the disk or the bucket, and a batch's files do not depend on one another.
        var images = results.SelectMany(r => r.Images.Select(i => (r.Source, Image: i))).ToList();
        var writes = images.Select((x, i) => Task.Run(() => SaveAsync(x.Source, task.Id, first + i, x.Image, ct), ct)).ToList();
        try
        {
            await Task.WhenAll(writes);
        }
        catch
        {
            foreach (var write in writes.Where(w => w.IsCompletedSuccessfully))
            {
                await previews.DeleteAsync(write.Result.FileName, CancellationToken.None);
            }
            throw;
        }
        finally
        {
            // Every write has finished (WhenAll waits for all, even after a failure): a backend's spool files go now.
            images.ForEach(x => x.Image.Content.Dispose());
        }

        var saved = new List<ImageCandidate>();
        for (var i = 0; i < images.Count; i++)
        {
            ImageCandidate? candidate;
            try
            {
                candidate = await KeepAsync(task.Id, first + i, images[i].Source, images[i].Image, writes[i].Result, request, perImage, fromPipeline, actor, ct);
            }
            catch
            {
                await DeleteFromAsync(writes, i + 1);
                throw;
            }
            if (candidate is null)
            {
                // The task moved on (cancelled, rejected): stop keeping its images.
                await DeleteFromAsync(writes, i + 1);
                return saved;
            }
            saved.Add(candidate);
            Report(saved.Count, "saved");
        }
        return saved;
    }

    private async Task DeleteFromAsync(List<Task<StoredPreview>> writes, int index)
    {
        foreach (var write in writes.Skip(index))
        {
            await previews.DeleteAsync(write.Result.FileName, CancellationToken.None);
        }
    }

    private async Task<StoredPreview> SaveAsync(string source, string owner, int variation, GeneratedImage image, CancellationToken ct)
    {
        await using var content = image.Content.OpenRead();
        return await previews.SaveAsync(source, owner, variation, content, image.ContentType, ct);
    }

    /// <summary>One image outside any task (the media API without a task id).</summary>
    public async Task<ImageCandidate> GenerateStandaloneAsync(GenerationOverrides overrides, CancellationToken ct)
    {
        var id = Ids.New();
        var opts = imageOptions.CurrentValue;
        var request = new ImageRequest
        {
            Prompt = overrides.Prompt!,
            NegativePrompt = overrides.NegativePrompt ?? opts.NegativePrompt,
            Width = overrides.Width ?? opts.Width,
            Height = overrides.Height ?? opts.Height,
            Steps = overrides.Steps ?? opts.Steps,
            Seed = overrides.Seed,
            Count = 1,
            FirstVariation = 1,
            Title = overrides.Prompt,
        };
        var watch = Stopwatch.StartNew();
        var results = await chain.GenerateAsync(request, overrides.Source, null, ct);
        var (source, image) = (results[0].Source, results[0].Images[0]);
        StoredPreview stored;
        try
        {
            stored = await SaveAsync(source, id, 1, image, ct);
        }
        finally
        {
            foreach (var made in results.SelectMany(r => r.Images))
            {
                made.Content.Dispose();
            }
        }
        var candidate = NewCandidate(id, null, 1, source, image, request, stored, watch.Elapsed.TotalSeconds);
        await using var db = await dbs.CreateDbContextAsync(ct);
        db.Images.Add(candidate);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch
        {
            await previews.DeleteAsync(stored.FileName, CancellationToken.None);
            throw;
        }
        return candidate;
    }

    public ImageRequest BuildRequest(ContentTask task, int count, int first, GenerationOverrides overrides)
    {
        var opts = imageOptions.CurrentValue;
        return new ImageRequest
        {
            Prompt = overrides.Prompt ?? task.ImagePrompt ?? task.Title ?? task.Topic,
            // The reviewer's feedback on earlier rounds says what to avoid.
            NegativePrompt = overrides.NegativePrompt ?? (string.IsNullOrWhiteSpace(task.NegativeHint) ? opts.NegativePrompt
                : string.IsNullOrWhiteSpace(opts.NegativePrompt) ? task.NegativeHint : $"{opts.NegativePrompt}, {task.NegativeHint}"),
            Width = overrides.Width ?? opts.Width,
            Height = overrides.Height ?? opts.Height,
            Steps = overrides.Steps ?? opts.Steps,
            Seed = overrides.Seed,
            Count = count,
            FirstVariation = first,
            Title = task.Title ?? task.Topic,
            Topic = task.Topic,
            Keywords = (task.Keywords ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
    }

    private async Task<(ContentTask Task, int First, string[] Exclude)> ReserveAsync(string taskId, int count, CancellationToken ct)
    {
        while (true)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var task = await db.Tasks.SingleAsync(t => t.Id == taskId, ct);
            var first = task.NextVariation;
            task.NextVariation += count;
            try
            {
                await db.SaveChangesAsync(ct);
                var exclude = await db.Images.AsNoTracking()
                    .Where(i => i.TaskId == taskId && i.SourceUrl != null)
                    .Select(i => i.SourceUrl!)
                    .ToArrayAsync(ct);
                return (task, first, exclude);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Someone else changed the task meanwhile (an edit, another generation): read it again.
            }
        }
    }

    /// <summary>Records a written preview as the task's candidate; deletes the file when the task no longer takes it.</summary>
    private async Task<ImageCandidate?> KeepAsync(
        string taskId, int variation, string source, GeneratedImage image, StoredPreview stored, ImageRequest request,
        double seconds, bool fromPipeline, string actor, CancellationToken ct)
    {
        var candidate = NewCandidate(Ids.New(), taskId, variation, source, image, request, stored, seconds);
        try
        {
            while (true)
            {
                await using var db = await dbs.CreateDbContextAsync(ct);
                var task = await db.Tasks.SingleAsync(t => t.Id == taskId, ct);
                if (task.Status is not (WorkflowStatus.GeneratingImages or WorkflowStatus.AwaitingApproval))
                {
                    logger.LogInformation("Task {TaskId} is {Status}; its new image is not kept", taskId, task.Status);
                    await previews.DeleteAsync(stored.FileName, CancellationToken.None);
                    return null;
                }
                candidate.Round = task.Round;
                db.Images.Add(candidate);
                if (fromPipeline)
                {
                    task.ImagesPending = Math.Max(0, task.ImagesPending - 1);
                }
                db.Record(task, "image_generated", actor, $"Image {variation} by {source}"
                    + (image.Model is null ? "" : $" with {image.Model}") + (image.Note is null ? "" : $" ({image.Note})"));
                try
                {
                    await db.SaveAndAnnounceAsync(stream, ct);
                    stream.Publish(taskId, new TaskStreamMessage("image", new
                    {
                        image_id = candidate.Id,
                        index = variation,
                        source,
                        preview_url = $"/api/media/images/{candidate.Id}/file",
                    }));
                    return candidate;
                }
                catch (DbUpdateConcurrencyException)
                {
                    // The task row changed under us (an edit, a selection): try again on a fresh read.
                }
            }
        }
        catch
        {
            await previews.DeleteAsync(stored.FileName, CancellationToken.None);
            throw;
        }
    }

    private static ImageCandidate NewCandidate(
        string id, string? taskId, int variation, string source, GeneratedImage image, ImageRequest request, StoredPreview stored, double seconds) => new()
    {
        Id = id,
        TaskId = taskId,
        Variation = variation,
        Prompt = request.Prompt,
        NegativePrompt = request.NegativePrompt,
        Seed = image.Seed,
        Source = source,
        Model = image.Model,
        FileName = stored.FileName,
        ContentType = image.ContentType,
        Width = image.Width,
        Height = image.Height,
        ByteSize = stored.ByteSize,
        Sha256 = stored.Sha256,
        GeneratedAt = DateTime.UtcNow,
        GenerationSeconds = Math.Round(seconds, 3),
        AttributionName = image.Attribution?.Name,
        AttributionUrl = image.Attribution?.Url,
        SourceUrl = image.SourceUrl,
        Status = CandidateStatus.Preview,
    };

    /// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class InlineProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
