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
    /// images is made and the earlier rounds stay choosable; the feedback becomes a hint of what to
    /// avoid (added to the negative prompt). Otherwise the task ends as rejected and its candidates go
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
            else
            {
                task.NegativeHint = string.IsNullOrWhiteSpace(task.NegativeHint) ? feedback : $"{task.NegativeHint}, {feedback}";
                if (task.NegativeHint.Length > InputLimits.Feedback)
                {
                    task.NegativeHint = task.NegativeHint[^InputLimits.Feedback..];
                }
            }
            task.Round++;
            task.ImagesPending = task.NumVariations;
            task.Attempts = 0;
            task.Error = null;
            task.NextAttemptAt = null;
            task.FailedStatus = null;
            db.Record(task, "rejected", actor, string.IsNullOrWhiteSpace(newPrompt)
                ? $"{feedback} — round {task.Round} avoids it"
                : $"{feedback} — round {task.Round} with a new prompt: {newPrompt}");
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
}
