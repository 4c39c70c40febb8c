using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Images;

/// <summary>A scripted error answer: status, OpenAI error body, and headers.</summary>
internal sealed record OpenAIFailure(int Status, string Type, string? Code, string Message, Dictionary<string, string>? Headers = null);

/// <summary>
/// Speaks OpenAI's <c>/v1/images/generations</c> and <c>/v1/models</c>: Bearer auth, the error envelope,
/// GPT image models rejecting <c>response_format</c>, dall-e-3 taking only <c>n = 1</c>.
/// </summary>
internal sealed class OpenAIImagesStandIn : IAsyncDisposable
{
    public const string Key = "sk-test-0123456789abcdef";
    private StandInServer? _server;

    public string BaseUrl => _server!.BaseUrl + "/v1";
    public ConcurrentQueue<JsonObject> Requests { get; } = new();
    public ConcurrentQueue<OpenAIFailure> Failures { get; } = new();
    public bool Malformed { get; set; }
    public TimeSpan Delay { get; set; }
    /// <summary>When true the answer carries a URL (served here) instead of base64, as DALL·E does by default.</summary>
    public bool AnswerWithUrl { get; set; }
    public ConcurrentQueue<string?> ImageDownloadsAuthorization { get; } = new();

    public static async Task<OpenAIImagesStandIn> StartAsync()
    {
        var standIn = new OpenAIImagesStandIn();
        standIn._server = await StandInServer.StartAsync(standIn.Map);
        return standIn;
    }

    private static IResult Error(int status, string type, string? code, string message, string? param = null) =>
        Results.Json(new { error = new { message, type, param, code } }, statusCode: status);

    private void Map(WebApplication app)
    {
        app.MapPost("/v1/images/generations", GenerateAsync);
        app.MapGet("/v1/models", (HttpRequest request) => request.Headers.Authorization != $"Bearer {Key}"
            ? Error(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-****.")
            : Results.Json(new { @object = "list", data = new[] { new { id = "gpt-image-1", @object = "model", created = 1, owned_by = "system" } } }));
        app.MapGet("/files/{name}", (string name, HttpRequest request) =>
        {
            ImageDownloadsAuthorization.Enqueue(request.Headers.Authorization.ToString());
            return Results.Bytes(Proofsheet.Testing.Png.ForIndex(name.Length), "image/png");
        });
    }

    private async Task<IResult> GenerateAsync(HttpRequest request)
    {
        var ctx = request.HttpContext;
        if (ctx.Request.Headers.Authorization != $"Bearer {Key}")
        {
            return Error(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-****.");
        }
        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(ctx.Request.Body))!.AsObject();
        }
        catch (JsonException)
        {
            return Error(400, "invalid_request_error", null, "We could not parse the JSON body of your request.");
        }
        Requests.Enqueue(body);
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, ctx.RequestAborted);
        }
        if (Failures.TryDequeue(out var failure))
        {
            foreach (var (name, value) in failure.Headers ?? [])
            {
                ctx.Response.Headers[name] = value;
            }
            return Error(failure.Status, failure.Type, failure.Code, failure.Message);
        }
        var model = body["model"]?.GetValue<string>() ?? "dall-e-2";
        if (body["prompt"]?.GetValue<string>() is not { Length: > 0 })
        {
            return Error(400, "invalid_request_error", null, "Missing required parameter: 'prompt'.", "prompt");
        }
        if (model.StartsWith("gpt-image", StringComparison.Ordinal) && body.ContainsKey("response_format"))
        {
            return Error(400, "invalid_request_error", "unknown_parameter", "Unknown parameter: 'response_format'.", "response_format");
        }
        var n = body["n"]?.GetValue<int>() ?? 1;
        if (n is < 1 or > 10 || (model == "dall-e-3" && n != 1))
        {
            return Error(400, "invalid_request_error", "invalid_value", $"Invalid 'n': {n}.", "n");
        }
        if (Malformed)
        {
            return Results.Text("<html>502 Bad Gateway</html>", "application/json");
        }
        var b64 = model.StartsWith("gpt-image", StringComparison.Ordinal) || body["response_format"]?.GetValue<string>() == "b64_json";
        var data = Enumerable.Range(0, n).Select(i => (object)(b64 && !AnswerWithUrl
            ? new { b64_json = Convert.ToBase64String(Proofsheet.Testing.Png.ForIndex(i + Requests.Count)) }
            : new { url = $"{_server!.BaseUrl}/files/img{new string('x', i)}.png" })).ToArray();
        return Results.Json(new { created = 1713833628, data });
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;
}
