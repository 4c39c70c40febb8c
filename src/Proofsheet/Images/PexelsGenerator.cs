using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// Stock photos from Pexels. Tries a chain of searches (the topic or title, its keywords, then plain
/// concept words from the prompt), never about people, and offers each photo once per task. Pexels
/// allows 200 requests an hour and 20,000 a month: its <c>X-Ratelimit-*</c> headers count the monthly quota
/// (reset at the start of the next period), and going past the hourly limit is a bare 429. Either way this
/// stops asking until the quota renews or the back-off is over.
/// </summary>
public sealed partial class PexelsGenerator(
    IHttpClientFactory httpFactory,
    IOptionsMonitor<PexelsOptions> options,
    TimeProvider time,
    ILogger<PexelsGenerator> logger) : IImageGenerator
{
    public const string HttpClientName = "pexels";
    private const int MaxQueries = 5;

    private static readonly HashSet<string> PeopleWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "person", "persons", "people", "man", "men", "woman", "women", "portrait", "portraits", "face", "faces", "girl", "girls",
        "boy", "boys", "child", "children", "kid", "kids", "baby", "babies", "selfie", "crowd", "family", "couple", "human", "humans",
        "model", "models", "lady", "guy", "teen", "teenager",
    };

    // Words that describe how to render rather than what to show: useless, even harmful, in a photo search.
    private static readonly HashSet<string> StopWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "a", "an", "the", "of", "on", "in", "at", "and", "or", "with", "for", "to", "from", "by", "over", "under", "into", "its", "their",
        "photo", "photograph", "photography", "image", "picture", "illustration", "render", "rendering", "realistic", "photorealistic",
        "hyperrealistic", "cinematic", "dramatic", "lighting", "light", "style", "detailed", "highly", "high", "quality", "resolution",
        "4k", "8k", "hd", "hdr", "uhd", "sharp", "focus", "masterpiece", "best", "professional", "beautiful", "stunning", "award",
        "winning", "featured", "wide", "angle", "shot", "closeup", "close", "up", "view", "background", "composition", "trending",
        "artstation", "octane", "unreal", "engine", "bokeh", "depth", "field", "soft", "vibrant", "colors", "colours", "editorial",
    };

    private readonly Lock _lock = new();
    private DateTimeOffset _blockedUntil;
    private int? _remaining;
    private DateTimeOffset? _reset;
    private string _blockedBecause = "";

    public string Name => "pexels";

    /// <summary>The monthly quota from the last answer's <c>X-Ratelimit-*</c> headers, for the health check (no request of its own).</summary>
    public (int? Remaining, DateTimeOffset? Reset, DateTimeOffset? BlockedUntil) RateLimit
    {
        get
        {
            lock (_lock)
            {
                return (_remaining, _reset, _blockedUntil > time.GetUtcNow() ? _blockedUntil : null);
            }
        }
    }

    public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (string.IsNullOrWhiteSpace(o.ApiKey))
        {
            throw new ImageGenerationException("Pexels is not configured: set Images:Pexels:ApiKey.");
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        try
        {
            return await FindAsync(request, progress, o, timeout.Token);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ImageGenerationException($"Pexels did not answer within {o.Timeout.TotalSeconds:0.#} s.", ex);
        }
    }

    private async Task<IReadOnlyList<GeneratedImage>> FindAsync(ImageRequest request, IProgress<GenerationProgress>? progress, PexelsOptions o, CancellationToken ct)
    {
        var queries = Queries(request);
        if (queries.Count == 0)
        {
            throw new ImageGenerationException("Pexels: nothing to search for once people-related words are left out.");
        }
        var blocked = Words(o.Blocklist);
        var seen = new HashSet<string>(request.ExcludeSourceUrls, StringComparer.OrdinalIgnoreCase);
        var chosen = new List<Photo>();
        var tried = new List<string>();
        foreach (var query in queries)
        {
            if (chosen.Count >= request.Count)
            {
                break;
            }
            tried.Add(query);
            foreach (var photo in await SearchAsync(query, o, ct))
            {
                if (chosen.Count >= request.Count)
                {
                    break;
                }
                if (!seen.Add(photo.Url))
                {
                    continue;
                }
                if (photo.Alt is { } alt && Tokens(alt).Any(blocked.Contains))
                {
                    logger.LogDebug("Pexels photo {Url} left out by the content filter", photo.Url);
                    continue;
                }
                chosen.Add(photo);
            }
        }
        if (chosen.Count == 0)
        {
            throw new ImageGenerationException($"Pexels found no suitable new photo for: {string.Join("; ", tried)}.");
        }

        var http = httpFactory.CreateClient(HttpClientName);
        var images = new List<GeneratedImage>(chosen.Count);
        foreach (var photo in chosen)
        {
            // The image host gets no Authorization header: the key is for the API only.
            byte[] bytes;
            try
            {
                using var response = await http.GetAsync(photo.Download, ct);
                if (!response.IsSuccessStatusCode)
                {
                    throw new ImageGenerationException($"Pexels image download answered {(int)response.StatusCode}.");
                }
                bytes = await response.Content.ReadAsByteArrayAsync(ct);
            }
            catch (HttpRequestException ex)
            {
                throw new ImageGenerationException($"Pexels image download failed: {BackendHttp.Describe(ex)}.", ex);
            }
            var sniffed = ImageSniffer.Sniff(bytes)
                ?? throw new ImageGenerationException("Pexels returned a download that is not a JPEG, PNG or WebP image.");
            images.Add(new GeneratedImage(bytes, sniffed.ContentType, sniffed.Width > 0 ? sniffed.Width : photo.Width, sniffed.Height > 0 ? sniffed.Height : photo.Height)
            {
                Attribution = new ImageAttribution(photo.Photographer, photo.PhotographerUrl),
                SourceUrl = photo.Url,
            });
            progress?.Report(new GenerationProgress(images.Count, request.Count, $"downloaded photo by {photo.Photographer}"));
        }
        return images;
    }

    private sealed record Photo(string Url, string Photographer, string? PhotographerUrl, string? Alt, Uri Download, int Width, int Height);

    private async Task<List<Photo>> SearchAsync(string query, PexelsOptions o, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_blockedUntil > now)
            {
                throw new ImageGenerationException($"{_blockedBecause}; not asking again before {_blockedUntil:u}.");
            }
        }
        var http = httpFactory.CreateClient(HttpClientName);
        var uri = new Uri(new Uri(o.BaseUrl.Trim().TrimEnd('/') + "/"),
            string.Create(CultureInfo.InvariantCulture, $"search?query={Uri.EscapeDataString(query)}&orientation=landscape&per_page={o.PerPage}&page=1"));
        for (var attempt = 0; ; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, uri);
            // Pexels takes the raw key, without "Bearer".
            message.Headers.TryAddWithoutValidation("Authorization", o.ApiKey);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(message, ct);
            }
            catch (HttpRequestException ex)
            {
                throw new ImageGenerationException($"Pexels at {ServerList.Display(uri)}: {BackendHttp.Describe(ex)}.", ex);
            }
            using (response)
            {
                var status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    RememberRateLimit(response);
                    return Parse(await response.Content.ReadAsStringAsync(ct));
                }
                if (status == 429)
                {
                    // A 429 carries no reset time: stop for a long while rather than hammer a closed door.
                    var until = time.GetUtcNow() + o.RateLimitBackoff;
                    lock (_lock)
                    {
                        _blockedUntil = until;
                        _blockedBecause = "Pexels rate limit reached (429: more than 200 requests in an hour, or the monthly quota)";
                    }
                    logger.LogWarning("Pexels rate limit reached (429); pausing Pexels until {Until}", until);
                    throw new ImageGenerationException($"Pexels rate limit reached (429: more than 200 requests in an hour, or the monthly quota); not asking again before {until:u}.");
                }
                if (status >= 500 && attempt == 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 + Random.Shared.Next(300)), time, ct);
                    continue;
                }
                var snippet = BackendHttp.Shorten((await BackendHttp.ReadSnippetAsync(response, ct)).Replace(o.ApiKey!, "***", StringComparison.Ordinal), 200);
                throw new ImageGenerationException(status == 401
                    ? "Pexels answered 401: the API key in Images:Pexels:ApiKey was rejected."
                    : $"Pexels answered {status}{(snippet.Length > 0 ? ": " + snippet : "")}.");
            }
        }
    }

    private void RememberRateLimit(HttpResponseMessage response)
    {
        int? remaining = response.Headers.TryGetValues("X-Ratelimit-Remaining", out var r) && int.TryParse(r.FirstOrDefault(), CultureInfo.InvariantCulture, out var rv) ? rv : null;
        DateTimeOffset? reset = response.Headers.TryGetValues("X-Ratelimit-Reset", out var s) && long.TryParse(s.FirstOrDefault(), CultureInfo.InvariantCulture, out var sv)
            ? DateTimeOffset.FromUnixTimeSeconds(sv) : null;
        lock (_lock)
        {
            _remaining = remaining ?? _remaining;
            _reset = reset ?? _reset;
            if (remaining == 0)
            {
                _blockedUntil = reset ?? time.GetUtcNow() + options.CurrentValue.RateLimitBackoff;
                _blockedBecause = "Pexels' monthly request quota is used up";
                logger.LogWarning("Pexels' monthly request quota is used up; pausing Pexels until it renews at {Until}", _blockedUntil);
            }
        }
    }

    private static List<Photo> Parse(string text)
    {
        using var doc = BackendHttp.TryParse(text)
            ?? throw new ImageGenerationException("Pexels answered the search with a body that is not JSON.");
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("photos", out var photos) || photos.ValueKind != JsonValueKind.Array)
        {
            throw new ImageGenerationException("Pexels answered the search without a photos list.");
        }
        var list = new List<Photo>();
        foreach (var p in photos.EnumerateArray())
        {
            var url = BackendHttp.StringProperty(p, "url");
            var src = p.TryGetProperty("src", out var s) ? s : default;
            var download = BackendHttp.StringProperty(src, "large2x") ?? BackendHttp.StringProperty(src, "landscape") ?? BackendHttp.StringProperty(src, "large");
            if (url is null || download is null || !Uri.TryCreate(download, UriKind.Absolute, out var downloadUri) || downloadUri.Scheme is not ("https" or "http"))
            {
                continue;
            }
            list.Add(new Photo(url, BackendHttp.StringProperty(p, "photographer") ?? "Unknown photographer", BackendHttp.StringProperty(p, "photographer_url"),
                BackendHttp.StringProperty(p, "alt"), downloadUri,
                p.TryGetProperty("width", out var w) && w.TryGetInt32(out var wi) ? wi : 0,
                p.TryGetProperty("height", out var h) && h.TryGetInt32(out var hi) ? hi : 0));
        }
        return list;
    }

    /// <summary>The searches to try, most specific first: topic, title, keywords, then concept words from the prompt.</summary>
    internal static List<string> Queries(ImageRequest request)
    {
        var candidates = new List<string?> { request.Topic, request.Title };
        candidates.AddRange(request.Keywords.Take(3));
        var concepts = Tokens(request.Prompt.Split(',')[0]).Where(w => !StopWords.Contains(w) && !PeopleWords.Contains(w) && w.Length > 2 && !w.All(char.IsDigit)).Distinct().ToList();
        if (concepts.Count > 0)
        {
            candidates.Add(string.Join(' ', concepts.Take(3)));
            candidates.AddRange(concepts.Take(2));
        }
        return candidates
            .Select(c => string.Join(' ', Tokens(c ?? "")))
            .Where(c => c.Length > 0 && !Tokens(c).Any(PeopleWords.Contains))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Take(MaxQueries)
            .ToList();
    }

    private static HashSet<string> Words(string list) =>
        new(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);

    private static IEnumerable<string> Tokens(string text) => WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value);

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*")]
    private static partial Regex WordPattern();
}
