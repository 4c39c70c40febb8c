using System.Text.Json;
using Microsoft.Extensions.Options;
using Proofsheet.Data;

namespace Proofsheet.Webhooks;

/// <summary>What a <c>post.published</c> event says about the post.</summary>
public sealed record WebhookPost(string Id, string Slug, string Title, string Url, string? FeaturedImageUrl);

/// <param name="Actor">Who caused it: the person (or their API key, or a named non-person actor such as the system).</param>
internal sealed record WebhookEvent(string Event, string Id, DateTime OccurredAt, WebhookPost Post, string? Actor);

/// <summary>
/// Queues events in the caller's DbContext without saving: the publisher saves them in the same
/// transaction as the post, so they exist exactly when the publish committed.
/// </summary>
public sealed class WebhookOutbox(IOptions<WebhookOptions> options, TimeProvider time)
{
    public const string PostPublished = "post.published";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>Adds one delivery per configured receiver; returns how many.</summary>
    public int Add(AppDbContext db, WebhookPost post, string? actor = null)
    {
        var clock = time.GetUtcNow();
        var now = clock.UtcDateTime;
        var urls = options.Value.UrlList;
        foreach (var url in urls)
        {
            var id = Guid.CreateVersion7(clock).ToString("N");
            db.WebhookDeliveries.Add(new WebhookDelivery
            {
                Id = id,
                Url = url,
                Event = PostPublished,
                Payload = JsonSerializer.Serialize(new WebhookEvent(PostPublished, id, now, post, actor), Json),
                NextAttemptAt = now,
                CreatedAt = now,
            });
        }
        return urls.Count;
    }
}
