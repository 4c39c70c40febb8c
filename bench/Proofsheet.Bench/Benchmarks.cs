using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Proofsheet.Bench;

public sealed record BenchOptions(string AppPath, int Reps, TimeSpan LoadDuration, int Connections, IReadOnlyList<string> ReadPaths)
{
    /// <summary>The app published with ReadyToRun (bench/run.sh makes it), for the start-up and idle figures of a deployment.</summary>
    public string? PublishedPath { get; init; }
}

/// <summary>The five measurements of issue 7. Each starts the app (and its stand-ins) itself and stops them again.</summary>
public sealed partial class Benchmarks(BenchOptions o, Report report)
{
    private int _marker;

    private static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    private async Task<AppProcess> StartAppAsync(TempDir dir, Dictionary<string, string> settings) =>
        await AppProcess.StartAsync(o.AppPath, dir.Path, settings);

    // 1. Orchestration overhead --------------------------------------------------------------------

    public async Task OverheadAsync()
    {
        const int variations = 4;
        const int servers = 64;
        var imageCost = TimeSpan.FromMilliseconds(4000);
        // A pool big enough that 16 tasks of 4 never wait for a GPU: the app runs one job per server
        // address, so what remains beyond the backend's own time is the app's doing.
        await using var gpu = await GpuStandIn.StartAsync(new GpuStandIn { ImageCost = imageCost, Exclusive = false, Ports = servers });
        using var dir = new TempDir();
        await using var app = await StartAppAsync(dir, new()
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = string.Join(',', gpu.BaseUrls),
            ["Pipeline:MaxConcurrency"] = "16",
        });
        Log("overhead: warming up");
        await RunTasksAsync(app, gpu, 2, variations);

        var section = report.Section("1. Orchestration overhead");
        section.AppendLine(CultureInfo.InvariantCulture, $"Each task: `POST /api/tasks` (`num_variations` {variations}) until its event stream says `awaiting_approval`, minus the time the AUTOMATIC1111 stand-in spent on the task's txt2img calls (its own accounting; {imageCost.TotalMilliseconds:0} ms per image; calls that overlap count once). The stand-in is a pool of {servers} servers (one address each; the app runs one job per server and splits a task's 4 variations over 4 of them), so 16 tasks never wait for a GPU: what remains is the app's own time (HTTP, database writes, preview files, worker hand-offs, event stream). Writer `outline`, `Pipeline:MaxConcurrency` 16. Release build as a separate process, over HTTP.");
        section.AppendLine();
        section.AppendLine("| concurrent tasks | tasks measured | end to end p50 | backend p50 | overhead p50 | overhead p95 | overhead / backend p50 |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var concurrency in new[] { 1, 16 })
        {
            var samples = new List<(double E2e, double Backend)>();
            var rounds = concurrency == 1 ? Math.Max(5, o.Reps * 2) : o.Reps;
            for (var r = 0; r < rounds; r++)
            {
                Log($"overhead: {concurrency} concurrent, round {r + 1}/{rounds}");
                samples.AddRange(await RunTasksAsync(app, gpu, concurrency, variations));
            }
            var overhead = samples.Select(s => s.E2e - s.Backend).ToList();
            var share = samples.Select(s => (s.E2e - s.Backend) / s.Backend).ToList();
            var p50 = Stats.Percentile(overhead, 0.5);
            var shareP50 = Stats.Percentile(share, 0.5);
            section.AppendLine(CultureInfo.InvariantCulture,
                $"| {concurrency} | {samples.Count} | {Report.Ms(Stats.Median(samples.Select(s => s.E2e)))} | {Report.Ms(Stats.Median(samples.Select(s => s.Backend)))} | {Report.Ms(p50)} | {Report.Ms(Stats.Percentile(overhead, 0.95))} | {shareP50:P2} |");
            report.Row($"Overhead, {concurrency} concurrent task(s), per task p50", $"{Report.Ms(p50)} ({shareP50:P2} of backend time)", "< 50 ms and < 2%", p50 < 50 && shareP50 < 0.02);
        }
    }

    private async Task<List<(double E2e, double Backend)>> RunTasksAsync(AppProcess app, GpuStandIn gpu, int count, int variations)
    {
        var runs = Enumerable.Range(0, count).Select(async _ =>
        {
            var marker = $"mk{Interlocked.Increment(ref _marker):D5}q";
            var watch = Stopwatch.StartNew();
            var id = await app.CreateTaskAsync($"Baking sourdough {marker}", variations);
            await app.WaitForStatusAsync(id, "awaiting_approval");
            var e2e = watch.Elapsed.TotalMilliseconds;
            return (marker, e2e);
        }).ToList();
        var done = await Task.WhenAll(runs);
        return done.Select(d => (d.e2e, gpu.SpentOn(d.marker).TotalMilliseconds)).ToList();
    }

    // 2. Variations: batched vs one call per image, on 1, 2 and 4 servers -------------------------------

    public async Task VariationsAsync()
    {
        var callCost = TimeSpan.FromMilliseconds(600);
        var imageCost = TimeSpan.FromMilliseconds(400);
        var section = report.Section("2. Four variations: batched vs one call per image");
        section.AppendLine(CultureInfo.InvariantCulture, $"AUTOMATIC1111 stand-ins that run one job at a time (the real server's queue lock) and cost {callCost.TotalMilliseconds:0} ms per call + {imageCost.TotalMilliseconds:0} ms per image, so one image takes {(callCost + imageCost).TotalMilliseconds:0} ms and a batch of 4 on one server {(callCost + 4 * imageCost).TotalMilliseconds:0} ms. **App** = `POST /api/media/generate-image-variations` through the app (one batch per server, split over the pool). **Naive** = the harness's own client making one txt2img call per image, all four at once, round-robin over the servers (the best a one-call-per-image design can do). Wall-clock medians of {o.Reps} runs.");
        section.AppendLine();
        section.AppendLine("| servers | app: 1 image | app: 4 batched | naive: 4 separate calls | app 4 / app 1 | naive 4 / app 1 |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var servers in new[] { 1, 2, 4 })
        {
            var gpus = new List<GpuStandIn>();
            try
            {
                for (var i = 0; i < servers; i++)
                {
                    gpus.Add(await GpuStandIn.StartAsync(new GpuStandIn { CallCost = callCost, ImageCost = imageCost, Exclusive = true }));
                }
                using var dir = new TempDir();
                await using var app = await StartAppAsync(dir, new()
                {
                    ["Images:Providers"] = "automatic1111",
                    ["Images:Automatic1111:BaseUrls"] = string.Join(',', gpus.Select(g => g.BaseUrl)),
                    ["Images:MaxVariations"] = "8",
                });
                var taskId = await app.CreateTaskAsync("Variations of a lighthouse", 1);
                await app.WaitForStatusAsync(taskId, "awaiting_approval");
                await GenerateAsync(app, taskId, 1); // warm-up

                var one = new List<double>();
                var four = new List<double>();
                var naive = new List<double>();
                using var naiveHttp = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
                for (var r = 0; r < o.Reps; r++)
                {
                    Log($"variations: {servers} server(s), run {r + 1}/{o.Reps}");
                    one.Add(await GenerateAsync(app, taskId, 1));
                    four.Add(await GenerateAsync(app, taskId, 4));
                    naive.Add(await NaiveAsync(naiveHttp, gpus, 4));
                }
                var (m1, m4, mn) = (Stats.Median(one), Stats.Median(four), Stats.Median(naive));
                section.AppendLine(CultureInfo.InvariantCulture,
                    $"| {servers} | {Report.Ms(m1)} | {Report.Ms(m4)} | {Report.Ms(mn)} | {m4 / m1:0.00}× | {mn / m1:0.00}× |");
                if (servers == 4)
                {
                    report.Row("4 variations on 4 servers vs 1 image (app, batched)", $"{m4 / m1:0.00}× ({Report.Ms(m4)} vs {Report.Ms(m1)})", "≤ 1.3×", m4 / m1 <= 1.3);
                }
                if (servers == 1)
                {
                    report.Row("4 variations on 1 server: batched vs one call per image", $"{Report.Ms(m4)} vs {Report.Ms(mn)} ({mn / m4:0.00}× faster)", "batched faster", m4 < mn);
                }
            }
            finally
            {
                foreach (var g in gpus)
                {
                    await g.DisposeAsync();
                }
            }
        }
    }

    private static async Task<double> GenerateAsync(AppProcess app, string taskId, int count)
    {
        var watch = Stopwatch.StartNew();
        var result = await app.PostJsonAsync("/api/media/generate-image-variations",
            new Dictionary<string, object> { ["task_id"] = taskId, ["prompt"] = "a lighthouse at dawn", ["num_variations"] = count });
        var elapsed = watch.Elapsed.TotalMilliseconds;
        var made = result["variations"]?.AsArray().Count ?? result["images"]?.AsArray().Count ?? -1;
        if (made != count && made != -1)
        {
            throw new InvalidOperationException($"Asked for {count} variations, got {made}.");
        }
        return elapsed;
    }

    /// <summary>The naive design: one txt2img call per image, all at once, round-robin over the servers.</summary>
    private static async Task<double> NaiveAsync(HttpClient http, List<GpuStandIn> gpus, int count)
    {
        var watch = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, count).Select(async i =>
        {
            using var response = await http.PostAsJsonAsync(gpus[i % gpus.Count].BaseUrl + "/sdapi/v1/txt2img", new Dictionary<string, object>
            {
                ["prompt"] = "a lighthouse at dawn", ["batch_size"] = 1, ["n_iter"] = 1, ["steps"] = 30, ["width"] = 1024, ["height"] = 1024,
            });
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<JsonObject>();
            return Convert.FromBase64String(body!["images"]![0]!.GetValue<string>());
        });
        var images = await Task.WhenAll(calls);
        if (images.Any(i => i.Length == 0))
        {
            throw new InvalidOperationException("The stand-in returned an empty image.");
        }
        return watch.Elapsed.TotalMilliseconds;
    }

    // 3. Public read path ------------------------------------------------------------------------------

    public async Task ReadPathAsync()
    {
        var section = report.Section("3. Public read path");
        section.AppendLine(CultureInfo.InvariantCulture, $"`{(Load.WrkAvailable ? "wrk" : "in-process load")}` with {o.Connections} connections for {o.LoadDuration.TotalSeconds:0} s per run (after a warm-up run), alternating app and bare endpoint, {o.Reps} runs each; medians. The bare endpoint is Kestrel in the harness answering the same path with the same bytes and content type from memory. 5 published posts; the list is `/api/posts` (first page, 5 posts).");
        section.AppendLine();
        section.AppendLine("| database | path | bytes | app req/s | app p99 | bare req/s | bare p99 | app / bare |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        var missing = new List<string>();
        foreach (var provider in new[] { "sqlite", "postgres" })
        {
            await using var pg = provider == "postgres" ? await Postgres.StartAsync("proofsheet_bench") : null;
            using var dir = new TempDir();
            var settings = new Dictionary<string, string> { ["Database:Provider"] = provider };
            if (pg is not null)
            {
                settings["ConnectionStrings:Default"] = pg.ConnectionString;
            }
            await using var app = await StartAppAsync(dir, settings);
            Log($"read path ({provider}): publishing posts");
            string slug = "";
            foreach (var topic in new[] { "Making muffins", "Pruning roses", "Tuning a bicycle", "Brewing green tea", "Reading a map" })
            {
                slug = await PublishAsync(app, topic);
            }
            var pages = new Dictionary<string, BareServer.Page>();
            foreach (var template in o.ReadPaths)
            {
                var path = template.Replace("{slug}", slug, StringComparison.Ordinal);
                using var response = await app.Http.GetAsync(path);
                if (!response.IsSuccessStatusCode)
                {
                    missing.Add($"`{template}` answered {(int)response.StatusCode} on {provider}");
                    continue;
                }
                pages[path] = new BareServer.Page(await response.Content.ReadAsByteArrayAsync(), response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream");
            }
            await using var bare = await BareServer.StartAsync(pages);
            foreach (var (path, page) in pages)
            {
                Log($"read path ({provider}): {path}");
                await Load.RunAsync(app.BaseUrl + path, o.Connections, TimeSpan.FromSeconds(2));
                await Load.RunAsync(bare.BaseUrl + path, o.Connections, TimeSpan.FromSeconds(2));
                var appRuns = new List<LoadResult>();
                var bareRuns = new List<LoadResult>();
                for (var r = 0; r < o.Reps; r++)
                {
                    appRuns.Add(await Load.RunAsync(app.BaseUrl + path, o.Connections, o.LoadDuration));
                    bareRuns.Add(await Load.RunAsync(bare.BaseUrl + path, o.Connections, o.LoadDuration));
                }
                if (appRuns.Sum(x => x.Errors) + bareRuns.Sum(x => x.Errors) > 0)
                {
                    throw new InvalidOperationException($"Errors under load on {path}: app {appRuns.Sum(x => x.Errors)}, bare {bareRuns.Sum(x => x.Errors)}.");
                }
                var (appRps, bareRps) = (Stats.Median(appRuns.Select(x => x.RequestsPerSecond)), Stats.Median(bareRuns.Select(x => x.RequestsPerSecond)));
                var shown = path.Replace(slug, "{slug}", StringComparison.Ordinal);
                section.AppendLine(CultureInfo.InvariantCulture,
                    $"| {provider} | `{shown}` | {page.Body.Length} | {Report.N(appRps)} | {Report.Ms(Stats.Median(appRuns.Select(x => x.P99Ms)))} | {Report.N(bareRps)} | {Report.Ms(Stats.Median(bareRuns.Select(x => x.P99Ms)))} | {appRps / bareRps:P0} |");
                report.Row($"Read `{shown}` on {provider}, throughput vs bare Kestrel", $"{appRps / bareRps:P0} ({Report.N(appRps)} vs {Report.N(bareRps)} req/s)", "≥ 80%", appRps / bareRps >= 0.8);
            }
        }
        if (missing.Count > 0)
        {
            section.AppendLine();
            section.AppendLine("Not measured (not served by this build): " + string.Join("; ", missing.Distinct()) + ". The harness measures every path given with `--read-paths` that answers 200.");
        }
    }

    /// <summary>Creates a task (offline writer, title-card images), approves its first candidate and waits until the post is published.</summary>
    private static async Task<string> PublishAsync(AppProcess app, string topic)
    {
        var id = await app.CreateTaskAsync(topic, 1);
        await app.WaitForStatusAsync(id, "awaiting_approval");
        await app.PostJsonAsync($"/api/tasks/{id}/approve", new Dictionary<string, object> { ["index"] = 1 });
        await app.WaitForStatusAsync(id, "published");
        var task = await app.GetTaskAsync(id);
        return task["post"]?["slug"]?.GetValue<string>()
            ?? task["slug"]?.GetValue<string>()
            ?? throw new InvalidOperationException("The published task names no slug: " + task.ToJsonString());
    }

    // 4. Memory ----------------------------------------------------------------------------------------

    public async Task MemoryAsync()
    {
        var imageBytes = 25L * 1024 * 1024;
        var large = Proofsheet.Testing.Png.Large(imageBytes);
        await using var gpu = await GpuStandIn.StartAsync(new GpuStandIn { Exclusive = false, LargeImage = large });
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        var section = report.Section("4. Memory");
        section.AppendLine(CultureInfo.InvariantCulture, $"Resident memory of the app process from `/proc/<pid>/status`. **Idle**: VmRSS 3 s after `/health/ready`. **Approval**: an AUTOMATIC1111 stand-in returns a {Report.Mb(large.Length)} PNG (noise, stored uncompressed) as the only candidate; once the task awaits approval and has been idle for 1 s, VmRSS is read (before), then sampled about every millisecond from `POST /approve` until the task is `published`; growth = peak − before. Generation itself holds the image as `byte[]` by design, so the peak since start (VmHWM) is shown apart. {o.Reps} approvals per store; medians.");
        section.AppendLine();
        section.AppendLine("| store | idle VmRSS | before approval | peak during approval | growth | image | VmHWM since start |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        var idles = new List<long>();
        foreach (var store in new[] { "local", "cloudinary" })
        {
            using var dir = new TempDir();
            var settings = new Dictionary<string, string>
            {
                ["Images:Providers"] = "automatic1111",
                ["Images:Automatic1111:BaseUrls"] = gpu.BaseUrl,
                ["Publishing:Provider"] = store,
            };
            if (store == "cloudinary")
            {
                settings["Publishing:Cloudinary:BaseUrl"] = cloudinary.BaseUrl;
                settings["Publishing:Cloudinary:CloudName"] = CloudinaryStandIn.CloudName;
                settings["Publishing:Cloudinary:ApiKey"] = CloudinaryStandIn.ApiKey;
                settings["Publishing:Cloudinary:ApiSecret"] = CloudinaryStandIn.ApiSecret;
            }
            await using var app = await StartAppAsync(dir, settings);
            await Task.Delay(3000);
            var idle = app.Memory().Rss;
            idles.Add(idle);
            var before = new List<long>();
            var peaks = new List<long>();
            for (var r = 0; r < o.Reps; r++)
            {
                Log($"memory ({store}): approval {r + 1}/{o.Reps}");
                var id = await app.CreateTaskAsync($"A very large render number {r + 1}", 1);
                await app.WaitForStatusAsync(id, "awaiting_approval");
                await Task.Delay(1000);
                var baseline = app.Memory().Rss;
                using var sampler = new RssSampler(app.Pid);
                await app.PostJsonAsync($"/api/tasks/{id}/approve", new Dictionary<string, object> { ["index"] = 1 });
                await app.WaitForStatusAsync(id, "published");
                var peak = sampler.Stop();
                before.Add(baseline);
                peaks.Add(peak);
            }
            var growth = Stats.Median(peaks.Zip(before, (p, b) => (double)(p - b)));
            var hwm = app.Memory().Hwm;
            section.AppendLine(CultureInfo.InvariantCulture,
                $"| {store} | {Report.Mb(idle)} | {Report.Mb((long)Stats.Median(before.Select(b => (double)b)))} | {Report.Mb((long)Stats.Median(peaks.Select(p => (double)p)))} | {Report.Mb((long)growth)} | {Report.Mb(large.Length)} | {Report.Mb(hwm)} |");
            report.Row($"Memory: peak growth while approving a {Report.Mb(large.Length)} image ({store})", Report.Mb((long)growth), "< image size", growth < large.Length);
        }
        var idleMedian = (long)Stats.Median(idles.Select(i => (double)i));
        report.Row("Memory: idle after start", Report.Mb(idleMedian), "< 120 MB", idleMedian < 120L * 1024 * 1024);
    }

    // 5. Start-up --------------------------------------------------------------------------------------

    public async Task StartupAsync()
    {
        var section = report.Section("5. Start-up");
        section.AppendLine(CultureInfo.InvariantCulture, $"From `Process.Start` of the app to the first 200 from `/health/ready` (polled every 5 ms), SQLite, embedded defaults. **First start**: empty data folder (creates the database, applies the migrations). **Restart**: the same folder again. **Build**: the Release build's apphost (what `dotnet run -c Release` starts, without the SDK's own build check); **published**: `dotnet publish -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true`, as docs/deploy.md says to run it (bench/run.sh publishes it to bench/.published). **Idle**: VmRSS 3 s after `/health/ready` on a restart. {Math.Max(5, o.Reps * 2)} runs each.");
        section.AppendLine();
        section.AppendLine("| app | case | median | min | max | load avg |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- |");
        await StartupOfAsync(section, "build", o.AppPath, "< 1500 ms", 1500);
        if (o.PublishedPath is { } published && File.Exists(published))
        {
            var idle = await StartupOfAsync(section, "published (R2R)", published, "< 1000 ms", 1000);
            report.Row("Memory: idle after start (published app)", Report.Mb(idle), "< 120 MB", idle < 120L * 1024 * 1024);
        }
        else
        {
            section.AppendLine("| published (R2R) | not measured: no published app (bench/run.sh makes one) | | | | |");
        }
    }

    /// <returns>The median idle VmRSS after a restart.</returns>
    private async Task<long> StartupOfAsync(System.Text.StringBuilder section, string name, string appPath, string target, double targetMs)
    {
        var fresh = new List<double>();
        var again = new List<double>();
        var idle = new List<double>();
        var runs = Math.Max(5, o.Reps * 2);
        for (var r = 0; r < runs; r++)
        {
            Log($"start-up ({name}): run {r + 1}/{runs}");
            using var dir = new TempDir();
            await using (var first = await AppProcess.StartAsync(appPath, dir.Path, new Dictionary<string, string>()))
            {
                fresh.Add(first.StartedIn.TotalMilliseconds);
            }
            await using var second = await AppProcess.StartAsync(appPath, dir.Path, new Dictionary<string, string>());
            again.Add(second.StartedIn.TotalMilliseconds);
            if (r < 3)
            {
                await Task.Delay(3000);
                idle.Add(second.Memory().Rss);
            }
        }
        var load = Load1();
        section.AppendLine(CultureInfo.InvariantCulture, $"| {name} | first start | {Report.Ms(Stats.Median(fresh))} | {Report.Ms(fresh.Min())} | {Report.Ms(fresh.Max())} | {load} |");
        section.AppendLine(CultureInfo.InvariantCulture, $"| {name} | restart | {Report.Ms(Stats.Median(again))} | {Report.Ms(again.Min())} | {Report.Ms(again.Max())} | {load} |");
        section.AppendLine(CultureInfo.InvariantCulture, $"| {name} | idle VmRSS after restart | {Report.Mb((long)Stats.Median(idle))} | {Report.Mb((long)idle.Min())} | {Report.Mb((long)idle.Max())} | {load} |");
        report.Row($"Start-up to /health/ready ({name}, SQLite, restart)", Report.Ms(Stats.Median(again)), target, Stats.Median(again) < targetMs);
        report.Row($"Start-up to /health/ready ({name}, SQLite, first start)", Report.Ms(Stats.Median(fresh)), target, Stats.Median(fresh) < targetMs);
        return (long)Stats.Median(idle);
    }
}

/// <summary>Reads VmRSS about every millisecond on its own thread and keeps the highest value.</summary>
public sealed class RssSampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _peak;

    public RssSampler(int pid)
    {
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                try
                {
                    var rss = AppProcess.ReadMemory(pid).Rss;
                    if (rss > _peak)
                    {
                        _peak = rss;
                    }
                }
                catch (IOException)
                {
                    return;
                }
                Thread.Sleep(1);
            }
        }) { IsBackground = true, Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    public long Stop()
    {
        _stop = true;
        _thread.Join();
        return _peak;
    }

    public void Dispose()
    {
        if (!_stop)
        {
            Stop();
        }
    }
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("proofsheet-bench-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
