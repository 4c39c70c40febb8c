using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// AUTOMATIC1111 / Forge / SD.Next through <c>POST /sdapi/v1/txt2img</c>. A request's variations are one
/// batch (<c>batch_size</c>) per server; the <see cref="ServerPool"/> splits them across the healthy servers
/// of <c>Images:Automatic1111:BaseUrls</c>, one job of ours per server. Before a server renders, its
/// checkpoint, sampler and scheduler are checked (the server would silently use others), and each answer's
/// <c>info</c> must name the model asked for. A batch that runs out of GPU memory is halved on the same
/// server; a cancel or timeout interrupts the server's render rather than leaving it running.
/// </summary>
public sealed class Automatic1111Generator(
    IHttpClientFactory httpFactory,
    IOptionsMonitor<Automatic1111Options> options,
    [FromKeyedServices(Automatic1111Generator.HttpClientName)] ServerPool pool,
    Automatic1111Catalog catalog,
    TimeProvider time,
    ILogger<Automatic1111Generator> logger) : IImageGenerator
{
    public const string HttpClientName = "automatic1111";

    /// <summary>How long a cancelled job's server may take to stop after <c>/interrupt</c> before the slot is given up anyway.</summary>
    private static readonly TimeSpan InterruptGrace = TimeSpan.FromSeconds(15);

    public string Name => "automatic1111";

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (o.Servers.Count == 0)
        {
            throw new ImageGenerationException("AUTOMATIC1111 is not configured: set Images:Automatic1111:BaseUrls.");
        }
        if (request.Seed > long.MaxValue)
        {
            // Only ComfyUI is offered seeds past 2^63 (see Seeds); one reaching here must not be rendered with another.
            throw new ImageGenerationException($"AUTOMATIC1111 is not given seeds above {long.MaxValue}; render this one with ComfyUI.");
        }
        var tracker = new ShareProgress(progress, request.Count);
        var (images, errors) = await pool.RunAsync(o.Servers, request.Count, new PoolTimings(o.Timeout, o.ServerCooldown),
            (job, ct) => RunShareAsync(request, job, tracker, o, ct), Classify, share => tracker.Reset(share), cancellationToken);
        if (images.Count == 0)
        {
            var hint = errors.Any(e => e.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
                ? " The GPU ran out of memory even for one image: lower Images:Width/Height."
                : "";
            throw new ImageGenerationException("AUTOMATIC1111 failed: " + string.Join(" ", errors.Distinct()) + hint);
        }
        return images;
    }

    private static ServerFailure? Classify(Uri server, Exception ex) => ex switch
    {
        ImageGenerationException => new ServerFailure(ex.Message),
        // Out of memory even for one image: the server is fine, the image does not fit on it.
        ServerOutOfMemoryException => new ServerFailure(ex.Message, ServerAtFault: false),
        HttpRequestException h => new ServerFailure($"{ServerList.Display(server)}: {BackendHttp.Describe(h)}."),
        JsonException => new ServerFailure($"{ServerList.Display(server)} answered with a body that is not the txt2img response."),
        _ => null,
    };

    private async Task<IReadOnlyList<GeneratedImage>> RunShareAsync(ImageRequest request, ServerJob job, ShareProgress tracker, Automatic1111Options o, CancellationToken ct)
    {
        var check = await catalog.CheckAsync(job.Server, fresh: false, ct);
        if (check.Problem is not null)
        {
            throw new ImageGenerationException(check.Problem);
        }
        var images = await RenderHalvingAsync(request, job, job.Share.Count, job.Share.Offset, tracker, check, o, note: null, ct);
        tracker.Finish(job.Share);
        return images;
    }

    /// <summary>Renders <paramref name="count"/> images; when the GPU runs out of memory, renders them in two
    /// halves on the same server (4 → 2 + 2 → 1 + 1) before the pool gives the share to another server.</summary>
    private async Task<IReadOnlyList<GeneratedImage>> RenderHalvingAsync(ImageRequest request, ServerJob job, int count, int offset,
        ShareProgress tracker, Automatic1111Check check, Automatic1111Options o, string? note, CancellationToken ct)
    {
        try
        {
            var images = await RenderAsync(request, job, count, offset, tracker, check, o, ct);
            return note is null ? images : images.Select(i => i with { Note = note }).ToList();
        }
        catch (ServerOutOfMemoryException) when (count > 1)
        {
            var half = (count + 1) / 2;
            var split = $"{ServerList.Display(job.Server)} ran out of GPU memory with {count} images at once; rendered {half} at a time";
            logger.LogWarning("AUTOMATIC1111 server {Server} ran out of GPU memory with a batch of {Count}; splitting it into {Half} + {Rest}",
                ServerList.Display(job.Server), count, half, count - half);
            tracker.Say(job.Share, $"out of GPU memory with {count} at once; trying {half} at a time");
            var first = await RenderHalvingAsync(request, job, half, offset, tracker, check, o, split, ct);
            try
            {
                var second = await RenderHalvingAsync(request, job, count - half, offset + half, tracker, check, o, split, ct);
                return [.. first, .. second];
            }
            catch
            {
                // The first half's spool files go now rather than when the runtime finalises them.
                foreach (var image in first)
                {
                    image.Content.Dispose();
                }
                throw;
            }
        }
    }

    private async Task<IReadOnlyList<GeneratedImage>> RenderAsync(ImageRequest request, ServerJob job, int count, int offset,
        ShareProgress tracker, Automatic1111Check check, Automatic1111Options o, CancellationToken ct)
    {
        var server = job.Server;
        var http = httpFactory.CreateClient(HttpClientName);
        var body = new Txt2ImgRequest
        {
            Prompt = request.Prompt,
            NegativePrompt = request.NegativePrompt ?? "",
            Seed = request.Seed is { } seed ? (long)seed + offset : -1,
            Steps = request.Steps,
            CfgScale = o.CfgScale,
            Width = request.Width - request.Width % 8,
            Height = request.Height - request.Height % 8,
            SamplerName = string.IsNullOrWhiteSpace(o.SamplerName) ? null : o.SamplerName,
            Scheduler = string.IsNullOrWhiteSpace(o.Scheduler) ? null : o.Scheduler,
            BatchSize = count,
            NIter = 1,
            OverrideSettings = string.IsNullOrWhiteSpace(o.Checkpoint) ? null : new Dictionary<string, string> { ["sd_model_checkpoint"] = o.Checkpoint },
        };
        using var message = Automatic1111Client.Txt2Img(server, body, o);

        // The call is not cancelled with the job: the server renders on regardless (inside its queue lock), so a
        // cancel interrupts it and then waits for the answer, and only then frees the server for our next job.
        using var call = new CancellationTokenSource();
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var poller = PollProgressAsync(server, job.Share, tracker, o, polling.Token);
        Txt2ImgResult result;
        try
        {
            using (job.Running())
            {
                // Headers first: a successful body is decoded as it arrives rather than buffered whole.
                var send = http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, call.Token);
                var cancelled = Task.Delay(Timeout.Infinite, ct);
                if (await Task.WhenAny(send, cancelled) != send)
                {
                    await InterruptAsync(http, server, o);
                    call.CancelAfter(InterruptGrace);
                    try
                    {
                        using var abandoned = await send;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                    {
                    }
                    ct.ThrowIfCancellationRequested();
                }
                using var response = await send;
                var status = (int)response.StatusCode;
                if (status is < 200 or > 299)
                {
                    var text = await response.Content.ReadAsStringAsync(ct);
                    var described = Automatic1111Client.DescribeError(server, status, BackendHttp.Shorten(text, 4000));
                    if (Automatic1111Client.IsOutOfMemory(status, text))
                    {
                        throw new ServerOutOfMemoryException(described);
                    }
                    throw new ImageGenerationException(described);
                }
                await using var answer = await response.Content.ReadAsStreamAsync(ct);
                result = await Automatic1111Client.ReadResponseAsync(server, answer, count, request, ct);
            }
        }
        finally
        {
            await polling.CancelAsync();
            await poller;
        }
        string? model;
        try
        {
            model = VerifyModel(server, result, check, o);
        }
        catch
        {
            foreach (var image in result.Images)
            {
                image.Content.Dispose();
            }
            throw;
        }
        pool.RecordModel(server, model);
        return result.Images.Select(i => i with { Model = model }).ToList();
    }

    private async Task InterruptAsync(HttpClient http, Uri server, Automatic1111Options o)
    {
        try
        {
            await Automatic1111Client.InterruptAsync(http, server, o);
            logger.LogInformation("Interrupted our render on AUTOMATIC1111 server {Server}", ServerList.Display(server));
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            logger.LogWarning("Could not interrupt AUTOMATIC1111 server {Server}: {Reason}", ServerList.Display(server), ex.Message);
        }
    }

    /// <summary>The answer's info names the model and sampler the server really used; a mismatch means it fell
    /// back to something else (an override it could not apply), which must not pass as the model asked for.</summary>
    private static string? VerifyModel(Uri server, Txt2ImgResult result, Automatic1111Check check, Automatic1111Options o)
    {
        var used = result.ModelName is null ? null : result.ModelHash is { Length: > 0 } h ? $"{result.ModelName} [{h}]" : result.ModelName;
        if (check.ModelName is not null && result.ModelName is not null)
        {
            var sameName = string.Equals(result.ModelName, check.ModelName, StringComparison.Ordinal);
            var sameHash = check.ModelHash is null || result.ModelHash is null || string.Equals(result.ModelHash, check.ModelHash, StringComparison.OrdinalIgnoreCase);
            if (!sameName || !sameHash)
            {
                throw new ImageGenerationException(
                    $"{ServerList.Display(server)} rendered with model {used} instead of Images:Automatic1111:Checkpoint \"{o.Checkpoint}\"; the images were not kept.");
            }
        }
        if (check.Sampler is not null && result.SamplerName is not null && !string.Equals(result.SamplerName, check.Sampler, StringComparison.Ordinal))
        {
            throw new ImageGenerationException(
                $"{ServerList.Display(server)} rendered with sampler {result.SamplerName} instead of Images:Automatic1111:SamplerName \"{o.SamplerName}\"; the images were not kept.");
        }
        return used;
    }

    private static LivePreview? LivePreviewOf(string base64)
    {
        try
        {
            var bytes = Convert.FromBase64String(base64);
            return ImageSniffer.Sniff(bytes) is { } sniffed ? new LivePreview(bytes, sniffed.ContentType) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Polls the server's progress while our txt2img call runs. The server reports one job (our batch),
    /// so its fraction is the fraction of our share; a failed poll is not a failed generation.
    /// </summary>
    private async Task PollProgressAsync(Uri server, PoolShare share, ShareProgress tracker, Automatic1111Options o, CancellationToken ct)
    {
        if (!tracker.Enabled)
        {
            return;
        }
        var http = httpFactory.CreateClient(HttpClientName);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(o.ProgressInterval, time, ct);
                try
                {
                    using var pollTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    pollTimeout.CancelAfter(TimeSpan.FromSeconds(5));
                    // current_image is only filled when the server has live previews on (show_progress_every_n_steps).
                    using var message = Automatic1111Client.Get(server, "sdapi/v1/progress?skip_current_image=false", o);
                    using var response = await http.SendAsync(message, pollTimeout.Token);
                    if (!response.IsSuccessStatusCode)
                    {
                        continue;
                    }
                    using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(pollTimeout.Token));
                    var root = doc.RootElement;
                    var fraction = root.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : 0;
                    string? step = null;
                    if (root.TryGetProperty("state", out var st) && st.ValueKind == JsonValueKind.Object
                        && st.TryGetProperty("sampling_step", out var s) && s.ValueKind == JsonValueKind.Number
                        && st.TryGetProperty("sampling_steps", out var ss) && ss.ValueKind == JsonValueKind.Number && ss.GetInt32() > 0)
                    {
                        step = string.Create(CultureInfo.InvariantCulture, $"step {s.GetInt32()}/{ss.GetInt32()}");
                    }
                    if (fraction > 0)
                    {
                        tracker.Update(share, fraction, step);
                    }
                    if (BackendHttp.StringProperty(root, "current_image") is { Length: > 0 } live && LivePreviewOf(live) is { } preview)
                    {
                        tracker.Preview(share, preview);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException
                                               || (ex is OperationCanceledException && !ct.IsCancellationRequested))
                {
                    logger.LogDebug(ex, "Progress poll of {Server} failed", ServerList.Display(server));
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }
}
