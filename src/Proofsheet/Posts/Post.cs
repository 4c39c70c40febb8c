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
    /// <summary>The 1200×630 JPEG made from the featured image for link previews (<c>og:image</c>); null for posts published before it existed.</summary>
    public string? SocialImageUrl { get; set; }
    /// <summary>The featured image's own size, for <c>width</c>/<c>height</c> on the page (no layout shift).</summary>
    public int? FeaturedImageWidth { get; set; }
    public int? FeaturedImageHeight { get; set; }
    /// <summary>The WebP copies of the featured image at several widths, as a <c>srcset</c> value
    /// (<c>url 480w, url 960w, …</c>); null for posts published before they were made.</summary>
    public string? FeaturedImageSrcset { get; set; }
    public DateTime? PublishedAt { get; set; }
    /// <summary>The task that created the post; a retried task finds its post by this.</summary>
    public required string TaskId { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public long Version { get; set; }
}
