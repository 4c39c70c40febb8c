using Microsoft.AspNetCore.OutputCaching;
using Microsoft.Extensions.Options;
using Proofsheet.Cluster;

namespace Proofsheet.Posts;

/// <summary>
/// The public read path (post pages, the post API, feeds) is served from ASP.NET Core's output
/// cache: published content changes only when a publish commits, and the publisher evicts the tag
/// then, on this node and (through the cluster bus) on every other. <c>Posts:CacheDuration</c>
/// bounds staleness should a node miss that message.
/// </summary>
public static class PostCache
{
    public const string Policy = "published-posts";
    public const string Tag = "published-posts";

    public static WebApplicationBuilder AddPostCache(this WebApplicationBuilder builder)
    {
        builder.Services.AddOutputCache();
        builder.Services.AddSingleton<PublishedPostsChanged>();
        builder.Services.AddOptions<OutputCacheOptions>()
            .Configure<IOptions<PostOptions>>((o, posts) =>
                o.AddPolicy(Policy, b => b.Tag(Tag).Expire(posts.Value.CacheDuration)));
        return builder;
    }

    /// <summary>Caches a public, anonymous GET endpoint (or group) under the posts tag.</summary>
    public static TBuilder CachedAsPublished<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.CacheOutput(Policy);
}

/// <summary>Says that published content changed: every node's output cache drops the public pages.</summary>
public sealed class PublishedPostsChanged(IOutputCacheStore cache, IClusterBus bus)
{
    public async Task AnnounceAsync()
    {
        await cache.EvictByTagAsync(PostCache.Tag, CancellationToken.None);
        bus.Send(new ClusterMessage(ClusterMessage.PostsChanged));
    }
}
