namespace Proofsheet.Review;

/// <summary>
/// A link that lets someone without an account decide on one task, once. Only the SHA-256 of its
/// token is kept: the link itself is shown to its maker once and cannot be read back.
/// </summary>
public sealed class ReviewLink
{
    public required string Id { get; init; }
    public required string TaskId { get; init; }
    /// <summary>Who the link is for, as its maker put it; named in the task's history ("via review link (label)").</summary>
    public required string Label { get; init; }
    /// <summary>Lower-case hex SHA-256 of the token.</summary>
    public required string TokenHash { get; init; }
    public required string CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime ExpiresAt { get; init; }
    public DateTime? RevokedAt { get; set; }
    /// <summary>When the holder decided; a concurrency token, so two uses at once cannot both succeed.</summary>
    public DateTime? UsedAt { get; set; }
    /// <summary><c>approved</c> or <c>rejected</c> once used.</summary>
    public string? Decision { get; set; }
}
