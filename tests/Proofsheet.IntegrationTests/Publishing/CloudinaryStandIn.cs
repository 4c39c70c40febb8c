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

        // Written independently of the app's CloudinarySignature, from Cloudinary's documentation.
        var stringToSign = string.Join("&", fields
            .Where(f => f.Key is not ("file" or "cloud_name" or "resource_type" or "api_key" or "signature") && f.Value.Length > 0)
            .OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(f => $"{f.Key}={f.Value.Replace("&", "%26", StringComparison.Ordinal)}"));
        var received = fields.GetValueOrDefault("signature") ?? "";
        var data = Encoding.UTF8.GetBytes(stringToSign + ApiSecret);
#pragma warning disable CA5350 // Cloudinary's protocol
        var (expected, algorithm) = received.Length == 64
            ? (Convert.ToHexStringLower(SHA256.HashData(data)), "sha256")
            : (Convert.ToHexStringLower(SHA1.HashData(data)), "sha1");
#pragma warning restore CA5350
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(received)))
        {
            return Error(401, $"Invalid Signature {received}. String to sign - '{stringToSign}'.");
        }

        var file = form.Files.GetFile("file");
        if (file is null || file.Length == 0)
        {
            return Error(400, "Missing required parameter - file");
        }
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

    private static IResult Error(int status, string message) =>
        Results.Json(new { error = new { message } }, statusCode: status);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
