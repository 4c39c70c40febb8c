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

/// <summary>Which server's error body the stand-in sends: A1111's middleware, Forge's, or FastAPI's own.</summary>
public enum A1111Flavour
{
    Automatic1111,
    Forge,
}

/// <summary>
/// Speaks AUTOMATIC1111's <c>/sdapi/v1</c> API: txt2img (one job at a time, like the real server's queue
/// lock), progress of the running job, interrupt, sd-models, samplers, schedulers and options, the
/// middleware's error body (or Forge's), and HTTP Basic auth when <see cref="Username"/> is set. As strict
/// as the real server where it matters: an unknown checkpoint override is dropped and an unknown sampler or
/// scheduler becomes the default, without an error (processing.py, sd_samplers.py); a job renders on after
/// its client disconnects and only <c>/interrupt</c> cuts it short; a batch larger than
/// <see cref="MaxBatch"/> runs out of GPU memory.
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
    public A1111Flavour Flavour { get; set; }
    /// <summary>The largest batch that fits in GPU memory; 0 for no limit.</summary>
    public int MaxBatch { get; set; }
    public int Interrupts;
    /// <summary>The server's live previews setting (show_progress_every_n_steps): progress carries current_image while a job runs.</summary>
    public bool LivePreviews { get; set; }
    /// <summary>Jobs that ran to their end (not interrupted), even when nobody was waiting for the answer.</summary>
    public int JobsCompleted;
    /// <summary>Set when a job starts rendering (after the queue lock), so a test can act while it runs.</summary>
    public TaskCompletionSource JobStarted { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _interrupt = new();
    private string _loaded = Models[0].Title;

    public sealed record Model(string Title, string Name, string Hash);

    public static readonly Model[] Models =
    [
        new("sd_xl_base_1.0.safetensors [31e35c80fc]", "sd_xl_base_1.0", "31e35c80fc"),
        new("juggernautXL_v9.safetensors [c9e3e68f89]", "juggernautXL_v9", "c9e3e68f89"),
    ];

    /// <summary>sd_samplers.all_samplers of v1.10: samplers[0] is the default an unknown name becomes.</summary>
    public static readonly (string Name, string[] Aliases)[] Samplers =
    [
        ("DPM++ 2M", ["k_dpmpp_2m"]), ("DPM++ SDE", ["k_dpmpp_sde"]), ("DPM++ 2M SDE", ["k_dpmpp_2m_sde"]),
        ("Euler a", ["k_euler_a"]), ("Euler", ["k_euler"]), ("LMS", ["k_lms"]), ("Heun", ["k_heun"]),
        ("DPM2", ["k_dpm_2"]), ("DDIM", []), ("PLMS", []), ("UniPC", []),
    ];

    /// <summary>sd_schedulers.schedulers of v1.10: an unknown name becomes the first, Automatic.</summary>
    public static readonly (string Name, string Label)[] Schedulers =
    [
        ("automatic", "Automatic"), ("uniform", "Uniform"), ("karras", "Karras"), ("exponential", "Exponential"),
        ("polyexponential", "Polyexponential"), ("sgm_uniform", "SGM Uniform"), ("kl_optimal", "KL Optimal"),
        ("align_your_steps", "Align Your Steps"), ("simple", "Simple"), ("normal", "Normal"), ("ddim", "DDIM"), ("beta", "Beta"),
    ];

    /// <summary>Renders with this model whatever was asked (as an extension or a failed load would).</summary>
    public string? ForceModel { get; set; }

    /// <summary>What the last job really rendered with, as its info reported.</summary>
    public (string Model, string Sampler, string Scheduler)? LastUsed { get; private set; }
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
                await Error("HTTPException", "Incorrect username or password", "", 401).ExecuteAsync(ctx);
                return;
            }
            await next(ctx);
        });
        app.MapPost("/sdapi/v1/txt2img", Txt2ImgAsync);
        app.MapGet("/sdapi/v1/progress", Progress);
        app.MapGet("/sdapi/v1/sd-models", () => Results.Json(Models.Select(m => new
        {
            title = m.Title, model_name = m.Name, hash = m.Hash, sha256 = (string?)null,
            filename = $"/models/Stable-diffusion/{m.Name}.safetensors", config = (string?)null,
        })));
        app.MapGet("/sdapi/v1/samplers", () => Results.Json(Samplers.Select(s => new { name = s.Name, aliases = s.Aliases, options = new { } })));
        app.MapGet("/sdapi/v1/schedulers", () => Results.Json(Schedulers.Select(s => new { name = s.Name, label = s.Label, aliases = (string[]?)null, default_rho = -1, need_inner_model = false })));
        // The options are restored after each job: they show the loaded model, not the last job's.
        app.MapGet("/sdapi/v1/options", () => Results.Json(new Dictionary<string, object> { ["sd_model_checkpoint"] = _loaded, ["samples_format"] = "png" }));
        app.MapPost("/sdapi/v1/interrupt", () =>
        {
            Interlocked.Increment(ref Interrupts);
            lock (_jobLock)
            {
                if (_jobRunning)
                {
                    _interrupt.Cancel();
                }
            }
            return Results.Json(new { });
        });
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
            CancellationToken interrupted;
            lock (_jobLock)
            {
                _jobStarted = DateTime.UtcNow;
                _jobSteps = steps;
                _jobRunning = true;
                _pollsDuringJob = 0;
                _pollsSeen = HoldUntilProgressPolls > 0 ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
                _interrupt = new CancellationTokenSource();
                interrupted = _interrupt.Token;
            }
            JobStarted.TrySetResult();
            // Like the real server, the job renders on when the client goes away: only /interrupt stops it.
            var wasInterrupted = false;
            try
            {
                if (Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, interrupted);
                }
                if (_pollsSeen is { } seen)
                {
                    await Task.WhenAny(seen.Task, Task.Delay(TimeSpan.FromSeconds(10), interrupted));
                }
            }
            catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
            {
                wasInterrupted = true;
            }
            finally
            {
                lock (_jobLock)
                {
                    _jobRunning = false;
                }
                JobStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            if (!wasInterrupted)
            {
                Interlocked.Increment(ref JobsCompleted);
            }
            if (MaxBatch > 0 && batch * iterations > MaxBatch)
            {
                return Error("OutOfMemoryError", "", "CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 8.00 GiB total capacity; 5.12 GiB already allocated)", 500);
            }

            // processing.py drops an override_settings.sd_model_checkpoint it cannot find; sd_samplers maps an
            // unknown sampler (and sd_schedulers an unknown scheduler) to the first one. No error either way.
            var asked = body["override_settings"]?["sd_model_checkpoint"]?.GetValue<string>();
            var model = Models.FirstOrDefault(m => m.Name == ForceModel) ?? Models.FirstOrDefault(m => asked is not null && (m.Title == asked || m.Name == asked || m.Hash == asked || $"{m.Name}.safetensors" == asked))
                        ?? Models.First(m => m.Title == _loaded);
            var askedSampler = body["sampler_name"]?.GetValue<string>();
            var sampler = Samplers.FirstOrDefault(x => x.Name == askedSampler || x.Aliases.Contains(askedSampler)).Name ?? Samplers[0].Name;
            var askedScheduler = body["scheduler"]?.GetValue<string>();
            var scheduler = Schedulers.FirstOrDefault(x => x.Name == askedScheduler || x.Label == askedScheduler).Label ?? Schedulers[0].Label;
            LastUsed = (model.Name, sampler, scheduler);
            if (wasInterrupted)
            {
                // An interrupted job still answers 200, with what finished: here, nothing.
                return Results.Json(new { images = Array.Empty<string>(), parameters = body, info = JsonSerializer.Serialize(new { seed = -1, all_seeds = Array.Empty<long>(), sd_model_name = model.Name, sd_model_hash = model.Hash, sampler_name = sampler }) });
            }

            switch (Mode)
            {
                case A1111Mode.OutOfMemory:
                    return Error("OutOfMemoryError", "", "CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 8.00 GiB total capacity; 5.12 GiB already allocated)", 500);
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
                sampler_name = sampler,
                sd_model_name = model.Name,
                sd_model_hash = model.Hash,
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

    /// <summary>The middleware's error body: A1111's <c>{error, detail, body, errors}</c>, Forge's <c>{error, detail, body, message}</c>.</summary>
    private IResult Error(string error, string detail, string message, int status) => Flavour == A1111Flavour.Forge
        ? Results.Json(new { error, detail, body = "", message }, statusCode: status)
        : Results.Json(new { error, detail, body = "", errors = message }, statusCode: status);

    private IResult Progress(HttpRequest request)
    {
        var withImage = LivePreviews && request.Query["skip_current_image"] != "true";
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
                state = new { skipped = false, interrupted = _interrupt.IsCancellationRequested, stopping_generation = false, job = "scripts_txt2img", job_count = 1, job_timestamp = "20250101120000", job_no = 0, sampling_step = step, sampling_steps = _jobSteps },
                current_image = withImage ? Convert.ToBase64String(Proofsheet.Testing.Png.ForIndex(step, 8)) : null, textinfo = (string?)null,
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
