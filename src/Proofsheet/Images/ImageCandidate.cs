namespace Proofsheet.Images;

public enum CandidateStatus
{
    Preview,
    Selected,
    Published,
    Discarded,
}

public static class CandidateStatuses
{
    public static string ToWire(this CandidateStatus status) => status.ToString().ToLowerInvariant();

    public static bool TryParse(string? wire, out CandidateStatus status) =>
        Enum.TryParse(wire, ignoreCase: true, out status) && Enum.IsDefined(status) && !int.TryParse(wire, out _);
}

/// <summary>One generated image kept on disk as a preview until a reviewer decides.</summary>
public sealed class ImageCandidate : Tasks.IHasId
{
    public required string Id { get; init; }
    /// <summary>Null for an image generated outside any task.</summary>
    public string? TaskId { get; init; }
    public int Variation { get; init; }
    public required string Prompt { get; init; }
    public string? NegativePrompt { get; init; }
    public ulong? Seed { get; init; }
    public required string Source { get; init; }
    /// <summary>The model the backend reported rendering with (e.g. <c>sd_xl_base_1.0 [31e35c80fc]</c>).</summary>
    public string? Model { get; init; }
    /// <summary>The file's name inside the preview folder; the folder itself comes from configuration.</summary>
    public required string FileName { get; init; }
    public required string ContentType { get; init; }
    public int Width { get; init; }
    public int Height { get; init; }
    public long ByteSize { get; init; }
    public required string Sha256 { get; init; }
    public DateTime GeneratedAt { get; init; }
    public double GenerationSeconds { get; init; }
    public string? AttributionName { get; init; }
    public string? AttributionUrl { get; init; }
    public string? SourceUrl { get; init; }
    public CandidateStatus Status { get; set; }
    public string? CdnUrl { get; set; }
    public bool FileDeleted { get; set; }
    /// <summary>Which generation of the task made it: a reject with new directions starts the next round, and earlier rounds stay choosable.</summary>
    public int Round { get; set; } = 1;
    /// <summary>The reviewer's rating, 0 (none) to 5; 4 and up counts as shortlisted.</summary>
    public int Stars { get; set; }
    /// <summary>When it was put in the trash (status discarded, file kept until <c>Storage:TrashRetentionDays</c>); null otherwise.</summary>
    public DateTime? TrashedAt { get; set; }
    /// <summary>The point every crop must keep (social card), as fractions of width and height; null: the attention crop.</summary>
    public double? FocusX { get; set; }
    public double? FocusY { get; set; }
    public FocalPoint? Focus => FocusX is { } x && FocusY is { } y ? new FocalPoint(x, y) : null;
}
