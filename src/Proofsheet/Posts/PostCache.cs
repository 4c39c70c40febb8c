using Microsoft.AspNetCore.OutputCaching;
using Microsoft.Extensions.Options;
using Proofsheet.Cluster;

namespace Proofsheet.Posts;

/// <summary>
/// The public read path (post pages, the post API, feeds) is served from ASP.NET Core's output
/// cache: published content changes only when a publish commits, and the publisher evicts the tag
/// then, on this node and (through the cluster bus) on every other. <c>Posts:CacheDuration</c>
/// bounds staleness should a node miss that message.
/// <para>
/// Evicting after the commit left a moment in which the task already read <c>published</c> (or a
/// live edit was saved) while the cache still served the old page. So a change that may touch
/// published content holds <see cref="PublishedPostsChanged.Hold"/> from before its commit until
/// it has evicted: meanwhile public reads on this node neither use nor fill the cache. And entries
/// are keyed by a generation that every eviction moves on, so a read that began before a change and
/// stores its (old) page after the eviction stores it where nobody looks.
/// </para>
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
                o.AddPolicy(Policy, b => b.Tag(Tag).Expire(posts.Value.CacheDuration).AddPolicy<ChangeWindowPolicy>()));
        return builder;
    }

    /// <summary>Caches a public, anonymous GET endpoint (or group) under the posts tag.</summary>
    public static TBuilder CachedAsPublished<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.CacheOutput(Policy);
}

/// <summary>Says that published content changed: every node's output cache drops the public pages.</summary>
public sealed class PublishedPostsChanged(IOutputCacheStore cache, IClusterBus bus)
{
    private int _held;
    private long _generation;

    /// <summary>True while a change to published content may be committing on this node.</summary>
    internal bool Changing => Volatile.Read(ref _held) > 0;

    /// <summary>Moves on with every eviction; part of every cache entry's key.</summary>
    internal long Generation => Interlocked.Read(ref _generation);

    /// <summary>
    /// Public reads on this node skip the cache until the returned scope is disposed: take it before a commit
    /// that may change published content, and dispose it after <see cref="AnnounceAsync"/>.
    /// </summary>
    public Scope Hold()
    {
        Interlocked.Increment(ref _held);
        return new Scope(this);
    }

    /// <summary>Published content changed: this node's cache and (through the bus) every other node's drop it.</summary>
    public async Task AnnounceAsync()
    {
        await EvictHereAsync();
        bus.Send(new ClusterMessage(ClusterMessage.PostsChanged));
    }

    /// <summary>Drops this node's cached public pages (another node announced a change).</summary>
    public async Task EvictHereAsync()
    {
        Interlocked.Increment(ref _generation);
        await cache.EvictByTagAsync(PostCache.Tag, CancellationToken.None);
    }

    public sealed class Scope(PublishedPostsChanged owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._held);
            }
        }
    }
}

/// <summary>Keeps public reads off the cache while a change commits, and keys entries by the eviction generation.</summary>
internal sealed class ChangeWindowPolicy(PublishedPostsChanged changes) : IOutputCachePolicy
{
    public ValueTask CacheRequestAsync(OutputCacheContext context, CancellationToken cancellation)
    {
        if (changes.Changing)
        {
            context.AllowCacheLookup = false;
            context.AllowCacheStorage = false;
        }
        else
        {
            context.CacheVaryByRules.VaryByValues["posts-generation"] = changes.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask ServeFromCacheAsync(OutputCacheContext context, CancellationToken cancellation) => ValueTask.CompletedTask;

    public ValueTask ServeResponseAsync(OutputCacheContext context, CancellationToken cancellation) => ValueTask.CompletedTask;
}
