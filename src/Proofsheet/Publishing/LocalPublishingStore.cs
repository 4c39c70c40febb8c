using Proofsheet.Data;
using Proofsheet.Images;

namespace Proofsheet.Publishing;

/// <summary>The embedded default: approved images are copied into the media folder and served at <c>/media/</c>.</summary>
public sealed class LocalPublishingStore(AppPaths paths, PublicUrls urls) : IPublishingStore
{
    public string Name => "local";

    public async Task<PublishedAsset> UploadAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var fileName = request.Key + "." + PreviewNames.ExtensionFor(request.ContentType);
        var target = AppPaths.Inside(paths.MediaDirectory, fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + "." + Guid.NewGuid().ToString("N")[..8] + ".partial";
        try
        {
            await using (var destination = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await request.Content.CopyToAsync(destination, cancellationToken);
                await destination.FlushAsync(cancellationToken);
                destination.Flush(flushToDisk: true);
            }
            // The key is deterministic, so a retried upload lands on the same name.
            File.Move(temp, target, overwrite: true);
        }
        // An IOException also covers a broken read of a preview streamed from a bucket.
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or HttpRequestException)
        {
            File.Delete(temp);
            throw new PublishingException($"Could not copy the image into the media folder: {ex.Message}", retryable: true, ex);
        }
        return new PublishedAsset(urls.Absolute("/media/" + string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString))), fileName);
    }

    public Task DeleteAsync(string url, CancellationToken cancellationToken)
    {
        if (FileOf(url) is { } path)
        {
            File.Delete(path); // no error when it is already gone
        }
        return Task.CompletedTask;
    }

    public async Task<byte[]?> ReadAsync(string url, CancellationToken cancellationToken) =>
        FileOf(url) is { } path && File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellationToken) : null;

    /// <summary>The media file behind one of this store's URLs: its path after <c>/media/</c>, whatever host the URL was made with.</summary>
    private string? FileOf(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !uri.AbsolutePath.StartsWith("/media/", StringComparison.Ordinal))
        {
            return null;
        }
        var name = string.Join('/', uri.AbsolutePath["/media/".Length..].Split('/').Select(Uri.UnescapeDataString));
        try
        {
            return AppPaths.Inside(paths.MediaDirectory, name);
        }
        catch (InvalidOperationException)
        {
            return null; // a path that would leave the media folder
        }
    }
}
