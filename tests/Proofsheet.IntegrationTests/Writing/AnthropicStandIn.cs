using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Writing;

/// <summary>
/// Anthropic's <c>POST /v1/messages</c> (service-contracts.md §6): <c>x-api-key</c> and <c>anthropic-version</c>
/// required, the required body fields and tool references checked, errors as
/// <c>{"type":"error","error":{type,message},"request_id"}</c> with a <c>request-id</c> header. With
/// <c>"stream": true</c> the answer is server-sent events as the real API sends them: <c>message_start</c>,
/// <c>content_block_start</c>, <c>ping</c>, <c>content_block_delta</c> (<c>input_json_delta</c> for a tool
/// call, <c>text_delta</c> for text) in small pieces, <c>content_block_stop</c>, <c>message_delta</c> (stop
/// reason and output tokens), <c>message_stop</c>; an error after the stream began is an <c>error</c> event
/// (<c>{"type":"error","error":{type,message}}</c>), the HTTP status already being 200.
/// Tests script the answers; unscripted requests get the article as a tool call.
/// </summary>
public sealed class AnthropicStandIn : IAsyncDisposable
{
    public delegate Task Reply(HttpContext context, JsonObject request);

    private readonly ConcurrentQueue<Reply> _script = new();
    private readonly ConcurrentQueue<(JsonObject Body, IHeaderDictionary Headers)> _requests = new();
    private StandInServer _server = null!;

    public string AcceptedKey { get; private init; } = "sk-ant-test-9d8e7f6a5b4c";
    /// <summary>Without <c>/v1</c>: the SDK adds it, as the real base URL <c>https://api.anthropic.com</c> has none.</summary>
    public string BaseUrl => _server.BaseUrl;
    public int RequestCount => _requests.Count;
    public IReadOnlyList<JsonObject> Requests => _requests.Select(r => r.Body).ToList();
    public IReadOnlyList<IHeaderDictionary> Headers => _requests.Select(r => r.Headers).ToList();

    private int _modelListCalls;
    public int ModelListCalls => Volatile.Read(ref _modelListCalls);

    /// <summary>The Models API: the dated ids the aliases point at, after the same key and version checks.</summary>
    private async Task ModelsAsync(HttpContext context)
    {
        Interlocked.Increment(ref _modelListCalls);
        if (context.Request.Headers["x-api-key"].FirstOrDefault() != AcceptedKey)
        {
            await ErrorAsync(context, 401, "authentication_error", "invalid x-api-key");
            return;
        }
        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"].FirstOrDefault()))
        {
            await ErrorAsync(context, 400, "invalid_request_error", "anthropic-version: header is required");
            return;
        }
        var models = new[] { ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"), ("claude-haiku-4-5-20251001", "Claude Haiku 4.5") };
        await context.Response.WriteAsJsonAsync(new
        {
            data = models.Select(m => new { type = "model", id = m.Item1, display_name = m.Item2, created_at = "2025-09-29T00:00:00Z" }),
            has_more = false, first_id = models[0].Item1, last_id = models[^1].Item1,
        });
    }

    public static async Task<AnthropicStandIn> StartAsync()
    {
        var standIn = new AnthropicStandIn();
        standIn._server = await StandInServer.StartAsync(app =>
        {
            app.MapPost("/v1/messages", standIn.HandleAsync);
            app.MapGet("/v1/models", standIn.ModelsAsync);
        });
        return standIn;
    }

    public AnthropicStandIn Then(Reply reply)
    {
        _script.Enqueue(reply);
        return this;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        JsonObject? body;
        try
        {
            body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted) as JsonObject;
        }
        catch (JsonException)
        {
            body = null;
        }
        _requests.Enqueue((body ?? [], new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value))));
        var key = context.Request.Headers["x-api-key"].FirstOrDefault();
        if (string.IsNullOrEmpty(key) || key != AcceptedKey)
        {
            await ErrorAsync(context, 401, "authentication_error", "invalid x-api-key");
            return;
        }
        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"].FirstOrDefault()))
        {
            await ErrorAsync(context, 400, "invalid_request_error", "anthropic-version: header is required");
            return;
        }
        if (body is null)
        {
            await ErrorAsync(context, 400, "invalid_request_error", "There was an issue with the formatting or content of your request body.");
            return;
        }
        if (Invalid(body) is { } problem)
        {
            await ErrorAsync(context, 400, "invalid_request_error", problem);
            return;
        }
        var reply = _script.TryDequeue(out var scripted) ? scripted : ToolCall();
        await reply(context, body);
    }

    private static string? Invalid(JsonObject body)
    {
        if (body["model"] is not JsonValue model || model.GetValueKind() != JsonValueKind.String)
        {
            return "model: Field required";
        }
        if (body["max_tokens"] is not JsonValue maxTokens || maxTokens.GetValueKind() != JsonValueKind.Number || maxTokens.GetValue<long>() < 1)
        {
            return "max_tokens: Field required";
        }
        if (body["messages"] is not JsonArray messages || messages.Count == 0)
        {
            return "messages: at least one message is required";
        }
        foreach (var message in messages)
        {
            if (message?["role"]?.GetValue<string>() is not ("user" or "assistant") || message["content"] is null)
            {
                return "messages: each message needs a role of user or assistant and content";
            }
        }
        if (body["system"] is { } system && system.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return "system: Input should be a valid string or list";
        }
        var toolNames = new HashSet<string>();
        foreach (var tool in body["tools"] as JsonArray ?? [])
        {
            if (tool?["name"]?.GetValue<string>() is not { } name || tool["input_schema"]?["type"]?.GetValue<string>() != "object")
            {
                return "tools: each custom tool needs a name and an input_schema of type object";
            }
            // Strict tool use (structured outputs) needs a closed schema, as the real API checks.
            if (tool["strict"]?.GetValue<bool>() == true && tool["input_schema"]?["additionalProperties"]?.GetValue<bool>() != false)
            {
                return $"tools.{toolNames.Count}.input_schema: additionalProperties must be set to false for strict tools";
            }
            toolNames.Add(name);
        }
        if (body["tool_choice"] is JsonObject choice && choice["type"]?.GetValue<string>() == "tool"
            && !toolNames.Contains(choice["name"]?.GetValue<string>() ?? ""))
        {
            return "tool_choice: the named tool is not in tools";
        }
        return null;
    }

    /// <summary>The model calls the forced tool with <paramref name="input"/> (the article by default).</summary>
    public static Reply ToolCall(JsonObject? input = null, string stopReason = "tool_use", string model = "claude-sonnet-4-5-20250929",
        int inputTokens = 412, int outputTokens = 987, Func<Task>? halfway = null, string? breakWith = null) =>
        (context, request) =>
        {
            var toolName = request["tool_choice"]?["name"]?.GetValue<string>() ?? "tool";
            var block = new JsonObject
            {
                ["type"] = "tool_use",
                ["id"] = "toolu_" + Guid.NewGuid().ToString("N")[..24],
                ["name"] = toolName,
                ["input"] = input?.DeepClone() ?? StandInArticle.Json(), // a node has one parent; replies may share an input
            };
            return MessageAsync(context, request, block, stopReason, model, inputTokens, outputTokens, halfway, breakWith);
        };

    /// <summary>The stream starts, half the tool input arrives, then an <c>overloaded_error</c> event ends it.</summary>
    public static Reply OverloadedMidStream() => ToolCall(breakWith: "overloaded_error");

    public static Reply TextAnswer(string text, string stopReason = "end_turn") =>
        (context, request) => MessageAsync(context, request, new JsonObject { ["type"] = "text", ["text"] = text }, stopReason, "claude-sonnet-4-5-20250929", 400, 900);

    public static Reply Error(int status, string type, string message, IDictionary<string, string>? headers = null) =>
        async (context, _) =>
        {
            foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            {
                context.Response.Headers[name] = value;
            }
            await ErrorAsync(context, status, type, message);
        };

    /// <summary>The organisation's monthly spend cap: a 429 rate_limit_error with details.error_code and no retry-after.</summary>
    public static Reply SpendCap() =>
        async (context, _) =>
        {
            context.Response.StatusCode = 429;
            context.Response.ContentType = "application/json";
            var error = new JsonObject
            {
                ["type"] = "error",
                ["error"] = new JsonObject
                {
                    ["type"] = "rate_limit_error",
                    ["message"] = "You have reached your monthly spend limit. Access resumes on the first of next month.",
                    ["details"] = new JsonObject { ["error_code"] = "enforced_spend_limit_reached" },
                },
                ["request_id"] = "req_" + Guid.NewGuid().ToString("N"),
            };
            await context.Response.WriteAsync(error.ToJsonString(), context.RequestAborted);
        };

    public static Reply Slow(TimeSpan delay) =>
        async (context, request) =>
        {
            await Task.Delay(delay, context.RequestAborted);
            await ToolCall()(context, request);
        };

    private static async Task MessageAsync(HttpContext context, JsonObject request, JsonObject block, string stopReason, string model, int inputTokens, int outputTokens,
        Func<Task>? halfway = null, string? breakWith = null)
    {
        if (request["stream"]?.GetValue<bool>() == true)
        {
            await StreamAsync(context, block, stopReason, model, inputTokens, outputTokens, halfway, breakWith);
            return;
        }
        var message = new JsonObject
        {
            ["id"] = "msg_" + Guid.NewGuid().ToString("N")[..24],
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = new JsonArray(block),
            ["stop_reason"] = stopReason,
            ["stop_sequence"] = null,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = inputTokens,
                ["output_tokens"] = outputTokens,
                ["cache_creation_input_tokens"] = 0,
                ["cache_read_input_tokens"] = 0,
            },
        };
        context.Response.Headers["request-id"] = "req_" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(message.ToJsonString(), context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context, JsonObject block, string stopReason, string model, int inputTokens, int outputTokens,
        Func<Task>? halfway, string? breakWith)
    {
        context.Response.Headers["request-id"] = "req_" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        async Task EventAsync(string name, JsonObject data)
        {
            await context.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        await EventAsync("message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = "msg_" + Guid.NewGuid().ToString("N")[..24], ["type"] = "message", ["role"] = "assistant", ["model"] = model,
                ["content"] = new JsonArray(), ["stop_reason"] = null, ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = inputTokens, ["output_tokens"] = 1, ["cache_creation_input_tokens"] = 0, ["cache_read_input_tokens"] = 0 },
            },
        });
        var tool = block["type"]!.GetValue<string>() == "tool_use";
        // A block starts empty: a tool call with input {}, a text block with "".
        var start = tool
            ? new JsonObject { ["type"] = "tool_use", ["id"] = block["id"]!.GetValue<string>(), ["name"] = block["name"]!.GetValue<string>(), ["input"] = new JsonObject() }
            : new JsonObject { ["type"] = "text", ["text"] = "" };
        await EventAsync("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = start });
        await EventAsync("ping", new JsonObject { ["type"] = "ping" });
        var body = tool ? block["input"]!.ToJsonString() : block["text"]!.GetValue<string>();
        var half = body.Length / 2;
        for (var at = 0; at < body.Length;)
        {
            var size = Math.Min(40, body.Length - at);
            var piece = body.Substring(at, size);
            await EventAsync("content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta",
                ["index"] = 0,
                ["delta"] = tool
                    ? new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = piece }
                    : new JsonObject { ["type"] = "text_delta", ["text"] = piece },
            });
            var before = at;
            at += size;
            if (before < half && at >= half)
            {
                if (breakWith is not null)
                {
                    await EventAsync("error", new JsonObject
                    {
                        ["type"] = "error",
                        ["error"] = new JsonObject { ["type"] = breakWith, ["message"] = breakWith == "overloaded_error" ? "Overloaded" : "Internal server error" },
                    });
                    return;
                }
                if (halfway is not null)
                {
                    await halfway();
                }
            }
        }
        await EventAsync("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        await EventAsync("message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = outputTokens },
        });
        await EventAsync("message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    private static async Task ErrorAsync(HttpContext context, int status, string type, string message)
    {
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers["request-id"] = requestId;
        var error = new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
            ["request_id"] = requestId,
        };
        await context.Response.WriteAsync(error.ToJsonString(), context.RequestAborted);
    }
}
