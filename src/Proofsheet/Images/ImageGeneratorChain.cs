using System.Diagnostics;
using Proofsheet.Telemetry;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

public sealed record ChainResult(string Source, IReadOnlyList<GeneratedImage> Images);

/// <summary>
/// The ordered fallback chain of <c>Images:Providers</c>: a backend that fails, times out or is
/// skipped by the circuit breaker hands the rest of the request to the next one. Each batch of
/// results is labelled with the backend that made it.
/// </summary>
public sealed class ImageGeneratorChain(
    IEnumerable<IImageGenerator> generators,
    IOptionsMonitor<ImageOptions> options,
    IOptionsMonitor<CircuitBreakerOptions> breakerOptions,
    BackendCircuitBreaker breaker,
    ILogger<ImageGeneratorChain> logger)
{
    private readonly Dictionary<string, IImageGenerator> _byName = generators.ToDictionary(g => g.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The backends configured in <c>Images:Providers</c> that exist, in order.</summary>
    public IReadOnlyList<string> Configured => options.CurrentValue.ProviderChain.Where(_byName.ContainsKey).ToList();

    public bool IsAvailable(string name) => _byName.ContainsKey(name) && Configured.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <param name="preferred">A source the request asked for: tried first, then the configured chain.</param>
    public async Task<IReadOnlyList<ChainResult>> GenerateAsync(ImageRequest request, string? preferred, IProgress<GenerationProgress>? progress, CancellationToken ct)
    {
        var order = new List<string>();
        if (!string.IsNullOrWhiteSpace(preferred))
        {
            order.Add(preferred.ToLowerInvariant());
        }
        order.AddRange(Configured.Where(n => !order.Contains(n)));

        var results = new List<ChainResult>();
        var remaining = request.Count;
        var next = request.FirstVariation;
        var errors = new List<string>();
        foreach (var name in order)
        {
            if (remaining <= 0)
            {
                break;
            }
            if (!_byName.TryGetValue(name, out var generator))
            {
                continue;
            }
            if (breaker.SkippedUntil(generator.Name) is { } until)
            {
                logger.LogInformation("Image backend {Backend} skipped: it failed repeatedly; next try after {Until}", generator.Name, until);
                errors.Add($"{name}: skipped after repeated failures (tried again after {until:u}).");
                continue;
            }
            var done = request.Count - remaining;
            var scaled = progress is null ? null : new Progress(progress, done, request.Count);
            var timeout = breakerOptions.CurrentValue.BackendTimeout;
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(ct);
            budget.CancelAfter(timeout);
            using var activity = ProofsheetTelemetry.StartBackendCall("image", generator.Name);
            activity?.SetTag("proofsheet.images.requested", remaining);
            var started = Stopwatch.GetTimestamp();
            try
            {
                var images = await generator.GenerateAsync(request with { Count = remaining, FirstVariation = next }, scaled, budget.Token);
                var take = images.Take(remaining).ToList();
                foreach (var extra in images.Skip(remaining))
                {
                    extra.Content.Dispose();
                }
                if (take.Count == 0)
                {
                    throw new ImageGenerationException("The backend returned no images.");
                }
                breaker.RecordSuccess(generator.Name);
                results.Add(new ChainResult(generator.Name, take));
                remaining -= take.Count;
                next += take.Count;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var message = ex is OperationCanceledException && budget.IsCancellationRequested
                    ? $"timed out after {timeout.TotalSeconds:0.#} s."
                    : ex.Message;
                ProofsheetTelemetry.Failed(activity, generator.Name, ex);
                logger.LogWarning(ex, "Image backend {Backend} failed; trying the next one", name);
                errors.Add($"{name}: {message}");
                if (breaker.RecordFailure(generator.Name))
                {
                    logger.LogWarning("Image backend {Backend} failed {Count} times in a row; skipping it for {Duration}",
                        generator.Name, breakerOptions.CurrentValue.FailureThreshold, breakerOptions.CurrentValue.BreakDuration);
                }
            }
            finally
            {
                ProofsheetTelemetry.BackendDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                    new KeyValuePair<string, object?>("backend", generator.Name), new KeyValuePair<string, object?>("kind", "image"));
            }
        }
        if (results.Count == 0)
        {
            throw new ImageGenerationException(errors.Count == 0
                ? "No image backend is configured."
                : "Every image backend failed. " + string.Join(" ", errors));
        }
        return results;
    }

    /// <summary>Reports a backend's progress on this call as progress on the whole request.</summary>
    private sealed class Progress(IProgress<GenerationProgress> outer, int offset, int total) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => outer.Report(value with { Done = Math.Min(total, offset + value.Done), Total = total });
    }
}
