using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;

namespace Proofsheet.Tasks;

/// <summary>Ending or resuming a task, and discarding single images.</summary>
public sealed partial class TaskActions
{
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

    /// <summary>Puts one candidate in the trash: its file is kept for <c>Storage:TrashRetentionDays</c>, so it can be restored.</summary>
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
                db.Record(task, "image_discarded", actor, $"Image {image.Variation} moved to the trash");
            }
            image.Status = CandidateStatus.Discarded;
            image.TrashedAt = DateTime.UtcNow;
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                return Outcome.Done;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
        return Outcome.Conflict("The task kept changing; try again.");
    }
}
