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
}

public sealed class PublishingException(string message, bool retryable, Exception? inner = null) : Exception(message, inner)
{
    public bool Retryable { get; } = retryable;
}
