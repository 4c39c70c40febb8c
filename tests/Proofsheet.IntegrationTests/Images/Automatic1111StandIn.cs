using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Images;

/// <summary>
/// Counts requests in flight across several stand-ins, and can hold each request until a number of them
/// are in flight together: that proves calls overlap without measuring time.
/// </summary>
internal sealed class InFlightRecorder(int rendezvous = 0)
{
    private int _current;
    private int _max;
    private readonly TaskCompletionSource _met = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Max => Volatile.Read(ref _max);

    public async Task<IDisposable> EnterAsync()
    {
        var now = Interlocked.Increment(ref _current);
        int seen;
        while ((seen = Volatile.Read(ref _max)) < now && Interlocked.CompareExchange(ref _max, now, seen) != seen)
        {
        }
        if (rendezvous > 0)
        {
            if (now >= rendezvous)
            {
                _met.TrySetResult();
            }
            // A client that calls one server after the other never meets the rendezvous; the wait then ends
            // and the test sees Max == 1.
            await Task.WhenAny(_met.Task, Task.Delay(TimeSpan.FromSeconds(10)));
        }
        return new Exit(this);
    }

    private sealed class Exit(InFlightRecorder owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._current);
    }
}

public enum A1111Mode
{
    Ok,
    OutOfMemory,
    MalformedJson,
    NotAnImage,
    /// <summary>The connection is cut before any answer.</summary>
    DropConnection,
}

/// <summary>
/// Speaks AUTOMATIC1111's <c>/sdapi/v1</c> API: txt2img (one job at a time, like the real server's queue
/// lock), progress of the running job, sd-models and options, the middleware's error body, and HTTP Basic
/// auth when <see cref="Username"/> is set.
/// </summary>
internal sealed class Automatic1111StandIn : IAsyncDisposable
{
    private readonly SemaphoreSlim _queueLock = new(1, 1);
    private readonly Lock _jobLock = new();
    private StandInServer? _server;
    private DateTime _jobStarted;
    private int _jobSteps;
    private bool _jobRunning;
    private int _pollsDuringJob;
    private TaskCompletionSource? _pollsSeen;

    public string BaseUrl => _server!.BaseUrl;
    public A1111Mode Mode { get; set; }
    /// <summary>How long a job samples. Progress advances over it.</summary>
    public TimeSpan Delay { get; set; }
    /// <summary>A job does not finish before its progress was polled this many times (bounded by a 10 s safety wait).</summary>
    public int HoldUntilProgressPolls { get; set; }
    public string? Username { get; set; }
    public string? Password { get; set; }
    public InFlightRecorder? Recorder { get; set; }
    public ConcurrentQueue<JsonObject> Txt2ImgRequests { get; } = new();
    public int Txt2ImgCalls => Txt2ImgRequests.Count;
    public ConcurrentQueue<string?> AuthorizationHeaders { get; } = new();
    public int ProgressPolls;
    private long _nextSeed = 1000;

    public static async Task<Automatic1111StandIn> StartAsync()
    {
        var standIn = new Automatic1111StandIn();
        standIn._server = await StandInServer.StartAsync(standIn.Map);
        return standIn;
    }

    private void Map(WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            AuthorizationHeaders.Enqueue(ctx.Request.Headers.Authorization.ToString());
            if (Username is not null && ctx.Request.Path.StartsWithSegments("/sdapi/v1") && !Authorized(ctx.Request))
            {
                ctx.Response.Headers.WWWAuthenticate = "Basic";
                await Results.Json(new { error = "HTTPException", detail = "Incorrect username or password", body = "", errors = "" }, statusCode: 401).ExecuteAsync(ctx);
                return;
            }
            await next(ctx);
        });
        app.MapPost("/sdapi/v1/txt2img", Txt2ImgAsync);
        app.MapGet("/sdapi/v1/progress", Progress);
        app.MapGet("/sdapi/v1/sd-models", () => Results.Json(new[]
        {
            new { title = "sd_xl_base_1.0.safetensors [31e35c80fc]", model_name = "sd_xl_base_1.0", hash = "31e35c80fc", sha256 = (string?)null, filename = "/models/sd_xl_base_1.0.safetensors", config = (string?)null },
        }));
        app.MapGet("/sdapi/v1/options", () => Results.Json(new Dictionary<string, object> { ["sd_model_checkpoint"] = "sd_xl_base_1.0.safetensors [31e35c80fc]", ["samples_format"] = "png" }));
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return false;
        }
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(header[6..])) == $"{Username}:{Password}";
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private async Task<IResult> Txt2ImgAsync(HttpRequest request)
    {
        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(request.Body))?.AsObject() ?? new JsonObject();
        }
        catch (JsonException)
        {
            return Results.Json(new { detail = new[] { new { loc = new[] { "body" }, msg = "Expecting value", type = "value_error.jsondecode" } } }, statusCode: 422);
        }
        Txt2ImgRequests.Enqueue(body);
        using var inFlight = Recorder is null ? null : await Recorder.EnterAsync();

        // The real server holds a global queue lock: a second job waits inside its HTTP call.
        await _queueLock.WaitAsync();
        try
        {
            var batch = body["batch_size"]?.GetValue<int>() ?? 1;
            var iterations = body["n_iter"]?.GetValue<int>() ?? 1;
            var steps = body["steps"]?.GetValue<int>() ?? 50;
            var width = body["width"]?.GetValue<int>() ?? 512;
            var height = body["height"]?.GetValue<int>() ?? 512;
            var seed = body["seed"]?.GetValue<long>() ?? -1;
            lock (_jobLock)
            {
                _jobStarted = DateTime.UtcNow;
                _jobSteps = steps;
                _jobRunning = true;
                _pollsDuringJob = 0;
                _pollsSeen = HoldUntilProgressPolls > 0 ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
            }
            try
            {
                if (Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, request.HttpContext.RequestAborted);
                }
                if (_pollsSeen is { } seen)
                {
                    await Task.WhenAny(seen.Task, Task.Delay(TimeSpan.FromSeconds(10), request.HttpContext.RequestAborted));
                }
            }
            finally
            {
                lock (_jobLock)
                {
                    _jobRunning = false;
                }
            }

            switch (Mode)
            {
                case A1111Mode.OutOfMemory:
                    return Results.Json(new
                    {
                        error = "OutOfMemoryError",
                        detail = "",
                        body = "",
                        errors = "CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 8.00 GiB total capacity; 5.12 GiB already allocated)",
                    }, statusCode: 500);
                case A1111Mode.MalformedJson:
                    return Results.Text("{\"images\": [\"iVBORw0KGgo", "application/json");
                case A1111Mode.DropConnection:
                    request.HttpContext.Abort();
                    return Results.Empty;
            }

            var count = batch * iterations;
            var first = seed == -1 ? Interlocked.Add(ref _nextSeed, count) : seed;
            var seeds = Enumerable.Range(0, count).Select(i => first + i).ToArray();
            var images = Enumerable.Range(0, count).Select(i => Mode == A1111Mode.NotAnImage
                ? Convert.ToBase64String("not an image"u8.ToArray())
                : Convert.ToBase64String(Proofsheet.Testing.Png.ForIndex(i + (int)(first % 7), Math.Min(width, 16)))).ToArray();
            var info = JsonSerializer.Serialize(new
            {
                prompt = body["prompt"]?.GetValue<string>() ?? "",
                all_prompts = Enumerable.Repeat(body["prompt"]?.GetValue<string>() ?? "", count),
                seed = seeds[0],
                all_seeds = seeds,
                width,
                height,
                steps,
                batch_size = batch,
                index_of_first_image = 0,
                version = "v1.10.1",
            });
            return Results.Json(new { images, parameters = body, info });
        }
        finally
        {
            _queueLock.Release();
        }
    }

    private IResult Progress()
    {
        Interlocked.Increment(ref ProgressPolls);
        lock (_jobLock)
        {
            if (!_jobRunning)
            {
                return Results.Json(new
                {
                    progress = 0.0, eta_relative = 0.0,
                    state = new { skipped = false, interrupted = false, stopping_generation = false, job = "", job_count = 0, job_timestamp = "0", job_no = 0, sampling_step = 0, sampling_steps = 0 },
                    current_image = (string?)null, textinfo = (string?)null,
                });
            }
            var elapsed = DateTime.UtcNow - _jobStarted;
            var fraction = Delay > TimeSpan.Zero ? Math.Min(1, elapsed / Delay) : 0.5;
            var step = Math.Clamp((int)(fraction * _jobSteps), 1, _jobSteps);
            if (++_pollsDuringJob >= HoldUntilProgressPolls)
            {
                _pollsSeen?.TrySetResult();
            }
            // The server's formula for one job: 0.01 + job_no/job_count + (step/steps)/job_count.
            var progress = Math.Min(1, 0.01 + (double)step / _jobSteps);
            return Results.Json(new
            {
                progress, eta_relative = 1.0,
                state = new { skipped = false, interrupted = false, stopping_generation = false, job = "scripts_txt2img", job_count = 1, job_timestamp = "20250101120000", job_no = 0, sampling_step = step, sampling_steps = _jobSteps },
                current_image = (string?)null, textinfo = (string?)null,
            });
        }
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;
}

internal static class DeadServer
{
    /// <summary>An address nothing listens on: the port was free a moment ago and is closed again.</summary>
    public static string Url()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }
}
