using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Writing;

/// <summary>
/// An OpenAI-compatible <c>POST /v1/chat/completions</c> (service-contracts.md §5): bearer auth, the
/// required fields and strict <c>json_schema</c> rules checked like the real service, errors in the
/// <c>{"error":{message,type,param,code}}</c> shape. Tests script the answers; unscripted requests get an article.
/// </summary>
public sealed partial class OpenAIStandIn : IAsyncDisposable
{
    public delegate Task Reply(HttpContext context, JsonObject request);

    private readonly ConcurrentQueue<Reply> _script = new();
    private readonly ConcurrentQueue<(JsonObject Body, string? Authorization)> _requests = new();
    private StandInServer _server = null!;

    /// <summary>The key the service accepts; null accepts any bearer token, like Ollama.</summary>
    public string? AcceptedKey { get; init; } = "sk-test-4f9c2a7e1b3d";
    public string BaseUrl => _server.BaseUrl + "/v1";
    public int RequestCount => _requests.Count;
    public IReadOnlyList<JsonObject> Requests => _requests.Select(r => r.Body).ToList();
    public IReadOnlyList<string?> AuthorizationHeaders => _requests.Select(r => r.Authorization).ToList();
    /// <summary>The answer when nothing is scripted; an article by default.</summary>
    public Reply? Default { get; set; }

    public static async Task<OpenAIStandIn> StartAsync(string? acceptedKey = "sk-test-4f9c2a7e1b3d")
    {
        var standIn = new OpenAIStandIn { AcceptedKey = acceptedKey };
        standIn._server = await StandInServer.StartAsync(app =>
        {
            app.MapPost("/v1/chat/completions", standIn.HandleAsync);
            app.MapGet("/v1/models", standIn.ModelsAsync);
        });
        return standIn;
    }

    private int _modelListCalls;
    public int ModelListCalls => Volatile.Read(ref _modelListCalls);

    /// <summary><c>GET /v1/models</c>: the list every OpenAI-compatible server serves, behind the same key check.</summary>
    private async Task ModelsAsync(HttpContext context)
    {
        Interlocked.Increment(ref _modelListCalls);
        var authorization = context.Request.Headers.Authorization.FirstOrDefault();
        if (AcceptedKey is not null && authorization != "Bearer " + AcceptedKey)
        {
            await ErrorAsync(context, 401, $"Incorrect API key provided: {authorization?.Replace("Bearer ", "", StringComparison.Ordinal)}.", "invalid_request_error", null, "invalid_api_key");
            return;
        }
        await context.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = new[] { "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "llama3.1:8b" }.Select(id => new { id, @object = "model", created = 1721172741, owned_by = "system" }),
        });
    }

    public OpenAIStandIn Then(Reply reply)
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
        var authorization = context.Request.Headers.Authorization.FirstOrDefault();
        _requests.Enqueue((body ?? [], authorization));
        if (body is null)
        {
            await ErrorAsync(context, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null, null);
            return;
        }
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.Ordinal) || authorization.Length <= "Bearer ".Length)
        {
            await ErrorAsync(context, 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.", "invalid_request_error", null, null);
            return;
        }
        var key = authorization["Bearer ".Length..];
        if (AcceptedKey is not null && key != AcceptedKey)
        {
            // The real service masks most of the key; echoing it whole makes the tests prove our redaction.
            await ErrorAsync(context, 401, $"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", null, "invalid_api_key");
            return;
        }
        if (Invalid(body) is { } problem)
        {
            await ErrorAsync(context, 400, problem.Message, "invalid_request_error", problem.Param, null);
            return;
        }
        var reply = _script.TryDequeue(out var scripted) ? scripted : Default ?? Article();
        await reply(context, body);
    }

    private static (string Message, string Param)? Invalid(JsonObject body)
    {
        if (body["model"] is not JsonValue model || model.GetValueKind() != JsonValueKind.String || string.IsNullOrEmpty(model.GetValue<string>()))
        {
            return ("you must provide a model parameter", "model");
        }
        if (body["messages"] is not JsonArray messages || messages.Count == 0)
        {
            return ("[] is too short - 'messages'", "messages");
        }
        foreach (var message in messages)
        {
            if (message?["role"]?.GetValue<string>() is not ("system" or "developer" or "user" or "assistant" or "tool") || message["content"] is null)
            {
                return ("Invalid message: each message needs a role and content.", "messages");
            }
        }
        if (body["response_format"] is JsonObject format && format["type"]?.GetValue<string>() == "json_schema")
        {
            if (format["json_schema"] is not JsonObject jsonSchema
                || jsonSchema["name"]?.GetValue<string>() is not { } name || !SchemaName().IsMatch(name))
            {
                return ("Invalid 'response_format.json_schema.name': must match ^[a-zA-Z0-9_-]{1,64}$.", "response_format.json_schema.name");
            }
            if (jsonSchema["strict"]?.GetValue<bool>() == true)
            {
                var schema = jsonSchema["schema"] as JsonObject;
                var properties = (schema?["properties"] as JsonObject)?.Select(p => p.Key).ToHashSet() ?? [];
                var required = (schema?["required"] as JsonArray)?.Select(r => r!.GetValue<string>()).ToHashSet() ?? [];
                if (schema?["additionalProperties"]?.GetValue<bool>() != false)
                {
                    return ("Invalid schema for response_format 'x': In context=(), 'additionalProperties' is required to be supplied and to be false.", "response_format");
                }
                if (!properties.SetEquals(required))
                {
                    return ("Invalid schema for response_format: 'required' is required to be supplied and to be an array including every key in properties.", "response_format");
                }
            }
        }
        return null;
    }

    /// <summary>A structured-output refusal: <c>content</c> null and the reason in <c>refusal</c> (§5.2).</summary>
    public static Reply Refusal(string reason) => Article(content: null, refusal: reason);

    public static Reply Article(string? content = null, string finishReason = "stop", string? model = null, int promptTokens = 321, int completionTokens = 654,
        string? refusal = null, Func<Task>? halfway = null) =>
        async (context, request) =>
        {
            var standInModel = model ?? "gpt-4o-mini-2024-07-18";
            var text = refusal is null ? content ?? StandInArticle.Text() : null;
            var usage = new JsonObject
            {
                ["prompt_tokens"] = promptTokens,
                ["completion_tokens"] = completionTokens,
                ["total_tokens"] = promptTokens + completionTokens,
            };
            var id = "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];
            context.Response.Headers["x-request-id"] = "req_" + Guid.NewGuid().ToString("N");
            if (request["stream"]?.GetValue<bool>() == true)
            {
                await StreamAsync(context, request, id, standInModel, text, refusal, finishReason, usage, halfway);
                return;
            }
            var answer = new JsonObject
            {
                ["id"] = id,
                ["object"] = "chat.completion",
                ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["model"] = standInModel,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject
                    {
                        ["role"] = "assistant",
                        ["content"] = text,
                        ["refusal"] = refusal,
                        ["annotations"] = new JsonArray(),
                    },
                    ["logprobs"] = null,
                    ["finish_reason"] = finishReason,
                }),
                ["usage"] = usage,
                ["service_tier"] = "default",
                ["system_fingerprint"] = "fp_44709d6fcb",
            };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer.ToJsonString(), context.RequestAborted);
        };

    /// <summary>
    /// The streamed form (§5, <c>stream: true</c>): <c>chat.completion.chunk</c> events, the role first, the text in
    /// small pieces, the finish reason, the usage in a last chunk with no choices when <c>stream_options.include_usage</c>
    /// asks for it, then <c>data: [DONE]</c>. <paramref name="halfway"/> runs when half the text has been sent.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, JsonObject request, string id, string model, string? text, string? refusal,
        string finishReason, JsonObject usage, Func<Task>? halfway)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        async Task ChunkAsync(JsonObject? delta, string? finish, JsonObject? chunkUsage = null)
        {
            var chunk = new JsonObject
            {
                ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = created, ["model"] = model,
                ["system_fingerprint"] = "fp_44709d6fcb",
                ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish }),
            };
            if (chunkUsage is not null)
            {
                chunk["usage"] = chunkUsage;
            }
            await context.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        await ChunkAsync(new JsonObject { ["role"] = "assistant", ["content"] = "", ["refusal"] = null }, null);
        if (refusal is not null)
        {
            await ChunkAsync(new JsonObject { ["refusal"] = refusal }, null);
        }
        var body = text ?? "";
        var half = body.Length / 2;
        for (var at = 0; at < body.Length;)
        {
            var size = Math.Min(40, body.Length - at);
            await ChunkAsync(new JsonObject { ["content"] = body.Substring(at, size) }, null);
            var before = at;
            at += size;
            if (halfway is not null && before < half && at >= half)
            {
                await halfway();
            }
        }
        await ChunkAsync(new JsonObject(), finishReason);
        if (request["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            await ChunkAsync(null, null, usage);
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    public static Reply Error(int status, string message, string type, string? code = null, IDictionary<string, string>? headers = null) =>
        async (context, _) =>
        {
            foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            {
                context.Response.Headers[name] = value;
            }
            await ErrorAsync(context, status, message, type, null, code);
        };

    /// <summary>Answers after a delay, or not at all if the client gives up first.</summary>
    public static Reply Slow(TimeSpan delay) =>
        async (context, request) =>
        {
            await Task.Delay(delay, context.RequestAborted);
            await Article()(context, request);
        };

    private static async Task ErrorAsync(HttpContext context, int status, string message, string type, string? param, string? code)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-request-id"] = "req_" + Guid.NewGuid().ToString("N");
        var error = new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code },
        };
        await context.Response.WriteAsync(error.ToJsonString(), context.RequestAborted);
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex SchemaName();
}
