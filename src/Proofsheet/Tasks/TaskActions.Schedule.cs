using Proofsheet.Webhooks;

namespace Proofsheet.Tasks;

/// <summary>Changing or withdrawing the time a scheduled post goes live, before it does.</summary>
public sealed partial class TaskActions
{
    /// <param name="publishAt">The new time (UTC, already checked to be in the future).</param>
    public async Task<Outcome> RescheduleAsync(string taskId, DateTime publishAt, string actor, CancellationToken ct)
    {
        var outcome = await MutateAsync(taskId, (db, task) =>
        {
            if (task.Status != WorkflowStatus.Scheduled)
            {
                return Task.FromResult(Outcome.Conflict(NotScheduled(task)));
            }
            var before = task.PublishAt;
            task.PublishAt = publishAt;
            db.Record(task, "rescheduled", actor, $"from {before:yyyy-MM-dd HH:mm} to {publishAt:yyyy-MM-dd HH:mm} UTC");
            webhooks.AddTask(db, WebhookOutbox.TaskScheduled, task, urls);
            return Task.FromResult(Outcome.Done);
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            webhookSignal.Notify();
        }
        return outcome;
    }

    /// <summary>
    /// Takes a scheduled post back to an unpublished draft awaiting approval. The chosen image stays
    /// chosen (and uploaded: approving it again does not upload it again).
    /// </summary>
    public Task<Outcome> UnscheduleAsync(string taskId, string actor, CancellationToken ct) =>
        MutateAsync(taskId, (db, task) =>
        {
            if (task.Status != WorkflowStatus.Scheduled)
            {
                return Task.FromResult(Outcome.Conflict(NotScheduled(task)));
            }
            db.Record(task, "schedule_cancelled", actor, $"was to go live at {task.PublishAt:yyyy-MM-dd HH:mm} UTC");
            task.PublishAt = null;
            task.ApprovedAt = null;
            task.ApprovedBy = null;
            db.MoveTo(task, WorkflowStatus.AwaitingApproval, actor, "schedule cancelled");
            return Task.FromResult(Outcome.Done);
        }, ct);

    private static string NotScheduled(ContentTask task) => task.Status switch
    {
        WorkflowStatus.Publishing => "The image is still being uploaded; the task is scheduled once it is. Try again in a moment.",
        WorkflowStatus.Published => "The post is already live; unpublish it instead.",
        _ => $"Only a scheduled task has a time to change or cancel; this one is {task.Status.ToWire()}.",
    };
}
