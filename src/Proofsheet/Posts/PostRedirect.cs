namespace Proofsheet.Posts;

/// <summary>An earlier slug of a post: its public address answers 301 to the post's current one.</summary>
public sealed class PostRedirect
{
    public required string Slug { get; init; }
    public required string PostId { get; set; }
    public DateTime CreatedAt { get; init; }
}
