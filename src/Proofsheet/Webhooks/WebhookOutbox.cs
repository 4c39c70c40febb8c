using System.Text.Json;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Publishing;
using Proofsheet.Tasks;

namespace Proofsheet.Webhooks;

/// <summary>What a <c>post.*</c> event says about the post.</summary>
public sealed record WebhookPost(string Id, string Slug, string Title, string Url, string? FeaturedImageUrl);

/// <summary>What a <c>task.*</c> event says about the task; <c>url</c> is its page in the Oversight Hub.</summary>
public sealed record WebhookTask(string Id, string Status, string Topic, string? Title, string? Error, DateTime? PublishAt, string Url);

/// <param name="Actor">Who caused it: the person (or their API key, or a named non-person actor such as the system).</param>
internal sealed record WebhookEvent(string Event, string Id, DateTime OccurredAt, WebhookPost Post, string? Actor);

internal sealed record WebhookTaskEvent(string Event, string Id, DateTime OccurredAt, WebhookTask Task, string? Actor);

/// <summary>
/// Queues events in the caller's DbContext without saving: the caller saves them in the same
/// transaction as the change they announce, so they exist exactly when that change committed.
/// </summary>
public sealed class WebhookOutbox(IOptions<WebhookOptions> options, TimeProvider time)
{
    public const string PostPublished = "post.published";
    public const string PostUnpublished = "post.unpublished";
    public const string TaskAwaitingApproval = "task.awaiting_approval";
    public const string TaskFailed = "task.failed";
    public const string TaskScheduled = "task.scheduled";

    public static readonly string[] AllEvents = [TaskAwaitingApproval, TaskFailed, TaskScheduled, PostPublished, PostUnpublished];

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>Adds one <c>post.published</c> delivery per configured receiver; returns how many.</summary>
    public int Add(AppDbContext db, WebhookPost post, string? actor = null) => AddPost(db, PostPublished, post, actor);

    public int AddPost(AppDbContext db, string eventName, WebhookPost post, string? actor = null) =>
        Queue(db, eventName, (id, now) => JsonSerializer.Serialize(new WebhookEvent(eventName, id, now, post, actor), Json));

    /// <summary>Adds one <c>task.*</c> delivery per receiver, describing the task as it is about to be saved.</summary>
    public int AddTask(AppDbContext db, string eventName, ContentTask task, PublicUrls urls, string? actor = null)
    {
        var about = new WebhookTask(task.Id, task.Status.ToWire(), task.Topic, task.Title, task.Error, task.PublishAt, urls.Absolute($"/hub/tasks/{task.Id}"));
        return Queue(db, eventName, (id, now) => JsonSerializer.Serialize(new WebhookTaskEvent(eventName, id, now, about, actor), Json));
    }

    private int Queue(AppDbContext db, string eventName, Func<string, DateTime, string> payload)
    {
        var o = options.Value;
        if (!o.EventList.Contains(eventName))
        {
            return 0;
        }
        var clock = time.GetUtcNow();
        var now = clock.UtcDateTime;
        var receivers = o.UrlList;
        foreach (var url in receivers)
        {
            var id = Guid.CreateVersion7(clock).ToString("N");
            db.WebhookDeliveries.Add(new WebhookDelivery
            {
                Id = id,
                Url = url,
                Event = eventName,
                Payload = payload(id, now),
                NextAttemptAt = now,
                CreatedAt = now,
            });
        }
        return receivers.Count;
    }
}
