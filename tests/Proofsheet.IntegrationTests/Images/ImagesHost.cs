using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

/// <summary>The app's image registration (<c>AddImages</c>) on its own, with the given configuration.</summary>
internal static class ImagesHost
{
    public static WebApplication Build(IDictionary<string, string?> config, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(config);
        builder.Logging.ClearProviders();
        builder.AddImages();
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }
        return builder.Build();
    }

    public static ImageGeneratorChain Chain(this WebApplication app) => app.Services.GetRequiredService<ImageGeneratorChain>();

    public static T Generator<T>(this WebApplication app) where T : IImageGenerator =>
        app.Services.GetServices<IImageGenerator>().OfType<T>().Single();
}

/// <summary>Records progress as it is reported (<see cref="Progress{T}"/> would post it later, on the thread pool).</summary>
internal sealed class RecordingProgress : IProgress<GenerationProgress>
{
    public ConcurrentQueue<GenerationProgress> Reports { get; } = new();

    public void Report(GenerationProgress value) => Reports.Enqueue(value);
}

/// <summary>A clock the test moves by hand; timers still run on real time.</summary>
internal sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
