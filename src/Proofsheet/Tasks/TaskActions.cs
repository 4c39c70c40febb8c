using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Telemetry;

namespace Proofsheet.Tasks;

public enum OutcomeKind
{
    Ok,
    NotFound,
    Conflict,
    Invalid,
}

/// <summary>What a reviewer's action came to: done, or why not (not-found, conflict and invalid are values, not exceptions).</summary>
public sealed record Outcome(OutcomeKind Kind, string? Detail = null, string? Field = null)
{
    public static readonly Outcome Done = new(OutcomeKind.Ok);
    public static Outcome NotFound(string detail) => new(OutcomeKind.NotFound, detail);
    public static Outcome Conflict(string detail) => new(OutcomeKind.Conflict, detail);
    public static Outcome Invalid(string field, string detail) => new(OutcomeKind.Invalid, detail, field);
}

/// <summary>Which candidate a request means: by id, or by the task's variation number.</summary>
public sealed record ImageChoice(string? ImageId, int? Index)
{
    public bool IsEmpty => ImageId is null && Index is null;
}

public sealed record TaskEdits(string? Title, string? Excerpt, string? Content, string? ImagePrompt, string? ImageAlt);

/// <summary>
/// Reviewers' actions on a task, shared by the API and the Oversight Hub. Each reads the row,
/// checks the status allows the action, and saves under the row's concurrency token, so two
/// people acting at once cannot both win.
/// </summary>
public sealed class TaskActions(
    IDbContextFactory<AppDbContext> dbs,
    TaskQueue queue,
    TaskEventStream stream,
    IPreviewStore previews,
    IOptionsMonitor<ImageOptions> imageOptions,
    IOptionsMonitor<PipelineOptions> pipelineOptions)
{
    private static readonly WorkflowStatus[] Reviewable = [WorkflowStatus.AwaitingApproval, WorkflowStatus.GeneratingImages];

    public async Task<(Outcome Outcome, ContentTask? Task)> CreateAsync(
        string topic, string? tone, string? audience, int targetWords, int variations, string? imageSource, string actor, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = DateTime.UtcNow;
        var task = new ContentTask
        {
            Id = Ids.New(),
            Topic = topic,
            Tone = tone,
            Audience = audience,
            TargetWords = targetWords,
            NumVariations = variations,
            ImageSource = imageSource,
            Status = WorkflowStatus.Queued,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Tasks.Add(task);
        db.Record(task, "created", actor, topic);
        await db.SaveAndAnnounceAsync(stream, ct);
        queue.Enqueue(task.Id);
        return (Outcome.Done, task);
    }

    public Task<Outcome> EditAsync(string taskId, TaskEdits edits, string actor, CancellationToken ct) =>
        MutateAsync(taskId, (db, task) =>
        {
            if (task.Status is not (WorkflowStatus.GeneratingImages or WorkflowStatus.AwaitingApproval or WorkflowStatus.Failed))
            {
                return Task.FromResult(Outcome.Conflict($"A task that is {task.Status.ToWire()} cannot be edited; edits are possible once the draft is written and until it is approved."));
            }
            var changed = new List<string>();
            void Set(string name, string? value, Func<string?> get, Action<string> set)
            {
                if (value is not null && value != get())
                {
                    set(value);
                    changed.Add(name);
                }
            }
            Set("title", edits.Title, () => task.Title, v => task.Title = v);
            Set("excerpt", edits.Excerpt, () => task.Excerpt, v => task.Excerpt = v);
            Set("content", edits.Content, () => task.Content, v => task.Content = v);
            Set("image_prompt", edits.ImagePrompt, () => task.ImagePrompt, v => task.ImagePrompt = v);
            Set("image_alt", edits.ImageAlt, () => task.ImageAlt, v => task.ImageAlt = v);
            if (changed.Count > 0)
            {
                db.Record(task, "edited", actor, string.Join(", ", changed));
            }
            return Task.FromResult(Outcome.Done);
        }, ct);

    public Task<Outcome> SelectAsync(string taskId, ImageChoice choice, string actor, CancellationToken ct) =>
        MutateAsync(taskId, async (db, task) =>
        {
            if (!Reviewable.Contains(task.Status))
            {
                return Outcome.Conflict($"A task that is {task.Status.ToWire()} has no candidates to choose from.");
            }
            var (outcome, candidate) = await FindCandidateAsync(db, task, choice, ct);
            if (candidate is null)
            {
                return outcome;
            }
            await MarkSelectedAsync(db, task, candidate, ct);
            db.Record(task, "image_selected", actor, $"var{candidate.Variation} ({candidate.Source})");
            return Outcome.Done;
        }, ct);

    /// <summary>Approves once: a second approval of the same image, or a concurrent one, finds the task already publishing.</summary>
    public async Task<Outcome> ApproveAsync(string taskId, ImageChoice choice, string? feedback, string actor, CancellationToken ct)
    {
        (int Candidates, DateTime? AwaitingSince) measured = default;
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            if (task.Status is WorkflowStatus.Publishing or WorkflowStatus.Published)
            {
                if (!choice.IsEmpty)
                {
                    var (_, named) = await FindCandidateAsync(db, task, choice, ct);
                    if (named is not null && named.Id != task.SelectedImageId)
                    {
                        return Outcome.Conflict("This task was already approved with another image.");
                    }
                }
                return new Outcome(OutcomeKind.Ok, "already approved");
            }
            if (task.Status != WorkflowStatus.AwaitingApproval)
            {
                return Outcome.Conflict(task.Status == WorkflowStatus.GeneratingImages
                    ? "Images are still being generated; approve when they are ready."
                    : $"A task that is {task.Status.ToWire()} cannot be approved.");
            }
            var effective = choice.IsEmpty && task.SelectedImageId is not null ? new ImageChoice(task.SelectedImageId, null) : choice;
            if (effective.IsEmpty)
            {
                return Outcome.Invalid("image_id", "Select an image first, or name one with index or image_id.");
            }
            var (found, candidate) = await FindCandidateAsync(db, task, effective, ct);
            if (candidate is null)
            {
                return found;
            }
            if (candidate.FileDeleted || !await previews.ExistsAsync(candidate.FileName, ct))
            {
                return Outcome.Conflict($"The preview file of image {candidate.Variation} is gone; choose another image.");
            }
            var awaiting = WorkflowStatus.AwaitingApproval.ToWire();
            measured = (
                await db.Images.CountAsync(i => i.TaskId == task.Id && i.Status != CandidateStatus.Discarded, ct),
                await db.TaskEvents.Where(e => e.TaskId == task.Id && e.ToStatus == awaiting).MaxAsync(e => (DateTime?)e.At, ct));
            await MarkSelectedAsync(db, task, candidate, ct);
            task.ApprovedBy = actor;
            task.ApprovedAt = DateTime.UtcNow;
            task.Attempts = 0;
            task.Error = null;
            task.NextAttemptAt = null;
            db.Record(task, "approved", actor, string.IsNullOrWhiteSpace(feedback) ? $"var{candidate.Variation}" : $"var{candidate.Variation}: {feedback}");
            db.MoveTo(task, WorkflowStatus.Publishing, actor);
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            if (outcome == Outcome.Done)
            {
                ProofsheetTelemetry.CandidatesPerApproval.Record(measured.Candidates);
                if (measured.AwaitingSince is { } since)
                {
                    ProofsheetTelemetry.ApprovalLatency.Record(Math.Max(0, (DateTime.UtcNow - since).TotalSeconds));
                }
            }
            queue.Enqueue(taskId);
        }
        return outcome;
    }

    /// <summary>Waits (bounded by <c>Pipeline:ApproveWait</c>) until an approved task has left <c>publishing</c>.</summary>
    public async Task WaitForPublishAsync(string taskId, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(pipelineOptions.CurrentValue.ApproveWait);
        using var subscription = stream.Subscribe(taskId);
        try
        {
            while (true)
            {
                await using (var db = await dbs.CreateDbContextAsync(timeout.Token))
                {
                    var status = await db.Tasks.Where(t => t.Id == taskId).Select(t => t.Status).SingleAsync(timeout.Token);
                    if (status != WorkflowStatus.Publishing)
                    {
                        return;
                    }
                }
                // Any message about the task is a reason to look again; an upload retry may take a while.
                await subscription.Reader.WaitToReadAsync(timeout.Token);
                while (subscription.Reader.TryRead(out _))
                {
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
    }

    public async Task<Outcome> RejectAsync(string taskId, string feedback, string? newPrompt, string actor, CancellationToken ct)
    {
        var discarded = new List<string>();
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            discarded.Clear();
            if (task.Status is not (WorkflowStatus.AwaitingApproval or WorkflowStatus.GeneratingImages or WorkflowStatus.Failed))
            {
                return Outcome.Conflict($"A task that is {task.Status.ToWire()} cannot be rejected.");
            }
            discarded.AddRange(await DiscardPreviewsAsync(db, task, ct));
            task.SelectedImageId = null;
            if (string.IsNullOrWhiteSpace(newPrompt))
            {
                task.ImagesPending = 0;
                db.Record(task, "rejected", actor, feedback);
                db.MoveTo(task, WorkflowStatus.Rejected, actor, feedback);
            }
            else
            {
                task.ImagePrompt = newPrompt;
                task.ImagesPending = task.NumVariations;
                task.Attempts = 0;
                task.Error = null;
                task.NextAttemptAt = null;
                task.FailedStatus = null;
                db.Record(task, "rejected", actor, $"{feedback} — new prompt: {newPrompt}");
                if (task.Status != WorkflowStatus.GeneratingImages)
                {
                    db.MoveTo(task, WorkflowStatus.GeneratingImages, actor, "regenerating with a new prompt");
                }
            }
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            // Files go only after the database says they are discarded: never a row without its file.
            await DeleteFilesAsync(discarded);
            if (!string.IsNullOrWhiteSpace(newPrompt))
            {
                queue.Cancel(taskId);
                queue.Enqueue(taskId);
            }
        }
        return outcome;
    }

    /// <summary>Adds <paramref name="count"/> candidates to a task under review, in the background.</summary>
    public async Task<Outcome> GenerateMoreAsync(string taskId, int count, string? prompt, string actor, CancellationToken ct)
    {
        var outcome = await MutateAsync(taskId, (db, task) =>
        {
            if (!Reviewable.Contains(task.Status))
            {
                return Task.FromResult(Outcome.Conflict($"A task that is {task.Status.ToWire()} cannot get more images."));
            }
            if (task.ImagesPending + count > imageOptions.CurrentValue.MaxVariations)
            {
                return Task.FromResult(Outcome.Invalid("num_variations", $"At most {imageOptions.CurrentValue.MaxVariations} images can be generated at once."));
            }
            if (!string.IsNullOrWhiteSpace(prompt))
            {
                task.ImagePrompt = prompt;
            }
            task.ImagesPending += count;
            db.Record(task, "more_images_requested", actor, $"{count} with prompt: {task.ImagePrompt}");
            if (task.Status != WorkflowStatus.GeneratingImages)
            {
                db.MoveTo(task, WorkflowStatus.GeneratingImages, actor);
            }
            return Task.FromResult(Outcome.Done);
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            queue.Enqueue(taskId);
        }
        return outcome;
    }

    public async Task<Outcome> CancelAsync(string taskId, string actor, CancellationToken ct)
    {
        var discarded = new List<string>();
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            discarded.Clear();
            if (task.Status is WorkflowStatus.Publishing or WorkflowStatus.Published)
            {
                return Outcome.Conflict($"A task that is {task.Status.ToWire()} cannot be cancelled.");
            }
            if (task.Status is WorkflowStatus.Cancelled or WorkflowStatus.Rejected)
            {
                return Outcome.Conflict($"The task is already {task.Status.ToWire()}.");
            }
            discarded.AddRange(await DiscardPreviewsAsync(db, task, ct));
            task.SelectedImageId = null;
            task.ImagesPending = 0;
            task.NextAttemptAt = null;
            db.MoveTo(task, WorkflowStatus.Cancelled, actor);
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            queue.Cancel(taskId);
            await DeleteFilesAsync(discarded);
        }
        return outcome;
    }

    public async Task<Outcome> RetryAsync(string taskId, string actor, CancellationToken ct)
    {
        var outcome = await MutateAsync(taskId, (db, task) =>
        {
            if (task.Status != WorkflowStatus.Failed)
            {
                return Task.FromResult(Outcome.Conflict($"Only a failed task can be retried; this one is {task.Status.ToWire()}."));
            }
            var resume = task.FailedStatus ?? WorkflowStatus.Queued;
            task.Attempts = 0;
            task.Error = null;
            task.NextAttemptAt = null;
            task.FailedStatus = null;
            db.MoveTo(task, resume, actor, "retry");
            return Task.FromResult(Outcome.Done);
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            queue.Enqueue(taskId);
        }
        return outcome;
    }

    /// <summary>Discards one candidate: its file is deleted, its record kept.</summary>
    public async Task<Outcome> DiscardImageAsync(string imageId, string actor, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var image = await db.Images.SingleOrDefaultAsync(i => i.Id == imageId, ct);
            if (image is null)
            {
                return Outcome.NotFound($"There is no image {imageId}.");
            }
            if (image.Status == CandidateStatus.Published)
            {
                return Outcome.Conflict("A published image cannot be discarded.");
            }
            if (image.Status == CandidateStatus.Discarded)
            {
                return Outcome.Done;
            }
            if (image.TaskId is not null)
            {
                var task = await db.Tasks.SingleAsync(t => t.Id == image.TaskId, ct);
                if (task.Status == WorkflowStatus.Publishing && task.SelectedImageId == image.Id)
                {
                    return Outcome.Conflict("This image is being published.");
                }
                if (task.SelectedImageId == image.Id)
                {
                    task.SelectedImageId = null;
                }
                db.Record(task, "image_discarded", actor, $"var{image.Variation}");
            }
            image.Status = CandidateStatus.Discarded;
            image.FileDeleted = true;
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                await previews.DeleteAsync(image.FileName, CancellationToken.None);
                return Outcome.Done;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
        return Outcome.Conflict("The task kept changing; try again.");
    }

    private async Task<Outcome> MutateAsync(string taskId, Func<AppDbContext, ContentTask, Task<Outcome>> change, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var task = await db.Tasks.SingleOrDefaultAsync(t => t.Id == taskId, ct);
            if (task is null)
            {
                return Outcome.NotFound($"There is no task {taskId}.");
            }
            var outcome = await change(db, task);
            if (outcome.Kind != OutcomeKind.Ok)
            {
                return outcome;
            }
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                return outcome;
            }
            catch (DbUpdateConcurrencyException)
            {
                // Someone else changed the task first: decide again on what they left.
            }
        }
        return Outcome.Conflict("The task kept changing; try again.");
    }

    private static async Task<(Outcome, ImageCandidate?)> FindCandidateAsync(AppDbContext db, ContentTask task, ImageChoice choice, CancellationToken ct)
    {
        var query = db.Images.Where(i => i.TaskId == task.Id);
        var candidate = choice.ImageId is not null
            ? await query.SingleOrDefaultAsync(i => i.Id == choice.ImageId, ct)
            : await query.SingleOrDefaultAsync(i => i.Variation == choice.Index, ct);
        if (candidate is null)
        {
            return (choice.ImageId is not null
                ? Outcome.Invalid("image_id", $"Task {task.Id} has no image {choice.ImageId}.")
                : Outcome.Invalid("index", $"Task {task.Id} has no image with index {choice.Index}."), null);
        }
        if (candidate.Status == CandidateStatus.Discarded)
        {
            return (Outcome.Conflict($"Image {candidate.Variation} was discarded."), null);
        }
        return (Outcome.Done, candidate);
    }

    private static async Task MarkSelectedAsync(AppDbContext db, ContentTask task, ImageCandidate candidate, CancellationToken ct)
    {
        var previous = await db.Images.Where(i => i.TaskId == task.Id && i.Status == CandidateStatus.Selected && i.Id != candidate.Id).ToListAsync(ct);
        previous.ForEach(p => p.Status = CandidateStatus.Preview);
        candidate.Status = CandidateStatus.Selected;
        task.SelectedImageId = candidate.Id;
    }

    private static async Task<List<string>> DiscardPreviewsAsync(AppDbContext db, ContentTask task, CancellationToken ct)
    {
        var images = await db.Images
            .Where(i => i.TaskId == task.Id && (i.Status == CandidateStatus.Preview || i.Status == CandidateStatus.Selected))
            .ToListAsync(ct);
        foreach (var image in images)
        {
            image.Status = CandidateStatus.Discarded;
            image.FileDeleted = true;
        }
        return images.Select(i => i.FileName).ToList();
    }

    private async Task DeleteFilesAsync(IEnumerable<string> fileNames)
    {
        foreach (var name in fileNames)
        {
            await previews.DeleteAsync(name, CancellationToken.None);
        }
    }
}
