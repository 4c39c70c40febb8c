namespace Proofsheet.Posts;

public static class PostStatus
{
    public const string Draft = "draft";
    public const string Published = "published";
}

public sealed class Post
{
    public required string Id { get; init; }
    public required string Slug { get; init; }
    public required string Title { get; set; }
    public string? Excerpt { get; set; }
    public string? Content { get; set; }
    public string? MetaDescription { get; set; }
    public string Status { get; set; } = PostStatus.Draft;
    public string? FeaturedImageUrl { get; set; }
    public string? FeaturedImageAlt { get; set; }
    public string? FeaturedImageCredit { get; set; }
    public string? FeaturedImageCreditUrl { get; set; }
    /// <summary>The 1200×630 JPEG made from the featured image for link previews (<c>og:image</c>); null for posts published before it existed.</summary>
    public string? SocialImageUrl { get; set; }
    public DateTime? PublishedAt { get; set; }
    /// <summary>The task that created the post; a retried task finds its post by this.</summary>
    public required string TaskId { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public long Version { get; set; }
}
