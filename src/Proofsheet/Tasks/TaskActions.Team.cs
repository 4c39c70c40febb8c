using Microsoft.EntityFrameworkCore;
using Proofsheet.People;

namespace Proofsheet.Tasks;

/// <summary>Working as a team on a task: who is to review it, and what people say about it.</summary>
public sealed partial class TaskActions
{
    public const int CommentMax = 4000;

    /// <summary>Assigns the task to a person (null: to nobody); the assignee hears of it by email while the task waits for them.</summary>
    public async Task<Outcome> AssignAsync(string taskId, string? personId, string actor, CancellationToken ct)
    {
        Person? assignee = null;
        if (personId is not null)
        {
            await using var lookup = await dbs.CreateDbContextAsync(ct);
            assignee = Ids.IsValid(personId) ? await lookup.People.AsNoTracking().SingleOrDefaultAsync(p => p.Id == personId && p.DisabledAt == null, ct) : null;
            if (assignee is null)
            {
                return Outcome.Invalid("person_id", "There is no one on the team with that id.");
            }
        }
        return await MutateAsync(taskId, async (db, task) =>
        {
            if (task.AssigneeId == personId)
            {
                return Outcome.Done;
            }
            task.AssigneeId = personId;
            db.Record(task, "assigned", actor, assignee is null ? "Assigned to nobody" : $"Assigned to {assignee.Name}");
            if (assignee is not null && task.Status == WorkflowStatus.AwaitingApproval)
            {
                await notifier.QueueAsync(db, task, Email.Notifier.Assigned, ct);
            }
            return Outcome.Done;
        }, ct);
    }

    /// <summary>
    /// Adds a comment to the task's thread. It is a task event (kind <c>comment</c>), so it shows
    /// in the history with who wrote it, and live on every open page of the task.
    /// </summary>
    public async Task<Outcome> CommentAsync(string taskId, string? text, string actor, CancellationToken ct)
    {
        text = text?.Trim();
        if (string.IsNullOrEmpty(text) || text.Length > CommentMax || text.Contains('\0', StringComparison.Ordinal))
        {
            return Outcome.Invalid("text", $"Write a comment of 1 to {CommentMax} characters.");
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == taskId, ct);
        if (task is null)
        {
            return Outcome.NotFound($"There is no task {taskId}.");
        }
        db.Record(task, "comment", actor, text);
        await db.SaveAndAnnounceAsync(stream, ct);
        return Outcome.Done;
    }
}
