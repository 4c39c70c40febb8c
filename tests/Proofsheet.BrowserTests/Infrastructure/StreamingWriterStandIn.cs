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
/// Anthropic's <c>POST /v1/messages</c> does the same with its own events: the article as the forced tool
/// call's <c>input_json_delta</c> pieces between <c>message_start</c> and <c>message_stop</c>.
/// </summary>
public sealed class StreamingWriterStandIn : IAsyncDisposable
{
    public const string FirstHalf = "Rye loves a slow, cool rise.\n\n## The first half\n\nThis part arrives while the model is still writing.";
    public const string SecondHalf = "\n\n## The second half\n\nThis part arrives only once the test lets the stand-in go on.";

    private readonly WebApplication _app;

    public TaskCompletionSource GoOn { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string BaseUrl { get; }
    /// <summary>Without <c>/v1</c>: Anthropic's SDK adds it.</summary>
    public string AnthropicBaseUrl { get; }

    private StreamingWriterStandIn(WebApplication app, string address)
    {
        _app = app;
        BaseUrl = address + "/v1";
        AnthropicBaseUrl = address;
    }

    public static async Task<StreamingWriterStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        StreamingWriterStandIn? self = null;
        app.MapPost("/v1/chat/completions", (HttpContext context) => self!.AnswerAsync(context));
        app.MapPost("/v1/messages", (HttpContext context) => self!.AnswerAnthropicAsync(context));
        await app.StartAsync();
        self = new StreamingWriterStandIn(app, app.Urls.First());
        return self;
    }

    private static string Article() => new JsonObject
    {
        ["title"] = "Rye Bread, Slowly",
        ["excerpt"] = "Why rye wants time.",
        ["content"] = FirstHalf + SecondHalf,
        ["meta_description"] = "A slow guide to rye bread.",
        ["keywords"] = new JsonArray("rye", "bread"),
        ["image_prompt"] = "A dark rye loaf on a linen cloth",
        ["image_alt"] = "A dark rye loaf",
    }.ToJsonString();

    private async Task AnswerAnthropicAsync(HttpContext context)
    {
        var request = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        if (request["stream"]?.GetValue<bool>() != true || string.IsNullOrEmpty(context.Request.Headers["x-api-key"]) || request["tool_choice"]?["name"] is null)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "invalid_request_error", message = "this stand-in answers streamed forced tool calls only" } });
            return;
        }
        var tool = request["tool_choice"]!["name"]!.GetValue<string>();
        var article = Article();
        var cut = article.IndexOf("## The second half", StringComparison.Ordinal);
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        await EventAsync(context, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = "msg_browser", ["type"] = "message", ["role"] = "assistant", ["model"] = "claude-sonnet-4-5-20250929", ["content"] = new JsonArray(),
                ["stop_reason"] = null, ["stop_sequence"] = null, ["usage"] = new JsonObject { ["input_tokens"] = 100, ["output_tokens"] = 1 },
            },
        });
        await EventAsync(context, "content_block_start", new JsonObject
        {
            ["type"] = "content_block_start", ["index"] = 0,
            ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_browser", ["name"] = tool, ["input"] = new JsonObject() },
        });
        async Task PiecesAsync(int from, int to)
        {
            for (var at = from; at < to; at += 25)
            {
                await EventAsync(context, "content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta", ["index"] = 0,
                    ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = article[at..Math.Min(to, at + 25)] },
                });
            }
        }
        await PiecesAsync(0, cut);
        await GoOn.Task.WaitAsync(context.RequestAborted);
        await PiecesAsync(cut, article.Length);
        await EventAsync(context, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        await EventAsync(context, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = "tool_use", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = 200 },
        });
        await EventAsync(context, "message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    private static async Task EventAsync(HttpContext context, string name, JsonObject data)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
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
        var article = Article();
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
