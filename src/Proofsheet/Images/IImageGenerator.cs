namespace Proofsheet.Images;

/// <summary>What to draw. <see cref="Count"/> images are wanted, numbered from <see cref="FirstVariation"/>.</summary>
public sealed record ImageRequest
{
    public required string Prompt { get; init; }
    public string? NegativePrompt { get; init; }
    public int Width { get; init; } = 1024;
    public int Height { get; init; } = 1024;
    public int Steps { get; init; } = 30;
    public int Count { get; init; } = 1;
    public ulong? Seed { get; init; }
    public int FirstVariation { get; init; } = 1;
    /// <summary>The post's title: a title card draws it; a stock-photo search may use it.</summary>
    public string? Title { get; init; }
    public string? Topic { get; init; }
    public IReadOnlyList<string> Keywords { get; init; } = [];
    /// <summary>Source URLs of the task's earlier candidates, so that a stock search does not repeat a photo.</summary>
    public IReadOnlyCollection<string> ExcludeSourceUrls { get; init; } = [];
}

public sealed record ImageAttribution(string Name, string? Url);

/// <summary>An image a backend made. Its <see cref="Content"/> may be a spool file: the caller that keeps
/// the image (the candidate generator) disposes it once the preview store has it.</summary>
public sealed record GeneratedImage(ImageContent Content, string ContentType, int Width, int Height)
{
    public GeneratedImage(byte[] data, string contentType, int width, int height)
        : this(ImageContent.FromBytes(data), contentType, width, height)
    {
    }

    /// <summary>All the bytes in one array (read from the spool if there is one): for small images and tests.</summary>
    public byte[] Data => Content.ToArray();

    public ulong? Seed { get; init; }
    public ImageAttribution? Attribution { get; init; }
    /// <summary>Where the image came from (a stock photo's page), for attribution and de-duplication.</summary>
    public string? SourceUrl { get; init; }
    /// <summary>The model the server says it rendered with (checkpoint name and hash), when it says.</summary>
    public string? Model { get; init; }
    /// <summary>Something the reviewer should know about how the image was made (a batch split after running out of memory).</summary>
    public string? Note { get; init; }
}

public readonly record struct GenerationProgress(int Done, int Total, string? Step = null)
{
    /// <summary>A live preview of the image being denoised (PNG or JPEG bytes), when the server sends one.</summary>
    public LivePreview? Preview { get; init; }
}

public sealed record LivePreview(byte[] Data, string ContentType);

/// <summary>An image backend. One call may return several images (a batch); the caller stores them.</summary>
public interface IImageGenerator
{
    /// <summary>The configuration name of this backend (<c>titlecard</c>, <c>automatic1111</c>, …); also the candidate's source.</summary>
    string Name { get; }

    /// <exception cref="ImageGenerationException">The backend failed; the chain moves on to the next one.</exception>
    Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken);
}

public sealed class ImageGenerationException(string message, Exception? inner = null) : Exception(message, inner);
