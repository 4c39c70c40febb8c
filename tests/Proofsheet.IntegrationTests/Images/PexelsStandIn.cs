using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Images;

internal sealed record StockPhoto(int Id, string Alt, string Photographer = "Lukas Rodriguez");

/// <summary>
/// Speaks Pexels' <c>GET /v1/search</c>: the raw key in <c>Authorization</c> (no Bearer), the photo shape,
/// <c>X-Ratelimit-*</c> headers on 2xx only, and a bare 429 when the limit is reached. Photo files are
/// served from the same server, standing in for images.pexels.com.
/// </summary>
internal sealed class PexelsStandIn : IAsyncDisposable
{
    public const string Key = "563492ad6f91700001000001test";
    private StandInServer? _server;

    public string BaseUrl => _server!.BaseUrl + "/v1";
    /// <summary>Search results by lower-case query; any other query finds nothing.</summary>
    public ConcurrentDictionary<string, StockPhoto[]> Catalog { get; } = new();
    public ConcurrentQueue<IQueryCollection> Searches { get; } = new();
    public ConcurrentQueue<string?> SearchAuthorization { get; } = new();
    public ConcurrentQueue<string?> DownloadAuthorization { get; } = new();
    public bool RateLimited { get; set; }
    public bool Malformed { get; set; }
    public TimeSpan Delay { get; set; }
    public int Remaining { get; set; } = 199;
    public DateTimeOffset Reset { get; set; } = DateTimeOffset.UtcNow.AddDays(20);

    public static async Task<PexelsStandIn> StartAsync()
    {
        var standIn = new PexelsStandIn();
        standIn._server = await StandInServer.StartAsync(standIn.Map);
        return standIn;
    }

    public static string PageUrl(int id) => $"https://www.pexels.com/photo/photo-{id}/";

    private void Map(WebApplication app)
    {
        app.MapGet("/v1/search", SearchAsync);
        app.MapGet("/photos/{id:int}/pexels-photo-{file}", (int id, HttpRequest request) =>
        {
            DownloadAuthorization.Enqueue(request.Headers.Authorization.ToString());
            return Results.Bytes(Proofsheet.Testing.Png.ForIndex(id, 12), "image/jpeg");
        });
    }

    private async Task<IResult> SearchAsync(HttpRequest request)
    {
        SearchAuthorization.Enqueue(request.Headers.Authorization.ToString());
        if (request.Headers.Authorization != Key)
        {
            return Results.Json(new { error = "Authorization field missing or invalid" }, statusCode: 401);
        }
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, request.HttpContext.RequestAborted);
        }
        if (RateLimited)
        {
            // Over the limit: no X-Ratelimit headers, a plain body.
            return Results.Text("Too Many Requests", "text/plain", statusCode: 429);
        }
        var query = request.Query["query"].ToString();
        if (query.Length == 0)
        {
            return Results.Json(new { error = "query is required" }, statusCode: 400);
        }
        Searches.Enqueue(request.Query);
        var headers = request.HttpContext.Response.Headers;
        headers["X-Ratelimit-Limit"] = "20000";
        headers["X-Ratelimit-Remaining"] = Remaining.ToString(System.Globalization.CultureInfo.InvariantCulture);
        headers["X-Ratelimit-Reset"] = Reset.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (Malformed)
        {
            return Results.Text("{\"photos\": [", "application/json");
        }
        var perPage = int.TryParse(request.Query["per_page"], out var p) ? Math.Clamp(p, 1, 80) : 15;
        var photos = Catalog.TryGetValue(query.ToLowerInvariant(), out var found) ? found.Take(perPage).ToArray() : [];
        var baseUrl = _server!.BaseUrl;
        return Results.Json(new
        {
            total_results = photos.Length,
            page = 1,
            per_page = perPage,
            photos = photos.Select(ph => new
            {
                id = ph.Id,
                width = 3066,
                height = 2000,
                url = PageUrl(ph.Id),
                photographer = ph.Photographer,
                photographer_url = $"https://www.pexels.com/@photographer-{ph.Id}",
                photographer_id = ph.Id * 10,
                avg_color = "#374824",
                src = new
                {
                    original = $"{baseUrl}/photos/{ph.Id}/pexels-photo-{ph.Id}.jpeg",
                    large2x = $"{baseUrl}/photos/{ph.Id}/pexels-photo-{ph.Id}.jpeg?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940",
                    large = $"{baseUrl}/photos/{ph.Id}/pexels-photo-{ph.Id}.jpeg?auto=compress&cs=tinysrgb&h=650&w=940",
                    landscape = $"{baseUrl}/photos/{ph.Id}/pexels-photo-{ph.Id}.jpeg?auto=compress&cs=tinysrgb&fit=crop&h=627&w=1200",
                },
                liked = false,
                alt = ph.Alt,
            }),
        });
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;
}
