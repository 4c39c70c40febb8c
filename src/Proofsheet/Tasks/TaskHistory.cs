using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.Tasks;

/// <summary>Recording what happens to a task: a row in task_events, and after commit a live message.</summary>
public static class TaskHistory
{
    public const string System = "system";

    public static void Record(this AppDbContext db, ContentTask task, string kind, string actor, string? detail = null) =>
        db.TaskEvents.Add(new TaskEvent
        {
            TaskId = task.Id,
            At = DateTime.UtcNow,
            Actor = actor,
            Kind = kind,
            Detail = detail,
        });

    /// <summary>Moves the task to <paramref name="to"/> and records the transition.</summary>
    public static void MoveTo(this AppDbContext db, ContentTask task, WorkflowStatus to, string actor, string? detail = null)
    {
        var from = task.Status;
        task.Status = to;
        db.TaskEvents.Add(new TaskEvent
        {
            TaskId = task.Id,
            At = DateTime.UtcNow,
            Actor = actor,
            Kind = "status_changed",
            FromStatus = from.ToWire(),
            ToStatus = to.ToWire(),
            Detail = detail,
        });
    }

    /// <summary>Saves, then tells live listeners about every event the save committed.</summary>
    public static async Task SaveAndAnnounceAsync(this AppDbContext db, TaskEventStream stream, CancellationToken ct)
    {
        var added = db.ChangeTracker.Entries<TaskEvent>().Where(e => e.State == EntityState.Added).Select(e => e.Entity).ToList();
        await db.SaveChangesAsync(ct);
        foreach (var e in added)
        {
            stream.Publish(e.TaskId, e.Kind == "status_changed"
                ? new TaskStreamMessage("status", new { status = e.ToStatus, from = e.FromStatus, detail = e.Detail, at = e.At })
                : new TaskStreamMessage("event", new { kind = e.Kind, actor = e.Actor, detail = e.Detail, at = e.At }));
        }
    }
}
