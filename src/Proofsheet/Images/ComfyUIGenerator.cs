using System.Runtime.CompilerServices;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// ComfyUI: queues an SDXL text-to-image graph (API format) with <c>POST /prompt</c>, follows it on the
/// <c>/ws</c> websocket (progress, completion, errors) and fetches the outputs listed in
/// <c>/history/{id}</c> from <c>/view</c>. Each image is its own prompt with its own seed, so any candidate
/// can be rendered again alone; a batch shares one noise seed in ComfyUI and its images cannot. The
/// <see cref="ServerPool"/> spreads a request's images over the healthy servers, one job of ours per
/// server. Outputs go through <c>PreviewImage</c> into ComfyUI's temp folder, which it empties on start,
/// rather than piling up in its output folder. A cancel or timeout takes our prompt off the server.
/// </summary>
public sealed class ComfyUIGenerator(
    IHttpClientFactory httpFactory,
    IOptionsMonitor<ComfyUIOptions> options,
    [FromKeyedServices(ComfyUIGenerator.HttpClientName)] ServerPool pool,
    TimeProvider time,
    ILogger<ComfyUIGenerator> logger) : IImageGenerator
{
    public const string HttpClientName = "comfyui";
    private const string SaveNode = "9";
    private static readonly string[] ViewKeys = ["filename", "subfolder", "type"];

    /// <summary>ComfyUI's KSampler takes seeds up to 2^64-1; ours stay below 2^53 so that they survive JSON in every client.</summary>
    private const long RandomSeedLimit = 1L << 53;

    public string Name => "comfyui";

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (o.Servers.Count == 0)
        {
            throw new ImageGenerationException("ComfyUI is not configured: set Images:ComfyUI:BaseUrls.");
        }
        var seed = request.Seed ?? (ulong)Random.Shared.NextInt64(0, RandomSeedLimit);
        var tracker = new ShareProgress(progress, request.Count);
        var (images, errors) = await pool.RunAsync(o.Servers, request.Count, new PoolTimings(o.Timeout, o.ServerCooldown),
            (job, ct) => RunShareAsync(job, request, seed, tracker, o, ct), Classify, share => tracker.Reset(share), cancellationToken);
        if (images.Count == 0)
        {
            throw new ImageGenerationException("ComfyUI failed: " + string.Join(" ", errors.Distinct()));
        }
        progress?.Report(new GenerationProgress(images.Count, request.Count, "done"));
        return images;
    }

    private static ServerFailure? Classify(Uri server, Exception ex) => ex switch
    {
        ImageGenerationException => new ServerFailure(ex.Message),
        HttpRequestException h => new ServerFailure($"{ServerList.Display(server)}: {BackendHttp.Describe(h)}."),
        WebSocketException or JsonException => new ServerFailure($"{ServerList.Display(server)}: {ex.Message}"),
        _ => null,
    };

    private async Task<IReadOnlyList<GeneratedImage>> RunShareAsync(ServerJob job, ImageRequest request, ulong seed, ShareProgress tracker, ComfyUIOptions o, CancellationToken ct)
    {
        var server = job.Server;
        var http = httpFactory.CreateClient(HttpClientName);
        var clientId = Guid.NewGuid().ToString("N");

        // The socket is opened before queueing, or the first events of a fast job are lost.
        using var socket = new ClientWebSocket();
        var socketOpen = true;
        try
        {
            await socket.ConnectAsync(SocketUri(server, clientId), ct);
        }
        catch (WebSocketException ex)
        {
            logger.LogWarning(ex, "ComfyUI websocket at {Server} did not open; following the job through /history instead", ServerList.Display(server));
            socketOpen = false;
        }

        var images = new List<GeneratedImage>();
        for (var i = 0; i < job.Share.Count; i++)
        {
            // Past 2^64-1 the count wraps to 0, as ComfyUI's own increment does.
            var imageSeed = unchecked(seed + (ulong)(job.Share.Offset + i));
            var graph = BuildGraph(request with { Count = 1 }, imageSeed, o);
            using (job.Running())
            {
                // Queueing is not cut short by a cancel: a prompt the server took without our learning its id
                // could not be taken off again.
                using var queueTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var promptId = await QueueAsync(http, server, graph, clientId, queueTimeout.Token);
                var started = new StrongBox<bool>();
                try
                {
                    ct.ThrowIfCancellationRequested();
                    if (socketOpen)
                    {
                        await FollowAsync(socket, promptId, job.Share, i, tracker, started, ct);
                    }
                    var entry = await WaitForHistoryAsync(http, server, promptId, ct);
                    var image = await FetchOutputAsync(http, server, entry, request, ct);
                    images.Add(image with { Seed = imageSeed, Model = o.Checkpoint });
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    await TakeOffServerAsync(http, server, promptId, started.Value);
                    throw;
                }
            }
            pool.RecordModel(server, o.Checkpoint);
            tracker.Update(job.Share, (double)(i + 1) / job.Share.Count, "image finished");
        }
        if (socket.State == WebSocketState.Open)
        {
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
            catch (WebSocketException)
            {
            }
        }
        tracker.Finish(job.Share);
        return images;
    }

    private static async Task<string> QueueAsync(HttpClient http, Uri server, JsonObject graph, string clientId, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync(new Uri(server, "prompt"), new JsonObject { ["prompt"] = graph, ["client_id"] = clientId }, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new ImageGenerationException(DescribePromptError(server, (int)response.StatusCode, text));
        }
        using var queued = BackendHttp.TryParse(text);
        return (queued is null ? null : BackendHttp.StringProperty(queued.RootElement, "prompt_id"))
            ?? throw new ImageGenerationException($"{ServerList.Display(server)} answered /prompt without a prompt_id.");
    }

    /// <summary>ComfyUI renders a queued prompt whether or not anyone waits for it: a running one is interrupted
    /// (by prompt id, so that nobody else's render stops), a waiting one is deleted from the queue.</summary>
    private async Task TakeOffServerAsync(HttpClient http, Uri server, string promptId, bool started)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            if (!started)
            {
                using var deleted = await http.PostAsJsonAsync(new Uri(server, "queue"), new JsonObject { ["delete"] = new JsonArray(promptId) }, timeout.Token);
            }
            // Also when not seen starting: it may have started since; an interrupt naming another prompt does nothing.
            using var interrupted = await http.PostAsJsonAsync(new Uri(server, "interrupt"), new JsonObject { ["prompt_id"] = promptId }, timeout.Token);
            logger.LogInformation("Took prompt {PromptId} off ComfyUI server {Server}", promptId, ServerList.Display(server));
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            logger.LogWarning("Could not take prompt {PromptId} off ComfyUI server {Server}: {Reason}", promptId, ServerList.Display(server), ex.Message);
        }
    }

    private static Uri SocketUri(Uri server, string clientId)
    {
        var b = new UriBuilder(new Uri(server, "ws")) { Scheme = server.Scheme == "https" ? "wss" : "ws", Query = "clientId=" + clientId };
        return b.Uri;
    }

    /// <summary>The minimal SDXL graph of ComfyUI's own API example, with the request's values.</summary>
    internal static JsonObject BuildGraph(ImageRequest request, ulong seed, ComfyUIOptions o) => new()
    {
        ["4"] = Node("CheckpointLoaderSimple", new JsonObject { ["ckpt_name"] = o.Checkpoint }),
        ["5"] = Node("EmptyLatentImage", new JsonObject
        {
            ["width"] = Math.Max(16, request.Width - request.Width % 8),
            ["height"] = Math.Max(16, request.Height - request.Height % 8),
            ["batch_size"] = request.Count,
        }),
        ["6"] = Node("CLIPTextEncode", new JsonObject { ["text"] = request.Prompt, ["clip"] = Link("4", 1) }),
        ["7"] = Node("CLIPTextEncode", new JsonObject { ["text"] = request.NegativePrompt ?? "", ["clip"] = Link("4", 1) }),
        ["3"] = Node("KSampler", new JsonObject
        {
            ["seed"] = seed,
            ["steps"] = request.Steps,
            ["cfg"] = o.Cfg,
            ["sampler_name"] = o.SamplerName,
            ["scheduler"] = o.Scheduler,
            ["denoise"] = 1.0,
            ["model"] = Link("4", 0),
            ["positive"] = Link("6", 0),
            ["negative"] = Link("7", 0),
            ["latent_image"] = Link("5", 0),
        }),
        ["8"] = Node("VAEDecode", new JsonObject { ["samples"] = Link("3", 0), ["vae"] = Link("4", 2) }),
        [SaveNode] = Node("PreviewImage", new JsonObject { ["images"] = Link("8", 0) }),
    };

    private static JsonObject Node(string type, JsonObject inputs) => new() { ["class_type"] = type, ["inputs"] = inputs };

    private static JsonArray Link(string node, int output) => [node, output];

    /// <summary>Reads the websocket until our prompt ends. Returns normally when it succeeded or the socket dropped
    /// (the history then tells); throws when the server reported an error or an interrupt.</summary>
    private async Task FollowAsync(ClientWebSocket socket, string promptId, PoolShare share, int image, ShareProgress tracker, StrongBox<bool> started, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (socket.State == WebSocketState.Open)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer, ct);
            }
            catch (WebSocketException ex)
            {
                logger.LogWarning(ex, "ComfyUI websocket dropped while following prompt {PromptId}; reading /history instead", promptId);
                return;
            }
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }
            var bytes = message.ToArray();
            message.SetLength(0);
            // Binary frames are live previews while a prompt samples (the socket is ours alone, by client id):
            // a 4-byte big-endian event type (1 = preview image), a 4-byte image type (1 = JPEG, 2 = PNG), the image.
            if (result.MessageType != WebSocketMessageType.Text)
            {
                if (started.Value && bytes.Length > 8 && System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes) == 1
                    && ImageSniffer.Sniff(bytes.AsSpan(8)) is { } sniffed)
                {
                    tracker.Preview(share, new LivePreview(bytes[8..], sniffed.ContentType));
                }
                continue;
            }
            using var doc = BackendHttp.TryParse(Encoding.UTF8.GetString(bytes));
            if (doc is null || BackendHttp.StringProperty(doc.RootElement, "type") is not { } type
                || !doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
                || BackendHttp.StringProperty(data, "prompt_id") != promptId)
            {
                continue;
            }
            switch (type)
            {
                case "execution_start":
                    started.Value = true;
                    break;
                case "progress" when data.TryGetProperty("value", out var v) && data.TryGetProperty("max", out var m)
                                     && v.TryGetInt32(out var value) && m.TryGetInt32(out var max) && max > 0:
                    started.Value = true;
                    tracker.Update(share, (image + (double)value / max) / share.Count, string.Create(CultureInfo.InvariantCulture, $"step {value}/{max}"));
                    break;
                case "executing" when data.TryGetProperty("node", out var node) && node.ValueKind == JsonValueKind.Null:
                case "execution_success":
                    return;
                case "execution_error":
                    throw new ImageGenerationException(DescribeExecutionError(data));
                case "execution_interrupted":
                    throw new ImageGenerationException($"ComfyUI interrupted the job at node {BackendHttp.StringProperty(data, "node_type") ?? "?"}.");
            }
        }
    }

    private async Task<JsonElement> WaitForHistoryAsync(HttpClient http, Uri server, string promptId, CancellationToken ct)
    {
        // The history is written as the job ends; right after the socket's "done" it may lag a moment.
        for (var delay = TimeSpan.FromMilliseconds(100); ; delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000)))
        {
            var text = await http.GetStringAsync(new Uri(server, "history/" + Uri.EscapeDataString(promptId)), ct);
            using var doc = BackendHttp.TryParse(text)
                ?? throw new ImageGenerationException($"{ServerList.Display(server)} answered /history with a body that is not JSON.");
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(promptId, out var entry))
            {
                var status = entry.TryGetProperty("status", out var st) ? BackendHttp.StringProperty(st, "status_str") : null;
                if (status == "error")
                {
                    var error = st.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array
                        ? messages.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Array && x.GetArrayLength() == 2 && x[0].GetString() == "execution_error")
                            .Select(x => DescribeExecutionError(x[1])).FirstOrDefault()
                        : null;
                    throw new ImageGenerationException(error ?? "ComfyUI reported that the job failed.");
                }
                return entry.Clone();
            }
            await Task.Delay(delay, time, ct);
        }
    }

    private static async Task<GeneratedImage> FetchOutputAsync(HttpClient http, Uri server, JsonElement entry, ImageRequest request, CancellationToken ct)
    {
        if (!entry.TryGetProperty("outputs", out var outputs) || !outputs.TryGetProperty(SaveNode, out var save)
            || !save.TryGetProperty("images", out var files) || files.ValueKind != JsonValueKind.Array || files.GetArrayLength() == 0)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} finished the job but listed no images.");
        }
        var file = files[0];
        var query = string.Join("&", ViewKeys.Select(k => k + "=" + Uri.EscapeDataString(BackendHttp.StringProperty(file, k) ?? "")));
        using var response = await http.GetAsync(new Uri(server, "view?" + query), ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} answered /view with {(int)response.StatusCode} for {BackendHttp.StringProperty(file, "filename")}.");
        }
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var sniffed = ImageSniffer.Sniff(bytes)
            ?? throw new ImageGenerationException($"{ServerList.Display(server)} served a file from /view that is not an image.");
        return new GeneratedImage(bytes, sniffed.ContentType, sniffed.Width > 0 ? sniffed.Width : request.Width, sniffed.Height > 0 ? sniffed.Height : request.Height);
    }

    private static string DescribeExecutionError(JsonElement data) =>
        BackendHttp.Shorten($"ComfyUI failed in {BackendHttp.StringProperty(data, "node_type") ?? "a node"}: "
                            + $"{BackendHttp.StringProperty(data, "exception_type") ?? "error"}: {BackendHttp.StringProperty(data, "exception_message") ?? "no message"}", 500);

    private static string DescribePromptError(Uri server, int status, string body)
    {
        var where = $"{ServerList.Display(server)} rejected the job ({status})";
        using var doc = BackendHttp.TryParse(body);
        if (doc?.RootElement is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("error", out var error))
        {
            var message = error.ValueKind == JsonValueKind.String ? error.GetString() : BackendHttp.StringProperty(error, "message");
            var details = error.ValueKind == JsonValueKind.Object ? BackendHttp.StringProperty(error, "details") : null;
            var nodes = root.TryGetProperty("node_errors", out var ne) && ne.ValueKind == JsonValueKind.Object
                ? ne.EnumerateObject().SelectMany(n => n.Value.TryGetProperty("errors", out var errs) && errs.ValueKind == JsonValueKind.Array
                    ? errs.EnumerateArray().Select(e => $"{BackendHttp.StringProperty(n.Value, "class_type") ?? n.Name}: {BackendHttp.StringProperty(e, "details") ?? BackendHttp.StringProperty(e, "message")}")
                    : []).ToList()
                : [];
            var text = nodes.Count > 0 ? $"{message} ({string.Join("; ", nodes)})"
                : string.IsNullOrWhiteSpace(details) || details == message ? message : $"{message}: {details}";
            return $"{where}: {BackendHttp.Shorten(text, 500)}.";
        }
        return $"{where}: {(string.IsNullOrWhiteSpace(body) ? "no details" : BackendHttp.Shorten(body, 300))}.";
    }
}
