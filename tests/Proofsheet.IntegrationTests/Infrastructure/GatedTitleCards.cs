using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Infrastructure;

/// <summary>
/// The real title-card backend behind a gate the test opens: lets a test catch a task while its
/// images are being generated (to stop the host there, or to watch progress).
/// </summary>
public sealed class GatedTitleCards : IImageGenerator
{
    private readonly TitleCardGenerator _inner = new();
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when a generation waiting at the gate was cancelled (the task was cancelled, or its node stopped).</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name => _inner.Name;

    public void Open() => _open.TrySetResult();

    public void Install(IServiceCollection services)
    {
        services.RemoveAll<IImageGenerator>();
        services.AddSingleton<IImageGenerator>(this);
    }

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        Entered.TrySetResult();
        try
        {
            await _open.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Cancelled.TrySetResult();
            throw;
        }
        var images = new List<GeneratedImage>();
        for (var i = 0; i < request.Count; i++)
        {
            // One at a time, so that progress is reported image by image as a real backend would.
            var one = await _inner.GenerateAsync(request with { Count = 1, FirstVariation = request.FirstVariation + i }, null, cancellationToken);
            images.AddRange(one);
            progress?.Report(new GenerationProgress(i + 1, request.Count, "drawing"));
            await Task.Delay(20, cancellationToken);
        }
        return images;
    }
}
