using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Proofsheet.Bench;

/// <summary>
/// AUTOMATIC1111's txt2img, progress and model endpoints (adapted from the integration tests' stand-in)
/// with a GPU's cost model: a call costs <see cref="CallCost"/> plus <see cref="ImageCost"/> per image of
/// its batch, so a batch is cheaper than separate calls. With <see cref="Exclusive"/> it runs one job at a
/// time, like the real server's queue lock; without it, it stands for a farm where every call has a GPU.
/// Every job is recorded with the time the stand-in spent on it: that is the backend time the
/// benchmarks subtract.
/// </summary>
public sealed class GpuStandIn : IAsyncDisposable
{
    private readonly SemaphoreSlim _queueLock = new(1, 1);
    private StandInServer? _server;
    private long _nextSeed = 1000;
    private byte[]? _largeResponse;

    public sealed record Job(string Prompt, int Images, long Started, long Done, TimeSpan Queued);

    public string BaseUrl => _server!.BaseUrl;
    public IReadOnlyList<string> BaseUrls => _server!.BaseUrls;
    /// <summary>Addresses to listen on: each stands for one server of a pool (the app runs one job per address).</summary>
    public int Ports { get; init; } = 1;
    public TimeSpan CallCost { get; init; }
    public TimeSpan ImageCost { get; init; }
    public bool Exclusive { get; init; } = true;
    public ConcurrentQueue<Job> Jobs { get; } = new();

    /// <summary>Answers every txt2img with this one image (e.g. a 25 MB render) instead of small ones.</summary>
    public byte[]? LargeImage
    {
        init
        {
            if (value is null)
            {
                return;
            }
            var info = JsonSerializer.Serialize(new { seed = 1, all_seeds = new[] { 1 }, index_of_first_image = 0 });
            _largeResponse = Encoding.UTF8.GetBytes(
                "{\"images\":[\"" + Convert.ToBase64String(value) + "\"],\"parameters\":{},\"info\":" + JsonSerializer.Serialize(info) + "}");
        }
    }

    /// <summary>From now on, answers every txt2img with exactly these images (e.g. four SDXL-sized renders).</summary>
    public void Serve(params byte[][] images)
    {
        var info = JsonSerializer.Serialize(new { seed = 1, all_seeds = images.Select((_, i) => 1 + i).ToArray(), index_of_first_image = 0 });
        Volatile.Write(ref _largeResponse, JsonSerializer.SerializeToUtf8Bytes(new { images = images.Select(Convert.ToBase64String).ToArray(), parameters = new { }, info }));
    }

    public static async Task<GpuStandIn> StartAsync(GpuStandIn standIn)
    {
        standIn._server = await StandInServer.StartAsync(standIn.Map, standIn.Ports);
        return standIn;
    }

    private void Map(WebApplication app)
    {
        app.MapPost("/sdapi/v1/txt2img", Txt2ImgAsync);
        app.MapGet("/sdapi/v1/progress", () => Results.Json(new
        {
            progress = 0.5, eta_relative = 1.0,
            state = new { skipped = false, interrupted = false, job = "scripts_txt2img", job_count = 1, job_no = 0, sampling_step = 15, sampling_steps = 30 },
            current_image = (string?)null, textinfo = (string?)null,
        }));
        app.MapGet("/sdapi/v1/sd-models", () => Results.Json(new[] { new { title = "sd_xl_base_1.0.safetensors [31e35c80fc]", model_name = "sd_xl_base_1.0" } }));
        // The app checks its configured sampler and scheduler against these lists before it renders.
        app.MapGet("/sdapi/v1/samplers", () => Results.Json(new[] { new { name = "DPM++ 2M", aliases = new[] { "k_dpmpp_2m" }, options = new { } } }));
        app.MapGet("/sdapi/v1/schedulers", () => Results.Json(new[] { new { name = "karras", label = "Karras", aliases = Array.Empty<string>() } }));
        app.MapGet("/sdapi/v1/options", () => Results.Json(new Dictionary<string, object> { ["sd_model_checkpoint"] = "sd_xl_base_1.0.safetensors [31e35c80fc]" }));
    }

    private async Task Txt2ImgAsync(HttpContext context)
    {
        var arrived = Stopwatch.GetTimestamp();
        var body = (await JsonNode.ParseAsync(context.Request.Body))?.AsObject() ?? new JsonObject();
        var count = (body["batch_size"]?.GetValue<int>() ?? 1) * (body["n_iter"]?.GetValue<int>() ?? 1);
        var prompt = body["prompt"]?.GetValue<string>() ?? "";
        if (Exclusive)
        {
            await _queueLock.WaitAsync();
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            await Task.Delay(CallCost + ImageCost * count);
            byte[] response;
            if (Volatile.Read(ref _largeResponse) is { } fixedResponse)
            {
                response = fixedResponse;
            }
            else
            {
                var first = Interlocked.Add(ref _nextSeed, count);
                var seeds = Enumerable.Range(0, count).Select(i => first + i).ToArray();
                var images = seeds.Select(s => Convert.ToBase64String(Proofsheet.Testing.Png.ForIndex((int)(s % 97)))).ToArray();
                var info = JsonSerializer.Serialize(new { seed = seeds[0], all_seeds = seeds, index_of_first_image = 0, sd_model_name = "sd_xl_base_1.0", sampler_name = "DPM++ 2M" });
                response = JsonSerializer.SerializeToUtf8Bytes(new { images, parameters = new { }, info });
            }
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = response.Length;
            await context.Response.Body.WriteAsync(response);
            await context.Response.CompleteAsync();
        }
        finally
        {
            var done = Stopwatch.GetTimestamp();
            if (Exclusive)
            {
                _queueLock.Release();
            }
            Jobs.Enqueue(new Job(prompt, count, started, done, Stopwatch.GetElapsedTime(arrived, started)));
        }
    }

    /// <summary>
    /// Backend time spent on the calls whose prompt contains <paramref name="marker"/>: the length of the
    /// union of their intervals, so calls that ran at once on different servers count once.
    /// </summary>
    public TimeSpan SpentOn(string marker)
    {
        long total = 0, end = long.MinValue;
        foreach (var job in Jobs.Where(j => j.Prompt.Contains(marker, StringComparison.OrdinalIgnoreCase)).OrderBy(j => j.Started))
        {
            var from = Math.Max(job.Started, end);
            if (job.Done > from)
            {
                total += job.Done - from;
            }
            end = Math.Max(end, job.Done);
        }
        return Stopwatch.GetElapsedTime(0, total);
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;
}
