namespace Proofsheet.Images;

/// <summary>
/// The Hub's thumbnails and large views of a candidate, made on first request from the preview and kept
/// in the preview store next to it (so every node finds what one made, and they go when it goes). A
/// 1024² render is 1.5–2 MB as PNG; its 400 px WebP is a few tens of KB.
/// </summary>
public sealed class PreviewDerivatives(IPreviewStore previews, ILogger<PreviewDerivatives> logger)
{
    public static int MaxSide(PreviewDerivative kind) => kind switch
    {
        PreviewDerivative.Thumb => 400,
        _ => 1600,
    };

    /// <summary>The derivative's bytes, made now if nobody has made them yet; null when the preview is gone.</summary>
    /// <exception cref="PreviewStoreException">The store could not be asked.</exception>
    public async Task<PreviewContent?> OpenAsync(ImageCandidate image, PreviewDerivative kind, CancellationToken ct)
    {
        if (image.FileDeleted)
        {
            return null;
        }
        var name = PreviewNames.Derivative(image.FileName, kind);
        if (await previews.OpenAsync(name, ct) is { } made)
        {
            return made;
        }
        await using var original = await previews.OpenAsync(image.FileName, ct);
        if (original is null)
        {
            return null;
        }
        var source = await WebImages.ReadAllAsync(original.Stream, original.Length, ct);
        var derivative = await Task.Run(() => WebImages.FitWebp(source, MaxSide(kind)), ct);
        try
        {
            using var content = new MemoryStream(derivative.Data, writable: false);
            await previews.SaveDerivativeAsync(name, content, derivative.ContentType, ct);
        }
        catch (PreviewStoreException ex)
        {
            // Still show it; the next request tries to keep it again.
            logger.LogWarning("Could not keep the {Kind} of {FileName}: {Message}", kind, image.FileName, ex.Message);
        }
        return new PreviewContent(new MemoryStream(derivative.Data, writable: false), derivative.Data.LongLength, DateTimeOffset.UtcNow);
    }
}
