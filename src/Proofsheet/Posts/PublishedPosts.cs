using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;

namespace Proofsheet.Posts;

/// <summary>
/// Published posts by slug, kept in memory: the public read path is the hot one, and a post
/// changes only when it is published. The publisher clears the cache after each publish commits;
/// <c>Posts:CacheDuration</c> bounds staleness for changes made by another instance.
/// </summary>
public sealed class PublishedPosts(IDbContextFactory<AppDbContext> dbs, IOptionsMonitor<PostOptions> options, TimeProvider time)
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, (Post Post, DateTimeOffset Until)> _bySlug = new(StringComparer.Ordinal);

    /// <summary>The published post with this slug, or null. The returned object is shared: do not change it.</summary>
    public async Task<Post?> FindAsync(string slug, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_bySlug.TryGetValue(slug, out var entry) && entry.Until > now)
        {
            return entry.Post;
        }
        if (slug.Length > Slug.MaxLength)
        {
            return null;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var post = await db.Posts.AsNoTracking().SingleOrDefaultAsync(p => p.Slug == slug && p.Status == PostStatus.Published, ct);
        // Misses are not cached: random slugs must not fill memory.
        if (post is not null)
        {
            if (_bySlug.Count >= MaxEntries)
            {
                _bySlug.Clear();
            }
            _bySlug[slug] = (post, now + options.CurrentValue.CacheDuration);
        }
        return post;
    }

    public void Clear() => _bySlug.Clear();
}
