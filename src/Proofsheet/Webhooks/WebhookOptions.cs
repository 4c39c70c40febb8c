using System.ComponentModel.DataAnnotations;

namespace Proofsheet.Webhooks;

public sealed class WebhookOptions
{
    public const string Section = "Webhooks";
    /// <summary>Comma-separated receivers of the events below.</summary>
    public string? Urls { get; set; }
    /// <summary>
    /// Comma-separated events sent to every receiver; empty means all of them: <c>task.awaiting_approval</c>,
    /// <c>task.failed</c>, <c>task.scheduled</c>, <c>post.published</c>, <c>post.unpublished</c>.
    /// </summary>
    public string? Events { get; set; }
    /// <summary>The HMAC-SHA256 key of <c>X-Proofsheet-Signature</c>; required when <see cref="Urls"/> is set.</summary>
    public string? Secret { get; set; }
    /// <summary>How long one delivery attempt may take.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);
    /// <summary>After this many failed attempts a delivery is marked dead (kept with its last error).</summary>
    [Range(1, 1000)] public int MaxAttempts { get; set; } = 15;
    /// <summary>How often the dispatcher looks for due deliveries it was not told about (retries, other instances).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);
    [Range(1, 64)] public int MaxConcurrency { get; set; } = 4;
    /// <summary>Delivered rows older than this many days are deleted; dead ones are kept until redelivered.</summary>
    [Range(1, 36500)] public int RetentionDays { get; set; } = 30;

    public IReadOnlyList<string> EventList =>
        string.IsNullOrWhiteSpace(Events)
            ? WebhookOutbox.AllEvents
            : Events.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();

    public IReadOnlyList<string> UrlList =>
        (Urls ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
}
