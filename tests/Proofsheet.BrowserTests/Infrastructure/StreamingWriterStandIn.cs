using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Proofsheet.BrowserTests.Infrastructure;

/// <summary>
/// An OpenAI-compatible <c>POST /v1/chat/completions</c> that answers <c>stream: true</c> the way the service
/// does (<c>chat.completion.chunk</c> events, usage last, <c>data: [DONE]</c>) and stops after the first half of
/// the article until the test lets it go on: the page must show that half while the rest is still to come.
/// </summary>
public sealed class StreamingWriterStandIn : IAsyncDisposable
{
    public const string FirstHalf = "Rye loves a slow, cool rise.\n\n## The first half\n\nThis part arrives while the model is still writing.";
    public const string SecondHalf = "\n\n## The second half\n\nThis part arrives only once the test lets the stand-in go on.";

    private readonly WebApplication _app;

    public TaskCompletionSource GoOn { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string BaseUrl { get; }

    private StreamingWriterStandIn(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public static async Task<StreamingWriterStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        StreamingWriterStandIn? self = null;
        app.MapPost("/v1/chat/completions", (HttpContext context) => self!.AnswerAsync(context));
        await app.StartAsync();
        var address = app.Urls.First();
        self = new StreamingWriterStandIn(app, address + "/v1");
        return self;
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var request = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        if (request["stream"]?.GetValue<bool>() != true || request["model"] is null || request["messages"] is not JsonArray)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsJsonAsync(new { error = new { message = "this stand-in answers streamed requests only", type = "invalid_request_error", param = "stream", code = (string?)null } });
            return;
        }
        var article = new JsonObject
        {
            ["title"] = "Rye Bread, Slowly",
            ["excerpt"] = "Why rye wants time.",
            ["content"] = FirstHalf + SecondHalf,
            ["meta_description"] = "A slow guide to rye bread.",
            ["keywords"] = new JsonArray("rye", "bread"),
            ["image_prompt"] = "A dark rye loaf on a linen cloth",
            ["image_alt"] = "A dark rye loaf",
        }.ToJsonString();
        var cut = article.IndexOf("## The second half", StringComparison.Ordinal);
        context.Response.ContentType = "text/event-stream";
        await ChunkAsync(context, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
        for (var at = 0; at < cut; at += 25)
        {
            await ChunkAsync(context, new JsonObject { ["content"] = article[at..Math.Min(cut, at + 25)] }, null);
        }
        await GoOn.Task.WaitAsync(context.RequestAborted);
        for (var at = cut; at < article.Length; at += 25)
        {
            await ChunkAsync(context, new JsonObject { ["content"] = article[at..Math.Min(article.Length, at + 25)] }, null);
        }
        await ChunkAsync(context, new JsonObject(), "stop");
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    private static async Task ChunkAsync(HttpContext context, JsonObject delta, string? finish)
    {
        var chunk = new JsonObject
        {
            ["id"] = "chatcmpl-browser", ["object"] = "chat.completion.chunk", ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["model"] = "llama3.1:8b",
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };
        await context.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        GoOn.TrySetResult();
        await _app.DisposeAsync();
    }
}
