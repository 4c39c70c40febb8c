namespace Proofsheet.Publishing;

/// <param name="Key">A deterministic name for the asset (the same image always gets the same key),
/// so that a retried upload replaces rather than duplicates.</param>
/// <param name="Content">The image, read from the start once: a stream from the preview store
/// (a file, or an object being downloaded from a bucket), never a path. The caller disposes it.</param>
/// <param name="Length">The image's size in bytes, as recorded when the preview was written.</param>
public sealed record PublishRequest(string Key, Stream Content, string ContentType, long Length, string Sha256);

public sealed record PublishedAsset(string Url, string? ProviderId = null);

/// <summary>Where approved images go: the CDN or the app's own media folder.</summary>
public interface IPublishingStore
{
    string Name { get; }

    /// <exception cref="PublishingException">The upload failed; <see cref="PublishingException.Retryable"/> says whether to try again.</exception>
    Task<PublishedAsset> UploadAsync(PublishRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the asset this store published at <paramref name="url"/> (an unpublished post's web copies, a replaced
    /// image). Nothing there any more is success; a URL this store did not make is left alone.
    /// </summary>
    /// <exception cref="PublishingException">The store could not be asked.</exception>
    Task DeleteAsync(string url, CancellationToken cancellationToken);

    /// <summary>The bytes of the asset this store published at <paramref name="url"/>, or null when it has none there.</summary>
    Task<byte[]?> ReadAsync(string url, CancellationToken cancellationToken);
}

/// <summary>
/// A store that makes crops itself from the uploaded original, addressed by URL (Cloudinary's transformations):
/// the app uploads no derivative to it, so none can be left behind.
/// </summary>
public interface ICroppingStore
{
    /// <summary>The URL of <paramref name="originalUrl"/> scaled to cover width×height and cut around <paramref name="focus"/>
    /// (or the store's own saliency when null), in <paramref name="format"/> ("jpg", "webp").</summary>
    string CropUrl(string originalUrl, int sourceWidth, int sourceHeight, int width, int height, Images.FocalPoint? focus, string format, int quality);
}

public sealed class PublishingException(string message, bool retryable, Exception? inner = null) : Exception(message, inner)
{
    public bool Retryable { get; } = retryable;
}
