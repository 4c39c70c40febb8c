using Proofsheet.Posts;

namespace Proofsheet.Publishing;

/// <summary>
/// Removes what was published beside a post's image (its social card and hero crops) from the publishing store once
/// no page names them: when the post is unpublished (a re-publish makes them again, for whichever image is chosen),
/// so a replaced image leaves none behind. A store that crops on delivery (Cloudinary) has none uploaded: its
/// crop URLs name no asset, and the store leaves them alone.
/// </summary>
public sealed class PublishedCopies(ActiveStore store, ILogger<PublishedCopies> logger)
{
    /// <summary>The URLs of the web copies a post names (its social card and every srcset candidate).</summary>
    public static IReadOnlyList<string> Of(Post post) =>
        new[] { post.SocialImageUrl }
            .Concat((post.FeaturedImageSrcset ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(candidate => candidate.Split(' ')[0]))
            .OfType<string>().Where(url => url.Length > 0).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Deletes each URL from the store. A failure is logged and the rest still go: the post no longer names them.</summary>
    public async Task DeleteAsync(IReadOnlyList<string> urls, CancellationToken ct)
    {
        foreach (var url in urls)
        {
            try
            {
                await store.Store.DeleteAsync(url, ct);
            }
            catch (PublishingException ex)
            {
                logger.LogWarning(ex, "Could not delete the web copy {Url} from {Store}; it is left in the store", url, store.Store.Name);
            }
        }
    }
}
