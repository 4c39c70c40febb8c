using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Proofsheet.Bench;

/// <summary>
/// Cloudinary's signed Upload API (adapted from the integration tests' stand-in): the signature is
/// checked as Cloudinary does, and the file is read to its end and counted, not kept.
/// </summary>
public sealed class CloudinaryStandIn : IAsyncDisposable
{
    public const string CloudName = "proofsheet-bench";
    public const string ApiKey = "614335564976464";
    public const string ApiSecret = "bench-secret-not-real";

    private StandInServer _server = null!;
    private long _version = 1719307544;

    public string BaseUrl => _server.BaseUrl;
    public long LastUploadBytes { get; private set; }

    public static async Task<CloudinaryStandIn> StartAsync()
    {
        var standIn = new CloudinaryStandIn();
        standIn._server = await StandInServer.StartAsync(app =>
        {
            app.MapPost("/v1_1/{cloud}/{resourceType}/upload", standIn.UploadAsync);
            // The app's readiness check pings the account.
            app.MapGet("/v1_1/{cloud}/ping", () => Results.Json(new { status = "ok" }));
        });
        return standIn;
    }

    private async Task<IResult> UploadAsync(string cloud, HttpRequest request, CancellationToken ct)
    {
        if (cloud != CloudName || !request.HasFormContentType)
        {
            return Error(400, "Bad request");
        }
        var form = await request.ReadFormAsync(ct);
        var fields = form.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        if (fields.GetValueOrDefault("api_key") != ApiKey)
        {
            return Error(401, "Invalid api_key");
        }
        var stringToSign = string.Join("&", fields
            .Where(f => f.Key is not ("file" or "cloud_name" or "resource_type" or "api_key" or "signature") && f.Value.Length > 0)
            .OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(f => $"{f.Key}={f.Value}"));
        var received = fields.GetValueOrDefault("signature") ?? "";
#pragma warning disable CA5350 // Cloudinary's protocol
        var expected = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(stringToSign + ApiSecret)));
#pragma warning restore CA5350
        if (expected != received)
        {
            return Error(401, "Invalid Signature");
        }
        var file = form.Files.GetFile("file");
        if (file is null || file.Length == 0)
        {
            return Error(400, "Missing required parameter - file");
        }
        await using (var s = file.OpenReadStream())
        {
            await s.CopyToAsync(Stream.Null, ct);
        }
        LastUploadBytes = file.Length;
        var publicId = fields.GetValueOrDefault("public_id") ?? "x";
        var version = Interlocked.Increment(ref _version);
        var path = $"{CloudName}/image/upload/v{version}/{publicId}.png";
        return Results.Json(new Dictionary<string, object?>
        {
            ["public_id"] = publicId,
            ["version"] = version,
            ["format"] = "png",
            ["resource_type"] = "image",
            ["created_at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["bytes"] = file.Length,
            ["url"] = "http://res.cloudinary.com/" + path,
            ["secure_url"] = "https://res.cloudinary.com/" + path,
        });
    }

    private static IResult Error(int status, string message) => Results.Json(new { error = new { message } }, statusCode: status);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
