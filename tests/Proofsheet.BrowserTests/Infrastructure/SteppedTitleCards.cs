using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Proofsheet.Images;

namespace Proofsheet.BrowserTests.Infrastructure;

/// <summary>
/// The real title-card backend behind a gate the test opens one image at a time (the idea of the
/// integration tests' GatedTitleCards): it makes each step of the progress bar observable.
/// </summary>
public sealed class SteppedTitleCards : IImageGenerator
{
    private readonly TitleCardGenerator _inner = new();
    private readonly SemaphoreSlim _permits = new(0);
    private readonly Lock _lock = new();
    private readonly List<(int Total, TaskCompletionSource Done)> _waiters = [];
    private volatile bool _open;
    private int _drawn;

    public string Name => _inner.Name;

    /// <summary>Before each image, report a live preview of it as a GPU server does while it denoises.</summary>
    public bool LivePreviews { get; set; }

    /// <summary>The preview sent before image <paramref name="variation"/> is drawn (a small PNG of its own).</summary>
    public static byte[] PreviewOf(int variation) => Proofsheet.Testing.Png.ForIndex(variation, 48);

    /// <summary>Lets <paramref name="count"/> more images be drawn.</summary>
    public void Allow(int count) => _permits.Release(count);

    /// <summary>Images drawn (and reported as progress) so far, over every task.</summary>
    public int Drawn => Volatile.Read(ref _drawn);

    /// <summary>Completes once <see cref="Drawn"/> reaches <paramref name="total"/>: the progress of that image has been reported.</summary>
    public Task WaitForDrawnAsync(int total)
    {
        lock (_lock)
        {
            if (_drawn >= total)
            {
                return Task.CompletedTask;
            }
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((total, done));
            return done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Draws every image without waiting from now on.</summary>
    public void OpenFully()
    {
        _open = true;
        _permits.Release(1000);
    }

    public void Install(IServiceCollection services)
    {
        services.RemoveAll<IImageGenerator>();
        services.AddSingleton<IImageGenerator>(this);
    }

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var images = new List<GeneratedImage>();
        progress?.Report(new GenerationProgress(0, request.Count, "waiting for the test"));
        for (var i = 0; i < request.Count; i++)
        {
            if (LivePreviews)
            {
                progress?.Report(new GenerationProgress(i, request.Count, "live preview") { Preview = new LivePreview(PreviewOf(request.FirstVariation + i), "image/png") });
            }
            if (!_open)
            {
                await _permits.WaitAsync(cancellationToken);
            }
            var one = await _inner.GenerateAsync(request with { Count = 1, FirstVariation = request.FirstVariation + i }, null, cancellationToken);
            images.AddRange(one);
            progress?.Report(new GenerationProgress(i + 1, request.Count, "drawing"));
            lock (_lock)
            {
                _drawn++;
                foreach (var waiter in _waiters.Where(w => w.Total <= _drawn).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Done.SetResult();
                }
            }
        }
        return images;
    }
}
