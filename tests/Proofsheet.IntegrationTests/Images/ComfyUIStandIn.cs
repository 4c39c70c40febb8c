using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Images;

public enum ComfyMode
{
    Ok,
    /// <summary>A node raises during execution (e.g. out of memory): execution_error, history status "error".</summary>
    ExecutionError,
    /// <summary>The job runs but the socket is closed before any event: the client must read /history.</summary>
    DropSocket,
    /// <summary>The job never finishes.</summary>
    Hang,
}

/// <summary>
/// Speaks ComfyUI's server API: <c>POST /prompt</c> with its validation errors (unknown nodes, values not in
/// the list, values past an input's min/max), one prompt at a time from a queue, the <c>/ws?clientId=</c>
/// event stream (status, execution_start, executing, progress, executed, execution_success or
/// execution_error or execution_interrupted, executing with node null), <c>/history/{id}</c> ({} until the
/// job ends; written after execution_success, as main.py's prompt worker does), <c>/view</c>,
/// <c>POST /interrupt</c> (only the named prompt, when it runs) and <c>POST /queue {"delete":[…]}</c>.
/// A prompt renders on whether or not its client is still connected.
/// </summary>
internal sealed class ComfyUIStandIn : IAsyncDisposable
{
    private static readonly string[] Checkpoints = ["sd_xl_base_1.0.safetensors"];
    private static readonly HashSet<string> KnownNodes = ["CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage", "PreviewImage"];
    private static readonly HashSet<string> OutputNodes = ["SaveImage", "PreviewImage"];

    /// <summary>comfy/samplers.py KSAMPLER_NAMES (abridged) and SCHEDULER_NAMES.</summary>
    public static readonly string[] SamplerNames = ["euler", "euler_cfg_pp", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive",
        "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m_sde", "ddpm", "lcm", "ipndm", "deis", "res_multistep", "ddim", "uni_pc", "uni_pc_bh2"];
    public static readonly string[] SchedulerNames = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal", "linear_quadratic", "kl_optimal"];

    /// <summary>(node type, input) → (min, max) from nodes.py; MAX_RESOLUTION is 16384.</summary>
    private static readonly Dictionary<(string, string), (decimal Min, decimal Max)> Limits = new()
    {
        [("KSampler", "seed")] = (0, ulong.MaxValue),
        [("KSampler", "steps")] = (1, 10000),
        [("KSampler", "cfg")] = (0, 100),
        [("KSampler", "denoise")] = (0, 1),
        [("EmptyLatentImage", "width")] = (16, 16384),
        [("EmptyLatentImage", "height")] = (16, 16384),
        [("EmptyLatentImage", "batch_size")] = (1, 4096),
    };

    private readonly System.Threading.Channels.Channel<(string PromptId, string ClientId, JsonObject Graph, string SaveNode)> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<(string, string, JsonObject, string)>();
    private readonly ConcurrentDictionary<string, bool> _deleted = new();
    private readonly Lock _runLock = new();
    private string? _running;
    private CancellationTokenSource _interrupt = new();
    private Task? _worker;

    private StandInServer? _server;
    private readonly ConcurrentDictionary<string, (WebSocket Socket, SemaphoreSlim Gate)> _sockets = new();
    private readonly ConcurrentDictionary<string, JsonObject> _history = new();
    private readonly ConcurrentDictionary<string, byte[]> _files = new();
    private int _counter;

    public string BaseUrl => _server!.BaseUrl;
    public ComfyMode Mode { get; set; }
    public ConcurrentQueue<JsonObject> Prompts { get; } = new();
    public ConcurrentQueue<string> Views { get; } = new();
    public int SocketsOpened;
    /// <summary>How long each sampling step takes.</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.FromMilliseconds(5);
    public ConcurrentQueue<string?> Interrupts { get; } = new();
    public ConcurrentQueue<string> QueueDeletes { get; } = new();
    public int JobsCompleted;
    /// <summary>Sends a binary preview frame (PREVIEW_IMAGE, PNG) with each sampling step, as with --preview-method auto.</summary>
    public bool LivePreviews { get; set; }
    /// <summary>The id of every prompt accepted into the queue, as it is accepted.</summary>
    public System.Threading.Channels.Channel<string> Accepted { get; } = System.Threading.Channels.Channel.CreateUnbounded<string>();
    /// <summary>Each prompt that ran to its end, as it ends (interrupted ones are not listed).</summary>
    public System.Threading.Channels.Channel<string> Completed { get; } = System.Threading.Channels.Channel.CreateUnbounded<string>();
    /// <summary>Completes when a prompt starts executing.</summary>
    public TaskCompletionSource<string> JobStarted { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<ComfyUIStandIn> StartAsync()
    {
        var standIn = new ComfyUIStandIn();
        standIn._server = await StandInServer.StartAsync(standIn.Map);
        standIn._worker = Task.Run(standIn.WorkAsync);
        return standIn;
    }

    private void Map(WebApplication app)
    {
        app.Map("/ws", SocketAsync);
        app.MapPost("/prompt", PromptAsync);
        app.MapPost("/interrupt", async (HttpRequest request) =>
        {
            // The body is optional (and may come chunked, without a length).
            var text = await new StreamReader(request.Body).ReadToEndAsync();
            var body = string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text)?.AsObject();
            var id = body?["prompt_id"]?.GetValue<string>();
            Interrupts.Enqueue(id);
            lock (_runLock)
            {
                // With a prompt_id, only that prompt is interrupted, and only while it runs.
                if (_running is not null && (id is null || id == _running))
                {
                    _interrupt.Cancel();
                }
            }
            return Results.Ok();
        });
        app.MapPost("/queue", async (HttpRequest request) =>
        {
            var body = (await JsonNode.ParseAsync(request.Body))?.AsObject();
            foreach (var id in body?["delete"]?.AsArray().Select(x => x!.GetValue<string>()) ?? [])
            {
                QueueDeletes.Enqueue(id);
                _deleted[id] = true;
            }
            return Results.Ok();
        });
        app.MapGet("/history/{id}", (string id) => _history.TryGetValue(id, out var entry)
            ? Results.Text(new JsonObject { [id] = entry.DeepClone() }.ToJsonString(), "application/json")
            : Results.Json(new { }));
        app.MapGet("/view", (string? filename, string? subfolder, string? type) =>
        {
            if (string.IsNullOrEmpty(filename) || filename.Contains("..", StringComparison.Ordinal) || filename.StartsWith('/') || type is not ("output" or "input" or "temp"))
            {
                return Results.StatusCode(400);
            }
            Views.Enqueue($"{subfolder}/{filename}");
            return _files.TryGetValue($"{type}/{subfolder}/{filename}", out var bytes) ? Results.Bytes(bytes, "image/png") : Results.NotFound();
        });
        app.MapGet("/system_stats", () => Results.Json(new
        {
            system = new { os = "posix", ram_total = 64L << 30, ram_free = 32L << 30, comfyui_version = "0.3.64", python_version = "3.12", pytorch_version = "2.8.0", embedded_python = false, argv = new[] { "main.py" } },
            devices = new[] { new { name = "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", type = "cuda", index = 0, vram_total = 24L << 30, vram_free = 20L << 30, torch_vram_total = 0, torch_vram_free = 0 } },
        }));
    }

    private async Task SocketAsync(HttpContext ctx)
    {
        if (!ctx.WebSockets.IsWebSocketRequest)
        {
            ctx.Response.StatusCode = 400;
            return;
        }
        var clientId = ctx.Request.Query["clientId"].ToString();
        if (clientId.Length == 0)
        {
            clientId = Guid.NewGuid().ToString("N");
        }
        using var socket = await ctx.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref SocketsOpened);
        var gate = new SemaphoreSlim(1, 1);
        _sockets[clientId] = (socket, gate);
        await SendAsync(clientId, "status", new JsonObject { ["status"] = new JsonObject { ["exec_info"] = new JsonObject { ["queue_remaining"] = 0 } }, ["sid"] = clientId });
        var buffer = new byte[4096];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(buffer, ctx.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }
        finally
        {
            _sockets.TryRemove(clientId, out _);
        }
    }

    private async Task SendAsync(string clientId, string type, JsonObject data)
    {
        if (!_sockets.TryGetValue(clientId, out var s))
        {
            return;
        }
        await s.Gate.WaitAsync();
        try
        {
            if (s.Socket.State == WebSocketState.Open)
            {
                await s.Socket.SendAsync(Encoding.UTF8.GetBytes(new JsonObject { ["type"] = type, ["data"] = data }.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
            }
        }
        catch (WebSocketException)
        {
        }
        finally
        {
            s.Gate.Release();
        }
    }

    /// <summary>server.py send_image: event type 1 (PREVIEW_IMAGE) and image type 2 (PNG), big-endian, then the bytes.</summary>
    private async Task SendPreviewAsync(string clientId, byte[] png)
    {
        if (!_sockets.TryGetValue(clientId, out var s))
        {
            return;
        }
        var frame = new byte[8 + png.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, 1);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), 2);
        png.CopyTo(frame, 8);
        await s.Gate.WaitAsync(CancellationToken.None);
        try
        {
            if (s.Socket.State == WebSocketState.Open)
            {
                await s.Socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);
            }
        }
        catch (WebSocketException)
        {
        }
        finally
        {
            s.Gate.Release();
        }
    }

    private static IResult Invalid(string type, string message, string details, JsonObject? nodeErrors = null) =>
        Results.Text(new JsonObject
        {
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message, ["details"] = details, ["extra_info"] = new JsonObject() },
            ["node_errors"] = nodeErrors ?? new JsonObject(),
        }.ToJsonString(), "application/json", statusCode: 400);

    private async Task<IResult> PromptAsync(HttpRequest request)
    {
        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
        }
        catch (JsonException)
        {
            return Results.StatusCode(500);
        }
        if (body["prompt"] is not JsonObject graph)
        {
            return Invalid("no_prompt", "No prompt provided", "No prompt provided");
        }
        foreach (var (id, node) in graph)
        {
            if (node?["class_type"]?.GetValue<string>() is not { } type)
            {
                return Invalid("invalid_prompt", "Cannot execute because a node is missing the class_type property.", $"Node ID '#{id}'");
            }
            if (!KnownNodes.Contains(type))
            {
                return Invalid("invalid_prompt", $"Cannot execute because node {type} does not exist.", $"Node ID '#{id}'");
            }
        }
        var save = graph.FirstOrDefault(n => OutputNodes.Contains(n.Value!["class_type"]!.GetValue<string>()));
        if (save.Key is null)
        {
            return Invalid("prompt_no_outputs", "Prompt has no outputs", "");
        }
        foreach (var (id, node) in graph.Where(n => n.Value!["class_type"]!.GetValue<string>() == "CheckpointLoaderSimple"))
        {
            var ckpt = node!["inputs"]?["ckpt_name"]?.GetValue<string>();
            if (!Checkpoints.Contains(ckpt))
            {
                var details = $"ckpt_name: '{ckpt}' not in ['{string.Join("', '", Checkpoints)}']";
                return Invalid("prompt_outputs_failed_validation", "Prompt outputs failed validation", $"Value not in list: {details}", new JsonObject
                {
                    [id] = new JsonObject
                    {
                        ["errors"] = new JsonArray(new JsonObject
                        {
                            ["type"] = "value_not_in_list", ["message"] = "Value not in list", ["details"] = details,
                            ["extra_info"] = new JsonObject { ["input_name"] = "ckpt_name", ["input_config"] = null, ["received_value"] = ckpt },
                        }),
                        ["dependent_outputs"] = new JsonArray(save.Key),
                        ["class_type"] = "CheckpointLoaderSimple",
                    },
                });
            }
        }
        foreach (var (id, node) in graph)
        {
            var type = node!["class_type"]!.GetValue<string>();
            foreach (var (input, value) in node["inputs"]?.AsObject() ?? [])
            {
                string? problem = null, kind = null;
                if (Limits.TryGetValue((type, input), out var limit) && value is JsonValue v && v.TryGetValue<decimal>(out var number))
                {
                    (kind, problem) = number < limit.Min ? ("value_smaller_than_min", $"Value {number} smaller than min of {limit.Min}")
                        : number > limit.Max ? ("value_bigger_than_max", $"Value {number} bigger than max of {limit.Max}")
                        : (null, null);
                }
                var list = (type, input) switch
                {
                    ("KSampler", "sampler_name") => SamplerNames,
                    ("KSampler", "scheduler") => SchedulerNames,
                    ("CheckpointLoaderSimple", "ckpt_name") => Checkpoints,
                    _ => null,
                };
                if (list is not null && !list.Contains(value?.GetValue<string>()))
                {
                    (kind, problem) = ("value_not_in_list", $"{input}: '{value}' not in ['{string.Join("', '", list)}']");
                }
                if (problem is not null)
                {
                    var message = kind == "value_not_in_list" ? "Value not in list" : problem;
                    var details = kind == "value_not_in_list" ? problem : $"{input}, {problem}";
                    return Invalid("prompt_outputs_failed_validation", "Prompt outputs failed validation", $"{message}: {details}", new JsonObject
                    {
                        [id] = new JsonObject
                        {
                            ["errors"] = new JsonArray(new JsonObject
                            {
                                ["type"] = kind, ["message"] = message, ["details"] = details,
                                ["extra_info"] = new JsonObject { ["input_name"] = input, ["received_value"] = value?.DeepClone() },
                            }),
                            ["dependent_outputs"] = new JsonArray(save.Key),
                            ["class_type"] = type,
                        },
                    });
                }
            }
        }
        Prompts.Enqueue(body);
        var promptId = Guid.NewGuid().ToString();
        var clientId = body["client_id"]?.GetValue<string>() ?? "";
        _queue.Writer.TryWrite((promptId, clientId, graph, save.Key));
        Accepted.Writer.TryWrite(promptId);
        return Results.Json(new { prompt_id = promptId, number = Prompts.Count, node_errors = new { } });
    }

    /// <summary>One prompt at a time, like ComfyUI's prompt worker; a deleted prompt is skipped.</summary>
    private async Task WorkAsync()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync())
        {
            if (_deleted.ContainsKey(job.PromptId))
            {
                continue;
            }
            CancellationToken interrupted;
            lock (_runLock)
            {
                _running = job.PromptId;
                _interrupt = new CancellationTokenSource();
                interrupted = _interrupt.Token;
            }
            try
            {
                JobStarted.TrySetResult(job.PromptId);
                await RunJobAsync(job.PromptId, job.ClientId, job.Graph, job.SaveNode, interrupted);
            }
            catch (Exception)
            {
                // A stand-in's failure must not stop the queue; the test sees the missing history.
            }
            finally
            {
                lock (_runLock)
                {
                    _running = null;
                }
                JobStarted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    private async Task RunJobAsync(string promptId, string clientId, JsonObject graph, string saveNode, CancellationToken interrupted)
    {
        if (Mode == ComfyMode.DropSocket && _sockets.TryGetValue(clientId, out var s))
        {
            await s.Gate.WaitAsync(CancellationToken.None);
            try
            {
                s.Socket.Abort();
            }
            finally
            {
                s.Gate.Release();
            }
        }
        var ts = () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await SendAsync(clientId, "execution_start", new JsonObject { ["prompt_id"] = promptId, ["timestamp"] = ts() });
        await SendAsync(clientId, "execution_cached", new JsonObject { ["nodes"] = new JsonArray(), ["prompt_id"] = promptId, ["timestamp"] = ts() });
        if (Mode == ComfyMode.Hang)
        {
            // Hangs until interrupted, as a stuck node would.
            try
            {
                await Task.Delay(Timeout.Infinite, interrupted);
            }
            catch (OperationCanceledException)
            {
                await InterruptedAsync(promptId, clientId, graph, saveNode, "3", "KSampler");
            }
            return;
        }
        var sampler = graph.First(n => n.Value!["class_type"]!.GetValue<string>() == "KSampler");
        var steps = sampler.Value!["inputs"]!["steps"]!.GetValue<int>();
        foreach (var node in new[] { "4", "5", "6", "7", sampler.Key })
        {
            await SendAsync(clientId, "executing", new JsonObject { ["node"] = node, ["display_node"] = node, ["prompt_id"] = promptId });
        }
        for (var step = 1; step <= steps; step++)
        {
            await SendAsync(clientId, "progress", new JsonObject { ["value"] = step, ["max"] = steps, ["prompt_id"] = promptId, ["node"] = sampler.Key });
            if (LivePreviews)
            {
                await SendPreviewAsync(clientId, Proofsheet.Testing.Png.ForIndex(step, 8));
            }
            try
            {
                await Task.Delay(StepDelay, interrupted);
            }
            catch (OperationCanceledException)
            {
                await InterruptedAsync(promptId, clientId, graph, saveNode, sampler.Key, "KSampler");
                return;
            }
        }
        if (Mode == ComfyMode.ExecutionError)
        {
            var error = new JsonObject
            {
                ["prompt_id"] = promptId, ["node_id"] = "8", ["node_type"] = "VAEDecode", ["executed"] = new JsonArray("4", "5", "6", "7", "3"),
                ["exception_message"] = "Allocation on device 0 would exceed allowed memory. (out of memory)",
                ["exception_type"] = "torch.OutOfMemoryError", ["traceback"] = new JsonArray(), ["current_inputs"] = new JsonObject(),
                ["current_outputs"] = new JsonArray(), ["timestamp"] = ts(),
            };
            _history[promptId] = new JsonObject
            {
                ["prompt"] = new JsonArray(1, promptId, graph.DeepClone(), new JsonObject(), new JsonArray(saveNode)),
                ["outputs"] = new JsonObject(),
                ["status"] = new JsonObject { ["status_str"] = "error", ["completed"] = false, ["messages"] = new JsonArray(new JsonArray("execution_error", error.DeepClone())) },
                ["meta"] = new JsonObject(),
            };
            await SendAsync(clientId, "execution_error", error);
            return;
        }
        var latent = graph.First(n => n.Value!["class_type"]!.GetValue<string>() == "EmptyLatentImage").Value!["inputs"]!;
        var batch = latent["batch_size"]!.GetValue<int>();
        var preview = graph[saveNode]!["class_type"]!.GetValue<string>() == "PreviewImage";
        // PreviewImage writes to the temp folder under a prefix of its own; SaveImage to the output folder.
        var prefix = preview ? "ComfyUI_temp_abcde" : graph[saveNode]!["inputs"]!["filename_prefix"]!.GetValue<string>();
        var folder = preview ? "temp" : "output";
        var subfolder = prefix.Contains('/', StringComparison.Ordinal) ? prefix[..prefix.LastIndexOf('/')] : "";
        var name = prefix[(prefix.LastIndexOf('/') + 1)..];
        var images = new JsonArray();
        for (var i = 0; i < batch; i++)
        {
            var file = $"{name}_{Interlocked.Increment(ref _counter):00000}_.png";
            var seed = sampler.Value!["inputs"]!["seed"]!.GetValue<ulong>();
            _files[$"{folder}/{subfolder}/{file}"] = Proofsheet.Testing.Png.ForIndex((int)(seed % 1000) + i, Math.Min(latent["width"]!.GetValue<int>(), 16));
            images.Add(new JsonObject { ["filename"] = file, ["subfolder"] = subfolder, ["type"] = folder });
        }
        var output = new JsonObject { ["images"] = images };
        await SendAsync(clientId, "executed", new JsonObject { ["node"] = saveNode, ["display_node"] = saveNode, ["output"] = output, ["prompt_id"] = promptId });
        await SendAsync(clientId, "execution_success", new JsonObject { ["prompt_id"] = promptId, ["timestamp"] = ts() });
        // main.py writes the history (task_done) only after execute() returned, so after execution_success.
        await Task.Delay(20, CancellationToken.None);
        _history[promptId] = new JsonObject
        {
            ["prompt"] = new JsonArray(1, promptId, graph.DeepClone(), new JsonObject(), new JsonArray(saveNode)),
            ["outputs"] = new JsonObject { [saveNode] = output.DeepClone() },
            ["status"] = new JsonObject { ["status_str"] = "success", ["completed"] = true, ["messages"] = new JsonArray() },
            ["meta"] = new JsonObject(),
        };
        Interlocked.Increment(ref JobsCompleted);
        Completed.Writer.TryWrite(promptId);
        await SendAsync(clientId, "executing", new JsonObject { ["node"] = null, ["prompt_id"] = promptId });
    }

    private async Task InterruptedAsync(string promptId, string clientId, JsonObject graph, string saveNode, string node, string nodeType)
    {
        var data = new JsonObject
        {
            ["prompt_id"] = promptId, ["node_id"] = node, ["node_type"] = nodeType, ["executed"] = new JsonArray(),
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        await SendAsync(clientId, "execution_interrupted", data);
        _history[promptId] = new JsonObject
        {
            ["prompt"] = new JsonArray(1, promptId, graph.DeepClone(), new JsonObject(), new JsonArray(saveNode)),
            ["outputs"] = new JsonObject(),
            ["status"] = new JsonObject { ["status_str"] = "error", ["completed"] = false, ["messages"] = new JsonArray(new JsonArray("execution_interrupted", data.DeepClone())) },
            ["meta"] = new JsonObject(),
        };
        await SendAsync(clientId, "executing", new JsonObject { ["node"] = null, ["prompt_id"] = promptId });
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        lock (_runLock)
        {
            _interrupt.Cancel();
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
