using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// OpenAI's image API (<c>POST /images/generations</c>), or any server that speaks it. GPT image models
/// always answer with base64 and reject <c>response_format</c>; DALL·E models are asked for base64.
/// 429 and 5xx are retried honouring <c>Retry-After</c>, other 4xx never.
/// </summary>
public sealed class OpenAIImageGenerator(
    IHttpClientFactory httpFactory,
    IOptionsMonitor<OpenAIImageOptions> options,
    TimeProvider time,
    ILogger<OpenAIImageGenerator> logger) : IImageGenerator
{
    public const string HttpClientName = "openai-images";

    public string Name => "openai";

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (string.IsNullOrWhiteSpace(o.ApiKey))
        {
            throw new ImageGenerationException("OpenAI images is not configured: set Images:OpenAI:ApiKey.");
        }
        var model = o.Model.Trim();
        // dall-e-3 makes one image per call; the others take up to 10.
        var perCall = model.Equals("dall-e-3", StringComparison.OrdinalIgnoreCase) ? 1 : 10;
        var images = new List<GeneratedImage>(request.Count);
        while (images.Count < request.Count)
        {
            var n = Math.Min(perCall, request.Count - images.Count);
            var batch = await GenerateBatchAsync(request, n, o, cancellationToken);
            images.AddRange(batch.Take(request.Count - images.Count));
            progress?.Report(new GenerationProgress(images.Count, request.Count, $"{images.Count} of {request.Count} images from {model}"));
            if (batch.Count == 0)
            {
                break;
            }
        }
        return images;
    }

    private async Task<IReadOnlyList<GeneratedImage>> GenerateBatchAsync(ImageRequest request, int n, OpenAIImageOptions o, CancellationToken ct)
    {
        var model = o.Model.Trim();
        var isGptImage = model.StartsWith("gpt-image", StringComparison.OrdinalIgnoreCase);
        var body = new Dictionary<string, object>
        {
            ["model"] = model,
            ["prompt"] = request.Prompt,
            ["n"] = n,
            ["size"] = string.IsNullOrWhiteSpace(o.Size) ? SizeFor(model, request.Width, request.Height) : o.Size.Trim(),
        };
        if (!isGptImage)
        {
            body["response_format"] = "b64_json";
        }
        if (isGptImage && !string.IsNullOrWhiteSpace(o.Quality))
        {
            body["quality"] = o.Quality.Trim();
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.Timeout);
        var http = httpFactory.CreateClient(HttpClientName);
        var endpoint = new Uri(BaseUri(o), "images/generations");
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = JsonContent.Create(body) };
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", o.ApiKey);
                HttpResponseMessage response;
                try
                {
                    // Headers first: a successful body is decoded as it arrives rather than buffered whole.
                    response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                }
                catch (HttpRequestException ex) when (attempt < o.MaxRetries)
                {
                    var wait = Backoff(attempt, null, o);
                    logger.LogWarning("OpenAI images request failed ({Reason}); retrying in {Delay}", BackendHttp.Describe(ex), wait);
                    await Task.Delay(wait, time, timeout.Token);
                    continue;
                }
                catch (HttpRequestException ex)
                {
                    throw new ImageGenerationException($"OpenAI images at {ServerList.Display(endpoint)}: {BackendHttp.Describe(ex)}.", ex);
                }
                using (response)
                {
                    if (response.IsSuccessStatusCode)
                    {
                        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
                        return await ReadAsync(http, stream, request, timeout.Token);
                    }
                    var text = await BackendHttp.ReadSnippetAsync(response, timeout.Token);
                    var (errorMessage, code) = ParseError(text);
                    if (attempt < o.MaxRetries && ShouldRetry(response, code))
                    {
                        var wait = Backoff(attempt, response.Headers, o);
                        logger.LogWarning("OpenAI images answered {Status}; retrying in {Delay}", (int)response.StatusCode, wait);
                        await Task.Delay(wait, time, timeout.Token);
                        continue;
                    }
                    throw new ImageGenerationException(Scrub(Describe(response.StatusCode, errorMessage, code, text), o.ApiKey));
                }
            }
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new ImageGenerationException($"OpenAI images did not answer within {o.Timeout.TotalSeconds:0.#} s.", ex);
        }
    }

    internal static Uri BaseUri(OpenAIImageOptions o) => new(o.BaseUrl.Trim().TrimEnd('/') + "/");

    /// <summary>The supported size closest to the requested shape; each model family has its own list.</summary>
    internal static string SizeFor(string model, int width, int height)
    {
        var m = model.ToLowerInvariant();
        var shape = width > height ? 1 : width < height ? -1 : 0;
        if (m.StartsWith("gpt-image", StringComparison.Ordinal))
        {
            return shape switch { 1 => "1536x1024", -1 => "1024x1536", _ => "1024x1024" };
        }
        if (m == "dall-e-3")
        {
            return shape switch { 1 => "1792x1024", -1 => "1024x1792", _ => "1024x1024" };
        }
        if (m == "dall-e-2")
        {
            var side = Math.Max(width, height);
            return side <= 256 ? "256x256" : side <= 512 ? "512x512" : "1024x1024";
        }
        return string.Create(CultureInfo.InvariantCulture, $"{width}x{height}");
    }

    private static bool ShouldRetry(HttpResponseMessage response, string? code)
    {
        if (response.Headers.TryGetValues("x-should-retry", out var values))
        {
            return string.Equals(values.FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
        }
        // Out of credits is a 429 too, but waiting does not help.
        if (code == "insufficient_quota")
        {
            return false;
        }
        var status = (int)response.StatusCode;
        return status is 408 or 409 or 429 or >= 500;
    }

    private TimeSpan Backoff(int attempt, HttpResponseHeaders? headers, OpenAIImageOptions o)
    {
        TimeSpan? wait = null;
        if (headers is not null)
        {
            if (headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis))
            {
                wait = TimeSpan.FromMilliseconds(millis);
            }
            else if (headers.RetryAfter is { } retryAfter)
            {
                wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - time.GetUtcNow() : null);
            }
        }
        // The SDKs' default: about 0.5 s doubling, with jitter.
        wait ??= TimeSpan.FromMilliseconds(500 * Math.Pow(2, attempt) * (0.75 + Random.Shared.NextDouble() / 2));
        return wait.Value < TimeSpan.Zero ? TimeSpan.Zero : wait.Value > o.MaxRetryDelay ? o.MaxRetryDelay : wait.Value;
    }

    private static (string? Message, string? Code) ParseError(string text)
    {
        using var doc = BackendHttp.TryParse(text);
        if (doc?.RootElement is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            return (BackendHttp.StringProperty(error, "message"), BackendHttp.StringProperty(error, "code") ?? BackendHttp.StringProperty(error, "type"));
        }
        return (null, null);
    }

    private static string Describe(HttpStatusCode status, string? message, string? code, string body)
    {
        var what = (int)status switch
        {
            401 => " (the API key in Images:OpenAI:ApiKey was rejected)",
            404 => " (unknown model or endpoint: check Images:OpenAI:Model and :BaseUrl)",
            _ => "",
        };
        var detail = message ?? (string.IsNullOrWhiteSpace(body) ? "no details" : BackendHttp.Shorten(body, 300));
        return $"OpenAI images answered {(int)status}{what}{(code is null ? "" : $" [{code}]")}: {BackendHttp.Shorten(detail, 400)}";
    }

    /// <summary>A compatible server might echo the key in an error; it never reaches a message.</summary>
    private static string Scrub(string text, string? secret) =>
        string.IsNullOrEmpty(secret) ? text : text.Replace(secret, "***", StringComparison.Ordinal);

    /// <summary>Reads a successful answer as it arrives: each <c>b64_json</c> is decoded into its own spool
    /// (<see cref="JsonImageReader"/>) rather than the whole answer held as text.</summary>
    private static async Task<IReadOnlyList<GeneratedImage>> ReadAsync(HttpClient http, Stream body, ImageRequest request, CancellationToken ct)
    {
        JsonImageAnswer answer;
        try
        {
            answer = await JsonImageReader.ReadAsync(body, path => path == "$.data[].b64_json", ct);
        }
        catch (JsonException ex)
        {
            throw new ImageGenerationException("OpenAI images answered with a body that is not JSON.", ex);
        }
        catch (FormatException ex)
        {
            throw new ImageGenerationException("OpenAI images returned b64_json that is not base64.", ex);
        }
        catch (IOException ex)
        {
            throw new ImageGenerationException($"OpenAI images broke off its answer: {ex.Message}", ex);
        }
        using (answer)
        {
            var root = answer.Rest.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                throw new ImageGenerationException("OpenAI images answered without a data list.");
            }
            var images = new List<GeneratedImage>();
            try
            {
                var spooled = 0;
                foreach (var item in data.EnumerateArray())
                {
                    ImageContent content;
                    if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("b64_json", out var b64) && b64.ValueKind == JsonValueKind.String)
                    {
                        // The reader decoded it (in order) and left "" in its place; the answer no longer owns what is taken.
                        content = answer.Images[spooled];
                        answer.Images[spooled++] = ImageContent.FromBytes([]);
                    }
                    else if (BackendHttp.StringProperty(item, "url") is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http")
                    {
                        // A server that ignored response_format: the URL is short-lived, so fetch it now.
                        try
                        {
                            content = ImageContent.FromBytes(await http.GetByteArrayAsync(uri, ct));
                        }
                        catch (HttpRequestException ex)
                        {
                            throw new ImageGenerationException($"OpenAI images returned an image URL that could not be fetched: {BackendHttp.Describe(ex)}.", ex);
                        }
                    }
                    else
                    {
                        throw new ImageGenerationException("OpenAI images returned an entry with neither b64_json nor url.");
                    }
                    var sniffed = ImageSniffer.Sniff(content.Head);
                    if (sniffed is null)
                    {
                        content.Dispose();
                        throw new ImageGenerationException("OpenAI images returned data that is not a PNG, JPEG or WebP image.");
                    }
                    images.Add(new GeneratedImage(content, sniffed.ContentType, sniffed.Width > 0 ? sniffed.Width : request.Width, sniffed.Height > 0 ? sniffed.Height : request.Height));
                }
            }
            catch
            {
                images.ForEach(i => i.Content.Dispose());
                throw;
            }
            if (images.Count == 0)
            {
                throw new ImageGenerationException("OpenAI images returned no images.");
            }
            return images;
        }
    }
}
