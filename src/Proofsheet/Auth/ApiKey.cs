namespace Proofsheet.Auth;

/// <summary>An API key, stored only as the SHA-256 of its text.</summary>
public sealed class ApiKey
{
    public required string Id { get; init; }
    public required string Hash { get; init; }
    public required string Label { get; init; }
    public DateTime CreatedAt { get; init; }
    /// <summary>Whose key it is: it acts with that person's role. Null for keys made before people (the first admin's).</summary>
    public string? PersonId { get; init; }
    public DateTime? RevokedAt { get; set; }
}
