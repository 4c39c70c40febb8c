using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Telemetry;

namespace Proofsheet.Tasks;

/// <summary>Deciding on the candidates: choose, approve, reject, ask for more.</summary>
public sealed partial class TaskActions
{
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
            db.Record(task, "image_selected", actor, $"Image {candidate.Variation} ({candidate.Source})");
            return Outcome.Done;
        }, ct);

    /// <summary>Approves once: a second approval of the same image, or a concurrent one, finds the task already publishing.</summary>
    /// <param name="publishAt">When the post goes live (UTC, already checked to be in the future); null: at once.</param>
    /// <param name="guard">Checked first in the same unit of work, and saved with the approval (a review link marking itself used).</param>
    public async Task<Outcome> ApproveAsync(string taskId, ImageChoice choice, string? feedback, string actor, CancellationToken ct, DateTime? publishAt = null,
        Func<AppDbContext, ContentTask, Task<Outcome>>? guard = null)
    {
        (int Candidates, DateTime? AwaitingSince) measured = default;
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            if (guard is not null && await guard(db, task) is { Kind: not OutcomeKind.Ok } refused)
            {
                return refused;
            }
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
                return Outcome.Conflict(task.Status switch
                {
                    WorkflowStatus.GeneratingImages => "Images are still being generated; approve when they are ready.",
                    WorkflowStatus.Scheduled => "This task is already approved and scheduled; change its time or cancel the schedule instead.",
                    _ => $"A task that is {task.Status.ToWire()} cannot be approved.",
                });
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
            // An image uploaded before (a post unpublished, then approved again) needs no preview any more.
            if (candidate.CdnUrl is null && (candidate.FileDeleted || !await previews.ExistsAsync(candidate.FileName, ct)))
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
            task.PublishAt = publishAt;
            task.Attempts = 0;
            task.Error = null;
            task.NextAttemptAt = null;
            var when = publishAt is { } at ? $" to go live at {at:yyyy-MM-dd HH:mm} UTC" : "";
            db.Record(task, "approved", actor, string.IsNullOrWhiteSpace(feedback) ? $"Image {candidate.Variation}{when}" : $"Image {candidate.Variation}{when}: {feedback}");
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

    /// <summary>
    /// Rejects the candidates. With a new prompt, or with <paramref name="regenerate"/>, a new round of
    /// images is made and the earlier rounds stay choosable. A model writer rewrites the image prompt
    /// from the feedback before the round is drawn (the pipeline does, off the request's path); the
    /// offline <c>outline</c> writer cannot, so the feedback becomes a hint of what to avoid (added to
    /// the negative prompt). Otherwise the task ends as rejected and its candidates go
    /// to the trash, from which reopening the task brings them back.
    /// </summary>
    public async Task<Outcome> RejectAsync(string taskId, string feedback, string? newPrompt, string actor, CancellationToken ct, bool regenerate = false,
        Func<AppDbContext, ContentTask, Task<Outcome>>? guard = null)
    {
        var again = regenerate || !string.IsNullOrWhiteSpace(newPrompt);
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            if (guard is not null && await guard(db, task) is { Kind: not OutcomeKind.Ok } refused)
            {
                return refused;
            }
            if (task.Status is not (WorkflowStatus.AwaitingApproval or WorkflowStatus.GeneratingImages or WorkflowStatus.Failed))
            {
                return Outcome.Conflict($"A task that is {task.Status.ToWire()} cannot be rejected.");
            }
            var selected = await db.Images.Where(i => i.TaskId == task.Id && i.Status == CandidateStatus.Selected).ToListAsync(ct);
            selected.ForEach(i => i.Status = CandidateStatus.Preview);
            task.SelectedImageId = null;
            if (!again)
            {
                await TrashPreviewsAsync(db, task, ct);
                task.ImagesPending = 0;
                db.Record(task, "rejected", actor, feedback);
                db.MoveTo(task, WorkflowStatus.Rejected, actor, feedback);
                return Outcome.Done;
            }
            if (!string.IsNullOrWhiteSpace(newPrompt))
            {
                task.ImagePrompt = newPrompt;
            }
            else if (writer.Writer is Writing.IImagePromptWriter)
            {
                task.PromptFeedback = string.IsNullOrWhiteSpace(task.PromptFeedback) ? feedback : $"{task.PromptFeedback}; {feedback}";
                if (task.PromptFeedback.Length > InputLimits.Feedback)
                {
                    task.PromptFeedback = task.PromptFeedback[^InputLimits.Feedback..];
                }
            }
            else
            {
                AddNegativeHint(task, feedback);
            }
            task.PendingSettings = null;
            task.Round++;
            task.ImagesPending = task.NumVariations;
            task.Attempts = 0;
            task.Error = null;
            task.NextAttemptAt = null;
            task.FailedStatus = null;
            db.Record(task, "rejected", actor, !string.IsNullOrWhiteSpace(newPrompt)
                ? $"{feedback} — round {task.Round} with a new prompt: {newPrompt}"
                : task.PromptFeedback is not null
                    ? $"{feedback} — the {writer.Writer.Name} writer rewrites the image prompt from it for round {task.Round}"
                    : $"{feedback} — round {task.Round} avoids it");
            if (task.Status != WorkflowStatus.GeneratingImages)
            {
                db.MoveTo(task, WorkflowStatus.GeneratingImages, actor, $"round {task.Round}");
            }
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok && again)
        {
            queue.Cancel(taskId);
            queue.Enqueue(taskId);
        }
        return outcome;
    }

    /// <summary>Feedback as something to avoid: appended to the task's negative hint, the newest kept when it grows too long.</summary>
    internal static void AddNegativeHint(ContentTask task, string feedback)
    {
        task.NegativeHint = string.IsNullOrWhiteSpace(task.NegativeHint) ? feedback : $"{task.NegativeHint}, {feedback}";
        if (task.NegativeHint.Length > InputLimits.Feedback)
        {
            task.NegativeHint = task.NegativeHint[^InputLimits.Feedback..];
        }
    }

    /// <summary>
    /// Adds <paramref name="count"/> candidates to a task under review, in the background; with
    /// <paramref name="like"/>, drawn with that candidate's settings (and new seeds).
    /// </summary>
    public async Task<Outcome> GenerateMoreAsync(string taskId, int count, string? prompt, string actor, CancellationToken ct, PendingImageSettings? like = null, int? likeIndex = null)
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
            // Pending images are one batch drawn with one set of settings: one that differs waits its turn.
            if (task.ImagesPending > 0 && (like is not null || task.PendingSettings is not null))
            {
                return Task.FromResult(Outcome.Conflict("Images are still being made for this task; ask again when they are done."));
            }
            if (!string.IsNullOrWhiteSpace(prompt))
            {
                task.ImagePrompt = prompt;
            }
            task.ImagesPending += count;
            task.PendingSettings = like?.ToJson();
            db.Record(task, "more_images_requested", actor, like is null
                ? $"{count} with prompt: {task.ImagePrompt}"
                : $"{count} like image {likeIndex}: {like.Prompt} ({like.Source}, {like.Width}×{like.Height}, new seeds)");
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
}
