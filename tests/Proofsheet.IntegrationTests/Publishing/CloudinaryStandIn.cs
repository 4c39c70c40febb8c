using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Publishing;

/// <summary>
/// Cloudinary's Upload API as its docs and SDKs describe it: multipart form, a signature checked
/// against the account's secret (401 "Invalid Signature … String to sign - '…'" otherwise),
/// stale timestamps refused, assets stored by public id and replaced when <c>overwrite</c> is set.
/// </summary>
public sealed class CloudinaryStandIn : IAsyncDisposable
{
    public const string CloudName = "proofsheet-test";
    public const string ApiKey = "614335564976464";
    public const string ApiSecret = "Zq9-secret-never-shown-Xw7";

    private StandInServer _server = null!;
    private long _version = 1719307544;

    public string BaseUrl => _server.BaseUrl;
    public ConcurrentDictionary<string, StoredAsset> Assets { get; } = new();
    /// <summary>Statuses answered (with Cloudinary's error body) before the uploads are accepted.</summary>
    public ConcurrentQueue<int> FailuresToReturn { get; } = new();
    /// <summary>An error message to answer with instead of the usual one (to test what reaches exceptions).</summary>
    public string? FailureMessage { get; set; }
    public TimeSpan Delay { get; set; }
    public int Requests => _requests;
    public ConcurrentQueue<Dictionary<string, string>> Forms { get; } = new();
    private int _requests;

    public sealed record StoredAsset(string PublicId, byte[] Bytes, string ContentType, long Version, string SignatureAlgorithm);

    private int _pings;
    public int Pings => Volatile.Read(ref _pings);

    public static async Task<CloudinaryStandIn> StartAsync()
    {
        var standIn = new CloudinaryStandIn();
        standIn._server = await StandInServer.StartAsync(app =>
        {
            app.MapPost("/v1_1/{cloud}/{resourceType}/upload", standIn.UploadAsync);
            app.MapPost("/v1_1/{cloud}/{resourceType}/destroy", standIn.DestroyAsync);
            // The Admin API's ping: HTTP Basic with the key and secret, {"status":"ok"}.
            app.MapGet("/v1_1/{cloud}/ping", (string cloud, HttpRequest request) =>
            {
                Interlocked.Increment(ref standIn._pings);
                var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ApiKey}:{ApiSecret}"));
                return cloud == CloudName && request.Headers.Authorization.ToString() == expected
                    ? Results.Json(new { status = "ok" })
                    : Error(401, cloud == CloudName ? "Invalid api_key or api_secret" : $"Invalid cloud_name {cloud}");
            });
        });
        return standIn;
    }

    private async Task<IResult> UploadAsync(string cloud, string resourceType, HttpRequest request, CancellationToken ct)
    {
        Interlocked.Increment(ref _requests);
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, ct);
        }
        if (FailuresToReturn.TryDequeue(out var failure))
        {
            return Error(failure, FailureMessage ?? "General Error");
        }
        if (cloud != CloudName)
        {
            return Error(401, $"Invalid cloud_name {cloud}");
        }
        if (resourceType is not ("image" or "auto"))
        {
            return Error(400, $"Invalid resource type {resourceType}");
        }
        if (!request.HasFormContentType)
        {
            return Error(400, "Missing required parameter - file");
        }
        var form = await request.ReadFormAsync(ct);
        var fields = form.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        Forms.Enqueue(fields);

        if (!fields.TryGetValue("api_key", out var apiKey) || apiKey.Length == 0)
        {
            return Error(401, "Must supply api_key");
        }
        if (apiKey != ApiKey)
        {
            return Error(401, $"Invalid api_key {apiKey}");
        }
        if (!fields.TryGetValue("timestamp", out var ts) || !long.TryParse(ts, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
        {
            return Error(400, "Missing required parameter - timestamp");
        }
        if (Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp) > 3600)
        {
            return Error(400, $"Stale request - reported time is {DateTimeOffset.FromUnixTimeSeconds(timestamp):yyyy-MM-dd HH:mm:ss} +0000 which is more than 1 hour ago");
        }

        if (CheckSignature(fields) is { } refused)
        {
            return refused;
        }
        var algorithm = (fields.GetValueOrDefault("signature") ?? "").Length == 64 ? "sha256" : "sha1";

        var file = form.Files.GetFile("file");
        if (file is null || file.Length == 0)
        {
            return Error(400, "Missing required parameter - file");
        }
        return await StoreAsync(fields, file, algorithm, ct);
    }

    /// <summary>The signed fields' check, as the Upload API makes it: 401 naming the string to sign when it does not match.</summary>
    private static IResult? CheckSignature(Dictionary<string, string> fields)
    {
        // Written independently of the app's CloudinarySignature, from Cloudinary's documentation.
        var stringToSign = string.Join("&", fields
            .Where(f => f.Key is not ("file" or "cloud_name" or "resource_type" or "api_key" or "signature") && f.Value.Length > 0)
            .OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(f => $"{f.Key}={f.Value.Replace("&", "%26", StringComparison.Ordinal)}"));
        var received = fields.GetValueOrDefault("signature") ?? "";
        var data = Encoding.UTF8.GetBytes(stringToSign + ApiSecret);
#pragma warning disable CA5350 // Cloudinary's protocol
        var (expected, _) = received.Length == 64
            ? (Convert.ToHexStringLower(SHA256.HashData(data)), "sha256")
            : (Convert.ToHexStringLower(SHA1.HashData(data)), "sha1");
#pragma warning restore CA5350
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(received))
            ? null
            : Error(401, $"Invalid Signature {received}. String to sign - '{stringToSign}'.");
    }

    private async Task<IResult> StoreAsync(Dictionary<string, string> fields, IFormFile file, string algorithm, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await file.CopyToAsync(buffer, ct);

        var publicId = fields.GetValueOrDefault("public_id") is { Length: > 0 } id ? id : Guid.NewGuid().ToString("N")[..20];
        var overwrite = fields.GetValueOrDefault("overwrite") is not ("false" or "0");
        var format = file.ContentType switch { "image/jpeg" => "jpg", "image/webp" => "webp", _ => "png" };
        var asset = Assets.AddOrUpdate(publicId,
            _ => new StoredAsset(publicId, buffer.ToArray(), file.ContentType, Interlocked.Increment(ref _version), algorithm),
            (_, existing) => overwrite ? new StoredAsset(publicId, buffer.ToArray(), file.ContentType, Interlocked.Increment(ref _version), algorithm) : existing);

        var path = $"{CloudName}/image/upload/v{asset.Version}/{publicId}.{format}";
        return Results.Json(new Dictionary<string, object?>
        {
            ["asset_id"] = Guid.NewGuid().ToString("N"),
            ["public_id"] = publicId,
            ["version"] = asset.Version,
            ["signature"] = "d0b1009e3271a942836c25756ce3e04d205bf754",
            ["format"] = format,
            ["resource_type"] = "image",
            ["created_at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["bytes"] = asset.Bytes.Length,
            ["type"] = "upload",
            ["url"] = "http://res.cloudinary.com/" + path,
            ["secure_url"] = "https://res.cloudinary.com/" + path,
            ["original_filename"] = Path.GetFileNameWithoutExtension(file.FileName),
            ["api_key"] = ApiKey,
        });
    }

    public int Destroys => Volatile.Read(ref _destroys);
    private int _destroys;

    /// <summary>
    /// <c>POST /v1_1/{cloud}/image/destroy</c>: the same key, timestamp and signature rules as an upload (signed over
    /// <c>invalidate</c>, <c>public_id</c>, <c>timestamp</c>, <c>type</c>); always 200, <c>"ok"</c> or <c>"not found"</c>.
    /// </summary>
    private async Task<IResult> DestroyAsync(string cloud, string resourceType, HttpRequest request, CancellationToken ct)
    {
        Interlocked.Increment(ref _destroys);
        if (cloud != CloudName)
        {
            return Error(401, $"Invalid cloud_name {cloud}");
        }
        if (!request.HasFormContentType)
        {
            return Error(400, "Missing required parameter - public_id");
        }
        var fields = (await request.ReadFormAsync(ct)).ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        if (fields.GetValueOrDefault("api_key") != ApiKey)
        {
            return Error(401, $"Invalid api_key {fields.GetValueOrDefault("api_key")}");
        }
        if (!long.TryParse(fields.GetValueOrDefault("timestamp"), NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp) > 3600)
        {
            return Error(400, "Missing required parameter - timestamp");
        }
        if (CheckSignature(fields) is { } refused)
        {
            return refused;
        }
        if (fields.GetValueOrDefault("public_id") is not { Length: > 0 } publicId)
        {
            return Error(400, "Missing required parameter - public_id");
        }
        return Results.Json(new { result = Assets.TryRemove(publicId, out _) ? "ok" : "not found" });
    }

    /// <summary>
    /// What <c>res.cloudinary.com</c> would deliver at <paramref name="url"/>, as strictly as this app needs:
    /// <c>https://res.cloudinary.com/{cloud}/image/upload/[{transformation}/]v{version}/{public_id}.{format}</c>, the version
    /// that of the stored asset, the transformation only <c>c_fill</c> with <c>w</c> and <c>h</c>, <c>g_auto</c> or
    /// <c>g_xy_center</c> with <c>x</c> and <c>y</c> (pixels inside the original), and <c>q</c> 1–100, each once;
    /// the format <c>jpg</c>, <c>png</c> or <c>webp</c>. Anything else throws (a real CDN would answer 400 or 404).
    /// </summary>
    public byte[] Deliver(string url, out string contentType)
    {
        var prefix = $"https://res.cloudinary.com/{CloudName}/image/upload/";
        if (!url.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"not a delivery URL of this cloud: {url}");
        }
        var parts = url[prefix.Length..].Split('/').ToList();
        string? transformation = null;
        if (!parts[0].StartsWith('v') || !long.TryParse(parts[0][1..], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            transformation = parts[0];
            parts.RemoveAt(0);
        }
        var version = long.Parse(parts[0][1..], NumberStyles.None, CultureInfo.InvariantCulture);
        var path = string.Join('/', parts.Skip(1));
        var dot = path.LastIndexOf('.');
        var (publicId, format) = (path[..dot], path[(dot + 1)..]);
        if (!Assets.TryGetValue(publicId, out var asset) || asset.Version != version)
        {
            throw new InvalidOperationException($"404: no asset {publicId} at version {version}");
        }
        using var original = NetVips.Image.NewFromBuffer(asset.Bytes);
        NetVips.Image result = original.Copy();
        if (transformation is not null)
        {
            var t = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in transformation.Split(','))
            {
                var under = p.IndexOf('_');
                if (under < 1 || !t.TryAdd(p[..under], p[(under + 1)..]) || p[..under] is not ("c" or "g" or "w" or "h" or "x" or "y" or "q"))
                {
                    throw new InvalidOperationException($"400: bad transformation parameter '{p}' in {transformation}");
                }
            }
            int Int(string key, int min, int max) => t.TryGetValue(key, out var v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                ? n : throw new InvalidOperationException($"400: {key} missing or out of range in {transformation}");
            if (t.GetValueOrDefault("c") != "fill")
            {
                throw new InvalidOperationException($"400: only c_fill is expected, not {transformation}");
            }
            var (w, h) = (Int("w", 1, 10000), Int("h", 1, 10000));
            Int("q", 1, 100);
            var scale = Math.Max((double)w / original.Width, (double)h / original.Height);
            using var scaled = original.Resize(scale);
            double cx, cy;
            switch (t.GetValueOrDefault("g"))
            {
                case "xy_center":
                    (cx, cy) = (Int("x", 0, original.Width - 1) * scale, Int("y", 0, original.Height - 1) * scale);
                    break;
                case "auto":
                    if (t.ContainsKey("x") || t.ContainsKey("y"))
                    {
                        throw new InvalidOperationException("400: x and y go with g_xy_center");
                    }
                    (cx, cy) = (scaled.Width / 2.0, scaled.Height / 2.0);
                    break;
                default:
                    throw new InvalidOperationException($"400: gravity must be xy_center or auto in {transformation}");
            }
            var left = Math.Clamp((int)Math.Round(cx - w / 2.0), 0, scaled.Width - w);
            var top = Math.Clamp((int)Math.Round(cy - h / 2.0), 0, scaled.Height - h);
            result.Dispose();
            result = scaled.Crop(left, top, w, h);
        }
        using (result)
        {
            (var bytes, contentType) = format switch
            {
                "jpg" => (result.JpegsaveBuffer(), "image/jpeg"),
                "png" => (result.PngsaveBuffer(), "image/png"),
                "webp" => (result.WebpsaveBuffer(), "image/webp"),
                _ => throw new InvalidOperationException($"400: unknown format {format}"),
            };
            return bytes;
        }
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new { error = new { message } }, statusCode: status);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
