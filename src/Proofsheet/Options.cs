using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Proofsheet;

public sealed class StorageOptions
{
    public const string Section = "Storage";
    [Range(0, 3650)] public int PreviewRetentionDays { get; set; } = 7;
    public bool KeepPublishedPreviews { get; set; }
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromHours(1);
    /// <summary>A preview file the database does not know is left alone this long: it may belong to a write in progress.</summary>
    public TimeSpan OrphanGrace { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>How long a candidate put in the trash keeps its file (and can be restored).</summary>
    [Range(0, 3650)] public int TrashRetentionDays { get; set; } = 7;
}

public sealed class ContentOptions
{
    public const string Section = "Content";
    [Required] public string Provider { get; set; } = "outline";
}

public sealed class ImageOptions
{
    public const string Section = "Images";
    [Required] public string Providers { get; set; } = "titlecard";
    public string NegativePrompt { get; set; } = "text, words, letters, watermark, logo, blurry, low quality, deformed";
    [Range(64, 4096)] public int Width { get; set; } = 1024;
    [Range(64, 4096)] public int Height { get; set; } = 1024;
    [Range(1, 200)] public int Steps { get; set; } = 30;
    [Range(1, 64)] public int DefaultVariations { get; set; } = 3;
    [Range(1, 64)] public int MaxVariations { get; set; } = 8;

    public IReadOnlyList<string> ProviderChain =>
        Providers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.ToLowerInvariant()).Distinct().ToList();
}

public sealed class PublishingOptions
{
    public const string Section = "Publishing";
    [Required] public string Provider { get; set; } = "local";
    /// <summary>The public address of this app (e.g. <c>https://blog.example.com</c>) for media URLs;
    /// when empty the address the server listens on is used.</summary>
    public string? PublicBaseUrl { get; set; }
    /// <summary>
    /// How often every node looks for scheduled posts whose time has come; a post goes live at most
    /// this long after its time (the claim is in the database, so with several nodes one of them does it).
    /// </summary>
    [Range(1, 3600)] public int SchedulePollSeconds { get; set; } = 30;
}

public enum DuplicateSlugPolicy
{
    Reuse,
    Update,
    Suffix,
}

public sealed class PostOptions
{
    public const string Section = "Posts";
    public DuplicateSlugPolicy DuplicateSlugPolicy { get; set; } = DuplicateSlugPolicy.Reuse;
    /// <summary>How long a published post may be served from memory (publishes here clear it at once).</summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class PipelineOptions
{
    public const string Section = "Pipeline";
    /// <summary>How many tasks the worker moves forward at once.</summary>
    [Range(1, 64)] public int MaxConcurrency { get; set; } = 4;
    [Range(1, 100)] public int MaxAttempts { get; set; } = 3;
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How often the worker looks for due work it was not told about (retries, other instances).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How long <c>approve</c> waits for the publish to finish before answering 202.</summary>
    public TimeSpan ApproveWait { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// How long a node's claim on a task lasts without renewal. The node renews it every third of
    /// this while it works; when a node dies, another takes its tasks after this long (plus a poll).
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);
}

public static class OptionsExtensions
{
    public static OptionsBuilder<T> AddSection<T>(this IServiceCollection services, string section) where T : class =>
        services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();
}
