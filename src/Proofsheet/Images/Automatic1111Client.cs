using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Proofsheet.Images;

/// <summary>A server's answer to txt2img: the images and what it says it rendered them with.</summary>
internal sealed record Txt2ImgResult(IReadOnlyList<GeneratedImage> Images, string? ModelName, string? ModelHash, string? SamplerName);

/// <summary>The server ran out of GPU memory for this batch; a smaller batch may fit.</summary>
internal sealed class ServerOutOfMemoryException(string message) : Exception(message);

/// <summary>
/// The wire protocol of AUTOMATIC1111's <c>/sdapi/v1</c> (also Forge and SD.Next): requests, answers and
/// error bodies, one server at a time. Which server and when is the generator's business.
/// </summary>
internal static class Automatic1111Client
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static void Authorize(HttpRequestMessage message, Automatic1111Options o)
    {
        if (!string.IsNullOrEmpty(o.Username))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.Username}:{o.Password}")));
        }
    }

    public static HttpRequestMessage Get(Uri server, string path, Automatic1111Options o)
    {
        var message = new HttpRequestMessage(HttpMethod.Get, new Uri(server, path));
        Authorize(message, o);
        return message;
    }

    public static HttpRequestMessage Txt2Img(Uri server, Txt2ImgRequest body, Automatic1111Options o)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "sdapi/v1/txt2img")) { Content = JsonContent.Create(body, options: Json) };
        Authorize(message, o);
        return message;
    }

    /// <summary>Stops whatever the server is rendering. Sent only while our job runs there.</summary>
    public static async Task InterruptAsync(HttpClient http, Uri server, Automatic1111Options o)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "sdapi/v1/interrupt"));
        Authorize(message, o);
        using var response = await http.SendAsync(message, timeout.Token);
    }

    /// <summary>Turns any of the error bodies these servers send into one plain sentence: A1111's middleware
    /// (<c>{error, detail, body, errors}</c>), Forge's (<c>{error, detail, body, message}</c>) and FastAPI's own
    /// (<c>{"detail":"…"}</c> or a validation list).</summary>
    public static string DescribeError(Uri server, int status, string body)
    {
        var where = $"{ServerList.Display(server)} answered {status}";
        using var doc = BackendHttp.TryParse(body);
        if (doc is not null && doc.RootElement.ValueKind == JsonValueKind.Object)
        {
            var root = doc.RootElement;
            var error = BackendHttp.StringProperty(root, "error");
            var detail = BackendHttp.StringProperty(root, "detail");
            var more = BackendHttp.StringProperty(root, "errors") ?? BackendHttp.StringProperty(root, "message");
            if (error is not null || detail is not null)
            {
                // Starlette may repeat the detail in errors as "<code>: <detail>"; say it once.
                var kept = new List<string>();
                foreach (var part in new[] { error, detail, more }.Where(t => !string.IsNullOrWhiteSpace(t)).Select(t => t!.Trim().TrimEnd('.')))
                {
                    if (!kept.Any(k => k.Contains(part, StringComparison.Ordinal) || part.Contains(k, StringComparison.Ordinal)))
                    {
                        kept.Add(part);
                    }
                }
                var text = string.Join(": ", kept);
                if (status == 401)
                {
                    return $"{where}: {BackendHttp.Shorten(text, 200)}; check Images:Automatic1111:Username and Password.";
                }
                return $"{where}: {BackendHttp.Shorten(text, 400)}.";
            }
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

    public static bool IsOutOfMemory(int status, string body) =>
        status == 500 && (body.Contains("OutOfMemory", StringComparison.OrdinalIgnoreCase) || body.Contains("out of memory", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads a successful txt2img answer from the body as it arrives: each image is decoded into its own
    /// spool (<see cref="JsonImageReader"/>) rather than the whole answer held as text.</summary>
    public static async Task<Txt2ImgResult> ReadResponseAsync(Uri server, Stream body, int expected, ImageRequest request, CancellationToken ct)
    {
        JsonImageAnswer answer;
        try
        {
            answer = await JsonImageReader.ReadAsync(body, path => path == "$.images[]", ct);
        }
        catch (JsonException ex)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} answered txt2img with a body that is not JSON.", ex);
        }
        catch (FormatException ex)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} returned an image that is not base64.", ex);
        }
        catch (IOException ex)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} broke off its txt2img answer: {ex.Message}", ex);
        }
        using (answer)
        {
            return ParseResponse(server, answer, expected, request);
        }
    }

    private static Txt2ImgResult ParseResponse(Uri server, JsonImageAnswer answer, int expected, ImageRequest request)
    {
        var root = answer.Rest.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("images", out var imagesElement) || imagesElement.ValueKind != JsonValueKind.Array)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} answered txt2img without an images list.");
        }
        if (imagesElement.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} returned an image that is not base64.");
        }
        var seeds = new List<long>();
        var first = 0;
        string? modelName = null, modelHash = null, sampler = null;
        // info is JSON inside a string: the seeds, the grid offset and what the server actually used.
        if (BackendHttp.StringProperty(root, "info") is { } infoText && BackendHttp.TryParse(infoText) is { } info)
        {
            using (info)
            {
                var i = info.RootElement;
                if (i.ValueKind == JsonValueKind.Object)
                {
                    if (i.TryGetProperty("all_seeds", out var all) && all.ValueKind == JsonValueKind.Array)
                    {
                        seeds.AddRange(all.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt64()));
                    }
                    else if (i.TryGetProperty("seed", out var one) && one.ValueKind == JsonValueKind.Number)
                    {
                        seeds.Add(one.GetInt64());
                    }
                    if (i.TryGetProperty("index_of_first_image", out var ix) && ix.ValueKind == JsonValueKind.Number)
                    {
                        first = Math.Max(0, ix.GetInt32());
                    }
                    modelName = BackendHttp.StringProperty(i, "sd_model_name");
                    modelHash = BackendHttp.StringProperty(i, "sd_model_hash");
                    sampler = BackendHttp.StringProperty(i, "sampler_name");
                }
            }
        }
        // The answer keeps what is left in it (a grid before the images, extras after) and disposes it.
        var taken = answer.Images.Skip(first).Take(expected).ToList();
        var images = new List<GeneratedImage>();
        try
        {
            foreach (var (content, i) in taken.Select((x, i) => (x, i)))
            {
                var sniffed = ImageSniffer.Sniff(content.Head)
                    ?? throw new ImageGenerationException($"{ServerList.Display(server)} returned data that is not a PNG, JPEG or WebP image.");
                answer.Images.Remove(content);
                images.Add(new GeneratedImage(content, sniffed.ContentType, sniffed.Width > 0 ? sniffed.Width : request.Width, sniffed.Height > 0 ? sniffed.Height : request.Height)
                {
                    Seed = (i < seeds.Count ? seeds[i] : seeds.Count > 0 ? seeds[0] + i : (long?)null) is >= 0 and var s ? (ulong)s : null,
                });
            }
        }
        catch
        {
            images.ForEach(i => i.Content.Dispose());
            throw;
        }
        if (images.Count == 0)
        {
            throw new ImageGenerationException($"{ServerList.Display(server)} returned no images (the job may have been interrupted).");
        }
        return new Txt2ImgResult(images, modelName, modelHash, sampler);
    }
}

internal sealed record Txt2ImgRequest
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
