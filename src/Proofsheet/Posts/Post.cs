namespace Proofsheet.Posts;

public static class PostStatus
{
    public const string Draft = "draft";
    public const string Published = "published";
}

public sealed class Post
{
    public required string Id { get; init; }
    /// <summary>Changes when a live post is fixed; every earlier slug answers 301 (see <see cref="PostRedirect"/>).</summary>
    public required string Slug { get; set; }
    public required string Title { get; set; }
    public string? Excerpt { get; set; }
    public string? Content { get; set; }
    public string? MetaDescription { get; set; }
    public string Status { get; set; } = PostStatus.Draft;
    public string? FeaturedImageUrl { get; set; }
    public string? FeaturedImageAlt { get; set; }
    public string? FeaturedImageCredit { get; set; }
    public string? FeaturedImageCreditUrl { get; set; }
    public DateTime? PublishedAt { get; set; }
    /// <summary>The task that created the post; a retried task finds its post by this.</summary>
    public required string TaskId { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public long Version { get; set; }
}
