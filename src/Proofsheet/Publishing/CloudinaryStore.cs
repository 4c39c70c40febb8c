using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Proofsheet.Publishing;

/// <summary>Cloudinary's signed Upload API (<c>POST /v1_1/{cloud}/image/upload</c>, multipart).</summary>
public sealed partial class CloudinaryStore(HttpClient http, IOptions<CloudinaryOptions> options, TimeProvider time, ILogger<CloudinaryStore> logger) : IPublishingStore, ICroppingStore
{
    public string Name => "cloudinary";

    public async Task<PublishedAsset> UploadAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var secret = o.ApiSecret ?? "";
        var publicId = PublicIdFor(request.Key, o.Folder);
        var parameters = new List<KeyValuePair<string, string?>>
        {
            new("public_id", publicId),
            // A deterministic public id plus overwrite makes a retried upload replace, not duplicate.
            new("overwrite", "true"),
            new("invalidate", "true"),
            new("timestamp", time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        };
        var signature = CloudinarySignature.Sign(parameters, secret, CloudinarySignature.ParseAlgorithm(o.SignatureAlgorithm));

        var url = $"{o.BaseUrl.TrimEnd('/')}/v1_1/{Uri.EscapeDataString(o.CloudName ?? "")}/image/upload";
        using var form = new MultipartFormDataContent();
        foreach (var (name, value) in parameters)
        {
            form.Add(new StringContent(value!, Encoding.UTF8), name);
        }
        form.Add(new StringContent(o.ApiKey ?? "", Encoding.UTF8), "api_key");
        form.Add(new StringContent(signature, Encoding.UTF8), "signature");
        // Streamed from the preview store as it is sent: a render can be tens of megabytes. The
        // length is known, so the form has one too and is not sent chunked.
        var fileContent = new StreamContent(request.Content, 81920);
        fileContent.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType);
        fileContent.Headers.ContentLength = request.Length;
        form.Add(fileContent, "file", request.Key.Split('/')[^1] + "." + Images.PreviewNames.ExtensionFor(request.ContentType));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(url, form, timeout.Token);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PublishingException($"Cloudinary did not answer within {o.Timeout.TotalSeconds:0} s.", retryable: true, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            // Also a broken read of the image being streamed from the preview store.
            throw new PublishingException($"Could not reach Cloudinary at {o.BaseUrl}: {Scrub(ex.Message, o)}", retryable: true, ex);
        }

        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new PublishingException("The connection to Cloudinary broke while reading its answer.", retryable: true, ex);
            }

            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                var retryable = status is 420 or 429 or 408 || status >= 500;
                var message = Scrub(ErrorMessage(body) ?? response.ReasonPhrase ?? "no details", o);
                logger.LogWarning("Cloudinary rejected the upload of {PublicId}: HTTP {Status} {Message}", publicId, status, message);
                throw new PublishingException($"Cloudinary upload failed (HTTP {status}): {message}", retryable);
            }

            var (secureUrl, returnedId) = ParseResult(body);
            if (secureUrl is null)
            {
                throw new PublishingException("Cloudinary accepted the upload but its answer had no secure_url.", retryable: false);
            }
            logger.LogInformation("Uploaded {PublicId} to Cloudinary: {Url}", returnedId ?? publicId, secureUrl);
            return new PublishedAsset(secureUrl, returnedId ?? publicId);
        }
    }

    /// <summary>
    /// A crop made by Cloudinary from the uploaded original, on delivery: <c>c_fill</c> scales it to cover the size, and
    /// <c>g_xy_center</c> with <c>x</c>/<c>y</c> (pixels of the original) centres the cut on the focal point, or <c>g_auto</c>
    /// lets Cloudinary find the salient part. The extension picks the format. The post points at Cloudinary, never at the app,
    /// and destroying the original (with <c>invalidate</c>) takes every such crop with it.
    /// </summary>
    public string CropUrl(string originalUrl, int sourceWidth, int sourceHeight, int width, int height, Images.FocalPoint? focus, string format, int quality)
    {
        var at = originalUrl.IndexOf(UploadSegment, StringComparison.Ordinal);
        var dot = originalUrl.LastIndexOf('.');
        if (at < 0 || dot < at)
        {
            throw new PublishingException("Cloudinary's URL for the image has no /image/upload/ part to add a crop to.", retryable: false);
        }
        var c = CultureInfo.InvariantCulture;
        // Parameters in alphabetical order, as Cloudinary's SDKs write them.
        var transformation = focus is null
            ? $"c_fill,g_auto,h_{height.ToString(c)},q_{quality.ToString(c)},w_{width.ToString(c)}"
            : $"c_fill,g_xy_center,h_{height.ToString(c)},q_{quality.ToString(c)},w_{width.ToString(c)}"
              + $",x_{Math.Clamp((int)Math.Round(focus.X * sourceWidth), 0, Math.Max(0, sourceWidth - 1)).ToString(c)}"
              + $",y_{Math.Clamp((int)Math.Round(focus.Y * sourceHeight), 0, Math.Max(0, sourceHeight - 1)).ToString(c)}";
        var head = originalUrl[..(at + UploadSegment.Length)];
        var rest = originalUrl[(at + UploadSegment.Length)..dot];
        return $"{head}{transformation}/{rest}.{format}";
    }

    private const string UploadSegment = "/image/upload/";

    /// <summary>
    /// Destroys the uploaded asset behind <paramref name="url"/> (signed <c>POST /v1_1/{cloud}/image/destroy</c> with
    /// <c>invalidate</c>, so the CDN forgets it and its crops). A crop URL names no asset of its own: nothing to do.
    /// </summary>
    public async Task DeleteAsync(string url, CancellationToken cancellationToken)
    {
        if (PublicIdOf(url) is not { } publicId)
        {
            return;
        }
        var o = options.Value;
        var parameters = new List<KeyValuePair<string, string?>>
        {
            new("invalidate", "true"),
            new("public_id", publicId),
            new("timestamp", time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        };
        var signature = CloudinarySignature.Sign(parameters, o.ApiSecret ?? "", CloudinarySignature.ParseAlgorithm(o.SignatureAlgorithm));
        var fields = parameters.Select(p => new KeyValuePair<string, string>(p.Key, p.Value!))
            .Append(new("api_key", o.ApiKey ?? "")).Append(new("signature", signature));
        using var form = new FormUrlEncodedContent(fields);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        try
        {
            using var response = await http.PostAsync($"{o.BaseUrl.TrimEnd('/')}/v1_1/{Uri.EscapeDataString(o.CloudName ?? "")}/image/destroy", form, timeout.Token);
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                throw new PublishingException($"Cloudinary refused to delete {publicId} (HTTP {status}): {Scrub(ErrorMessage(body) ?? "no details", o)}",
                    retryable: status is 420 or 429 or 408 || status >= 500);
            }
            // Always 200: "ok", or "not found" for an asset already gone, which is what was wanted.
            logger.LogInformation("Deleted {PublicId} from Cloudinary: {Result}", publicId, ResultOf(body));
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PublishingException($"Cloudinary did not answer within {o.Timeout.TotalSeconds:0} s.", retryable: true, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            throw new PublishingException($"Could not reach Cloudinary at {o.BaseUrl}: {Scrub(ex.Message, o)}", retryable: true, ex);
        }
    }

    /// <summary>Crops are made by Cloudinary from the original (<see cref="CropUrl"/>): the app needs no bytes back.</summary>
    public Task<byte[]?> ReadAsync(string url, CancellationToken cancellationToken) => Task.FromResult<byte[]?>(null);

    /// <summary>The public id in a delivery URL <c>…/image/upload/v{version}/{public_id}.{format}</c>; null for a crop URL.</summary>
    internal static string? PublicIdOf(string url)
    {
        var at = url.IndexOf(UploadSegment, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }
        var rest = url[(at + UploadSegment.Length)..];
        var version = VersionSegment().Match(rest);
        if (!version.Success)
        {
            return null; // a transformation comes first: a crop, made from the original and gone with it
        }
        rest = rest[version.Length..];
        var dot = rest.LastIndexOf('.');
        var id = Uri.UnescapeDataString(dot > rest.LastIndexOf('/') ? rest[..dot] : rest);
        return id.Length > 0 ? id : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^v[0-9]+/")]
    private static partial System.Text.RegularExpressions.Regex VersionSegment();

    private static string? ResultOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("result", out var result) ? result.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Only characters Cloudinary accepts in a public id; the mapping is deterministic so retries hit the same asset.</summary>
    internal static string PublicIdFor(string key, string? folder)
    {
        var safe = new StringBuilder(key.Length);
        foreach (var c in key.Trim().Trim('/'))
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '/' or '.' ? c : '_');
        }
        var prefix = folder?.Trim().Trim('/');
        return string.IsNullOrEmpty(prefix) ? safe.ToString() : prefix + "/" + safe;
    }

    private static string? ErrorMessage(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                   && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
                ? message.GetString()
                : null;
        }
        catch (JsonException)
        {
            // A proxy's HTML error page, not Cloudinary's JSON: show its start.
            return body.Length > 200 ? body[..200] : body.Trim() is { Length: > 0 } text ? text : null;
        }
    }

    private static (string? SecureUrl, string? PublicId) ParseResult(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            return (Str(root, "secure_url"), Str(root, "public_id"));
        }
        catch (JsonException ex)
        {
            throw new PublishingException("Cloudinary's answer was not JSON.", retryable: true, ex);
        }

        static string? Str(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    /// <summary>Defence in depth: the secret is never sent, but nothing that reaches a message may contain it.</summary>
    /// <summary>Readiness: the Admin API's <c>GET /v1_1/{cloud}/ping</c> proves the cloud name, key and secret and uploads nothing.</summary>
    public async Task<string?> FindProblemAsync(CancellationToken ct)
    {
        var o = options.Value;
        using var message = new HttpRequestMessage(HttpMethod.Get, $"{o.BaseUrl.TrimEnd('/')}/v1_1/{Uri.EscapeDataString(o.CloudName ?? "")}/ping");
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.ApiKey}:{o.ApiSecret}")));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var response = await http.SendAsync(message, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return null;
            }
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            var reason = Scrub(ErrorMessage(body) ?? response.ReasonPhrase ?? "no details", o);
            return (int)response.StatusCode == 401
                ? $"Cloudinary refused the cloud name or keys (Publishing:Cloudinary:CloudName/ApiKey/ApiSecret): {reason}"
                : $"Cloudinary answered the ping with {(int)response.StatusCode}: {reason}";
        }
        catch (HttpRequestException ex)
        {
            return $"Could not reach Cloudinary at {o.BaseUrl}: {Scrub(ex.Message, o)}";
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return "Cloudinary did not answer the ping within 10 s.";
        }
    }

    private static string Scrub(string text, CloudinaryOptions o) =>
        string.IsNullOrEmpty(o.ApiSecret) ? text : text.Replace(o.ApiSecret, "***", StringComparison.Ordinal);
}
