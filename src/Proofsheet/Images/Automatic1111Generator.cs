using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// AUTOMATIC1111 / Forge / SD.Next through <c>POST /sdapi/v1/txt2img</c>. A request's variations are
/// one batch (<c>batch_size</c>) per server; with several servers in <c>Images:Automatic1111:BaseUrls</c>
/// the batch is split across the healthy ones and the shares run at once. Each server runs one job at
/// a time (it holds a global lock), so calls to one server are queued here, where the wait is visible,
/// rather than inside its HTTP call.
/// </summary>
public sealed class Automatic1111Generator(
    IHttpClientFactory httpFactory,
    IOptionsMonitor<Automatic1111Options> options,
    TimeProvider time,
    ILogger<Automatic1111Generator> logger) : IImageGenerator
{
    public const string HttpClientName = "automatic1111";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed class Server
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public DateTimeOffset DownUntil { get; set; }
        /// <summary>Images handed to this server and not finished yet.</summary>
        public int Pending { get; set; }
    }

    private readonly Lock _assignLock = new();

    private readonly ConcurrentDictionary<Uri, Server> _servers = new();

    public string Name => "automatic1111";

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var all = o.Servers;
        if (all.Count == 0)
        {
            throw new ImageGenerationException("AUTOMATIC1111 is not configured: set Images:Automatic1111:BaseUrls.");
        }
        var now = time.GetUtcNow();
        var healthy = all.Where(s => StateOf(s).DownUntil <= now).ToList();
        if (healthy.Count == 0)
        {
            // Every server failed recently; trying them again is better than failing without asking.
            healthy = [.. all];
        }

        // Concurrent requests go to the least busy servers first; in list order, every request would
        // queue on the first servers of the pool while the others sit idle.
        List<Share> shares;
        lock (_assignLock)
        {
            healthy = [.. healthy.OrderBy(s => StateOf(s).Pending)];
            shares = Split(request.Count, healthy);
            foreach (var share in shares)
            {
                StateOf(share.Server).Pending += share.Count;
            }
        }
        var tracker = new ProgressTracker(progress, request.Count, shares.Select(s => s.Count).ToArray());
        var tasks = shares.Select((share, i) => RunShareAsync(request, share, i, healthy, tracker, o, cancellationToken)).ToList();
        var outcomes = await Task.WhenAll(tasks);

        var images = outcomes.SelectMany(r => r.Images).ToList();
        if (images.Count == 0)
        {
            throw new ImageGenerationException("AUTOMATIC1111 failed: " + string.Join(" ", outcomes.SelectMany(r => r.Errors).Distinct()));
        }
        return images;
    }

    private sealed record Share(Uri Server, int Count, int Offset);

    private sealed record ShareOutcome(IReadOnlyList<GeneratedImage> Images, IReadOnlyList<string> Errors);

    /// <summary>Splits N variations as evenly as possible over the servers (4 on 2 → 2 + 2; 3 on 2 → 2 + 1).</summary>
    private static List<Share> Split(int count, List<Uri> servers)
    {
        var used = Math.Min(Math.Max(count, 1), servers.Count);
        var shares = new List<Share>(used);
        var offset = 0;
        for (var i = 0; i < used; i++)
        {
            var n = count / used + (i < count % used ? 1 : 0);
            shares.Add(new Share(servers[i], n, offset));
            offset += n;
        }
        return shares;
    }

    /// <summary>Runs one share on its server; when that server fails, hands the share to the other healthy servers in turn.</summary>
    private async Task<ShareOutcome> RunShareAsync(ImageRequest request, Share share, int index, IReadOnlyList<Uri> healthy, ProgressTracker tracker,
        Automatic1111Options o, CancellationToken ct)
    {
        try
        {
            return await RunShareOnPoolAsync(request, share, index, healthy, tracker, o, ct);
        }
        finally
        {
            lock (_assignLock)
            {
                StateOf(share.Server).Pending -= share.Count;
            }
        }
    }

    private async Task<ShareOutcome> RunShareOnPoolAsync(ImageRequest request, Share share, int index, IReadOnlyList<Uri> healthy, ProgressTracker tracker,
        Automatic1111Options o, CancellationToken ct)
    {
        var start = healthy.ToList().IndexOf(share.Server);
        var candidates = healthy.Skip(start).Concat(healthy.Take(start)).ToList();
        var errors = new List<string>();
        foreach (var server in candidates)
        {
            try
            {
                var images = await RunOnServerAsync(request, share, index, server, tracker, o, ct);
                tracker.Finish(index);
                return new ShareOutcome(images, errors);
            }
            catch (Exception ex) when (ex is ImageGenerationException or HttpRequestException or JsonException or TimeoutException
                                           || (ex is OperationCanceledException && !ct.IsCancellationRequested))
            {
                var message = ex switch
                {
                    ImageGenerationException => ex.Message,
                    HttpRequestException h => $"{ServerList.Display(server)}: {BackendHttp.Describe(h)}.",
                    JsonException => $"{ServerList.Display(server)} answered with a body that is not the txt2img response.",
                    _ => $"{ServerList.Display(server)} did not finish within {o.Timeout.TotalSeconds:0.#} s.",
                };
                logger.LogWarning("AUTOMATIC1111 server {Server} failed a batch of {Count}: {Reason}", ServerList.Display(server), share.Count, message);
                errors.Add(message);
                StateOf(server).DownUntil = time.GetUtcNow() + o.ServerCooldown;
                tracker.Reset(index);
            }
        }
        return new ShareOutcome([], errors);
    }

    private async Task<IReadOnlyList<GeneratedImage>> RunOnServerAsync(ImageRequest request, Share share, int index, Uri server,
        ProgressTracker tracker, Automatic1111Options o, CancellationToken ct)
    {
        var state = StateOf(server);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.Timeout);
        await state.Gate.WaitAsync(timeout.Token);
        try
        {
            var http = httpFactory.CreateClient(HttpClientName);
            var body = new Txt2ImgRequest
            {
                Prompt = request.Prompt,
                NegativePrompt = request.NegativePrompt ?? "",
                Seed = request.Seed is { } seed ? seed + share.Offset : -1,
                Steps = request.Steps,
                CfgScale = o.CfgScale,
                Width = request.Width - request.Width % 8,
                Height = request.Height - request.Height % 8,
                SamplerName = string.IsNullOrWhiteSpace(o.SamplerName) ? null : o.SamplerName,
                Scheduler = string.IsNullOrWhiteSpace(o.Scheduler) ? null : o.Scheduler,
                BatchSize = share.Count,
                NIter = 1,
                OverrideSettings = string.IsNullOrWhiteSpace(o.Checkpoint) ? null : new Dictionary<string, string> { ["sd_model_checkpoint"] = o.Checkpoint },
            };
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "sdapi/v1/txt2img"))
            {
                Content = JsonContent.Create(body, options: Json),
            };
            Authorize(message, o);

            using var polling = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            var poller = PollProgressAsync(server, index, share.Count, tracker, o, polling.Token);
            try
            {
                using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    throw new ImageGenerationException(DescribeError(server, (int)response.StatusCode, await BackendHttp.ReadSnippetAsync(response, timeout.Token)));
                }
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                return ParseResponse(server, text, share.Count, request);
            }
            finally
            {
                await polling.CancelAsync();
                await poller;
            }
        }
        finally
        {
            state.Gate.Release();
        }
    }

    internal static void Authorize(HttpRequestMessage message, Automatic1111Options o)
    {
        if (!string.IsNullOrEmpty(o.Username))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.Username}:{o.Password}")));
        }
    }

    /// <summary>
    /// Polls the server's progress while our txt2img call runs. The server reports one job (our batch),
    /// so its fraction is the fraction of our share; a failed poll is not a failed generation.
    /// </summary>
    private async Task PollProgressAsync(Uri server, int index, int count, ProgressTracker tracker, Automatic1111Options o, CancellationToken ct)
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
                    using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(server, "sdapi/v1/progress?skip_current_image=true"));
                    Authorize(message, o);
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
                        tracker.Update(index, fraction, step);
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

    private static string DescribeError(Uri server, int status, string body)
    {
        var where = $"{ServerList.Display(server)} answered {status}";
        using var doc = BackendHttp.TryParse(body);
        if (doc is not null && doc.RootElement.ValueKind == JsonValueKind.Object)
        {
            var root = doc.RootElement;
            var error = BackendHttp.StringProperty(root, "error");
            var detail = BackendHttp.StringProperty(root, "detail");
            var errors = BackendHttp.StringProperty(root, "errors");
            if (error is not null)
            {
                var text = string.Join(": ", new[] { error, string.IsNullOrWhiteSpace(detail) ? errors : detail }.Where(t => !string.IsNullOrWhiteSpace(t)));
                var hint = error.Contains("OutOfMemory", StringComparison.OrdinalIgnoreCase)
                    ? " The GPU ran out of memory: lower Images:Width/Height or the number of variations."
                    : "";
                return $"{where}: {BackendHttp.Shorten(text, 400)}.{hint}";
            }
            // FastAPI's validation shape: {"detail":[{"loc":[...],"msg":"..."}]}
            if (root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.Array)
            {
                var msgs = d.EnumerateArray().Select(e => string.Join(".", e.TryGetProperty("loc", out var loc) && loc.ValueKind == JsonValueKind.Array
                    ? loc.EnumerateArray().Select(x => x.ToString()) : []) + ": " + BackendHttp.StringProperty(e, "msg"));
                return $"{where}: invalid request ({BackendHttp.Shorten(string.Join("; ", msgs), 400)}).";
            }
        }
        return status == 401
            ? $"{where}: the username or password (Images:Automatic1111:Username/Password) was rejected."
            : $"{where}: {(string.IsNullOrWhiteSpace(body) ? "no details" : BackendHttp.Shorten(body, 300))}.";
    }

    private static List<GeneratedImage> ParseResponse(Uri server, string text, int expected, ImageRequest request)
    {
        using var doc = BackendHttp.TryParse(text)
            ?? throw new ImageGenerationException($"{ServerList.Display(server)} answered txt2img with a body that is not JSON.");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("images", out var imagesElement) || imagesElement.ValueKind != JsonValueKind.Array)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} answered txt2img without an images list.");
        }
        var seeds = new List<long>();
        var first = 0;
        // info is JSON inside a string; only the seeds and the grid offset are read from it.
        if (BackendHttp.StringProperty(root, "info") is { } infoText && BackendHttp.TryParse(infoText) is { } info)
        {
            using (info)
            {
                if (info.RootElement.ValueKind == JsonValueKind.Object)
                {
                    if (info.RootElement.TryGetProperty("all_seeds", out var all) && all.ValueKind == JsonValueKind.Array)
                    {
                        seeds.AddRange(all.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt64()));
                    }
                    else if (info.RootElement.TryGetProperty("seed", out var one) && one.ValueKind == JsonValueKind.Number)
                    {
                        seeds.Add(one.GetInt64());
                    }
                    if (info.RootElement.TryGetProperty("index_of_first_image", out var ix) && ix.ValueKind == JsonValueKind.Number)
                    {
                        first = Math.Max(0, ix.GetInt32());
                    }
                }
            }
        }
        var images = new List<GeneratedImage>();
        foreach (var (item, i) in imagesElement.EnumerateArray().Skip(first).Take(expected).Select((x, i) => (x, i)))
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(item.GetString() ?? "");
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException)
            {
                throw new ImageGenerationException($"{ServerList.Display(server)} returned an image that is not base64.", ex);
            }
            var sniffed = ImageSniffer.Sniff(bytes)
                ?? throw new ImageGenerationException($"{ServerList.Display(server)} returned data that is not a PNG, JPEG or WebP image.");
            images.Add(new GeneratedImage(bytes, sniffed.ContentType, sniffed.Width > 0 ? sniffed.Width : request.Width, sniffed.Height > 0 ? sniffed.Height : request.Height)
            {
                Seed = i < seeds.Count ? seeds[i] : seeds.Count > 0 ? seeds[0] + i : null,
            });
        }
        if (images.Count == 0)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} returned no images (the job may have been interrupted).");
        }
        return images;
    }

    private Server StateOf(Uri server) => _servers.GetOrAdd(server, _ => new Server());

    private sealed record Txt2ImgRequest
    {
        public required string Prompt { get; init; }
        public required string NegativePrompt { get; init; }
        public long Seed { get; init; }
        public int Steps { get; init; }
        public double CfgScale { get; init; }
        public int Width { get; init; }
        public int Height { get; init; }
        public string? SamplerName { get; init; }
        public string? Scheduler { get; init; }
        public int BatchSize { get; init; }
        public int NIter { get; init; }
        public bool SendImages { get; init; } = true;
        public bool SaveImages { get; init; }
        public Dictionary<string, string>? OverrideSettings { get; init; }
    }

    /// <summary>Combines the progress of the shares running on different servers into progress on the request.</summary>
    private sealed class ProgressTracker(IProgress<GenerationProgress>? progress, int total, int[] counts)
    {
        private readonly double[] _fractions = new double[counts.Length];
        private readonly Lock _lock = new();

        public bool Enabled => progress is not null;

        public void Update(int share, double fraction, string? step) => Set(share, Math.Clamp(fraction, 0, 0.999), step);

        public void Finish(int share) => Set(share, 1, "batch finished");

        public void Reset(int share) => Set(share, 0, "retrying on another server");

        private void Set(int share, double fraction, string? step)
        {
            if (progress is null)
            {
                return;
            }
            lock (_lock)
            {
                _fractions[share] = fraction;
                // The server samples a batch together: its fraction is shown as that share of the batch's images.
                var done = _fractions.Select((f, i) => f >= 1 ? counts[i] : (int)Math.Floor(f * counts[i])).Sum();
                progress.Report(new GenerationProgress(Math.Min(done, total), total, step));
            }
        }
    }
}
