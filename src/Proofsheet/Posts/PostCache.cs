using Microsoft.AspNetCore.OutputCaching;
using Microsoft.Extensions.Options;

namespace Proofsheet.Posts;

/// <summary>
/// The public read path (post pages, the post API, feeds) is served from ASP.NET Core's output
/// cache: published content changes only when a publish commits, and the publisher evicts the tag
/// then. <c>Posts:CacheDuration</c> bounds staleness for changes made by another instance.
/// </summary>
public static class PostCache
{
    public const string Policy = "published-posts";
    public const string Tag = "published-posts";

    public static WebApplicationBuilder AddPostCache(this WebApplicationBuilder builder)
    {
        builder.Services.AddOutputCache();
        builder.Services.AddOptions<OutputCacheOptions>()
            .Configure<IOptions<PostOptions>>((o, posts) =>
                o.AddPolicy(Policy, b => b.Tag(Tag).Expire(posts.Value.CacheDuration)));
        return builder;
    }

    /// <summary>Caches a public, anonymous GET endpoint (or group) under the posts tag.</summary>
    public static TBuilder CachedAsPublished<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.CacheOutput(Policy);
}
