using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.People;
using Proofsheet.Publishing;
using Proofsheet.Tasks;

namespace Proofsheet.Email;

/// <summary>
/// Decides who hears of what, and writes the messages into the caller's DbContext without saving,
/// so they exist exactly when the change they tell of is committed. The sender mails them later.
/// </summary>
public sealed class Notifier(IOptionsMonitor<EmailOptions> options, PublicUrls urls, EmailSignal signal, TimeProvider time)
{
    public const string AwaitingApproval = "awaiting_approval";
    public const string Failed = "failed";
    public const string Published = "published";
    public const string Assigned = "assigned";

    /// <summary>
    /// awaiting_approval and failed: the assignee, or (nobody assigned) every editor and admin;
    /// published: the person who asked for the post; assigned: the new assignee. Anyone who turned
    /// email off, or was removed, hears nothing.
    /// </summary>
    public async Task QueueAsync(AppDbContext db, ContentTask task, string kind, CancellationToken ct, string? postUrl = null)
    {
        if (!options.CurrentValue.Enabled)
        {
            return;
        }
        var people = db.People.AsNoTracking().Where(p => p.DisabledAt == null && p.NotifyByEmail && p.Email.Contains('@'));
        List<Person> to = kind switch
        {
            AwaitingApproval or Failed when task.AssigneeId is { } assignee => await people.Where(p => p.Id == assignee).ToListAsync(ct),
            AwaitingApproval or Failed => await people.Where(p => p.Role == Roles.Editor || p.Role == Roles.Admin).ToListAsync(ct),
            Published when task.CreatedBy is { } creator => await people.Where(p => p.Id == creator).ToListAsync(ct),
            Assigned when task.AssigneeId is { } assignee => await people.Where(p => p.Id == assignee).ToListAsync(ct),
            _ => [],
        };
        if (to.Count == 0)
        {
            return;
        }
        var name = task.Title ?? task.Topic;
        var link = urls.Absolute(Hub.HubUrls.Task(task.Id));
        var (subject, lead) = kind switch
        {
            AwaitingApproval => ($"Ready for review: {name}", "A draft and its images are waiting for your approval."),
            Failed => ($"Failed: {name}", $"The task failed: {task.Error ?? "see the task for why"}."),
            Published => ($"Published: {name}", postUrl is null ? "Your post is live." : $"Your post is live at {postUrl}"),
            Assigned => ($"Assigned to you: {name}", "You were asked to review this post."),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var now = time.GetUtcNow();
        foreach (var person in to)
        {
            var body = new StringBuilder()
                .Append("Hello ").Append(person.Name).AppendLine(",").AppendLine()
                .AppendLine(lead).AppendLine()
                .Append("Open the task: ").AppendLine(link).AppendLine()
                .AppendLine("-- ")
                .Append("Proofsheet. To stop these emails, turn them off on your account page: ").AppendLine(urls.Absolute("/hub/account"))
                .ToString();
            db.EmailOutbox.Add(new EmailMessage
            {
                Id = Guid.CreateVersion7(now).ToString("N"),
                To = person.Email,
                Subject = subject.Length > 200 ? subject[..200] : subject,
                Body = body,
                TaskId = task.Id,
                Kind = kind,
                CreatedAt = now.UtcDateTime,
                NextAttemptAt = now.UtcDateTime,
            });
        }
        // The sender wakes once the caller's save has committed them (not before: it would find nothing and sleep).
        db.SavedChanges += (_, _) => signal.Notify();
    }
}

/// <summary>Wakes the sender after a commit that queued messages (other nodes find them on their next poll).</summary>
public sealed class EmailSignal
{
    // One pending wake-up is enough: the sender sends everything due each time it wakes.
    private readonly System.Threading.Channels.Channel<bool> _channel = System.Threading.Channels.Channel.CreateBounded<bool>(
        new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    internal async Task WaitAsync(TimeSpan max, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(max);
        try
        {
            await _channel.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }
}
