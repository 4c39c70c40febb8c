using System.Globalization;

namespace Proofsheet.Bench;

public sealed partial class Benchmarks
{
    /// <summary>The garbage collector settings compared; the first is what the app ships with (Proofsheet.csproj).</summary>
    private static readonly (string Name, Dictionary<string, string> Env)[] GcSettings =
    [
        ("workstation, concurrent, ConserveMemory 5 (shipped)", new() { ["DOTNET_gcServer"] = "0", ["DOTNET_GCConserveMemory"] = "5" }),
        ("workstation, concurrent", new() { ["DOTNET_gcServer"] = "0", ["DOTNET_GCConserveMemory"] = "0" }),
        ("server (DATAS)", new() { ["DOTNET_gcServer"] = "1", ["DOTNET_GCConserveMemory"] = "0" }),
    ];

    /// <summary>
    /// Memory during and after a render: the AUTOMATIC1111 stand-in answers a 4-image task with four
    /// SDXL-sized PNGs (about 1.5 MB each), then a 1-image task with a 25 MB one. Peak = highest VmRSS from
    /// creating the task until it awaits approval; after = VmRSS 10 s later. Only then is the batch's first
    /// image approved, so the publishing step's libvips work (web copies) is measured on its own and not
    /// counted as the render's. The first round is measured against idle (the target); later rounds show
    /// whether the process keeps growing, and time warm publishes apart from the first. For each GC setting.
    /// </summary>
    public async Task RenderMemoryAsync()
    {
        var batch = Enumerable.Range(1, 4).Select(i => Proofsheet.Testing.Png.Render(1024, i)).ToArray();
        var batchBytes = batch.Sum(b => (long)b.Length);
        var large = Proofsheet.Testing.Png.Large(25L * 1024 * 1024);
        var rounds = Math.Max(2, o.Reps);
        await using var gpu = await GpuStandIn.StartAsync(new GpuStandIn { Exclusive = false });
        var section = report.Section("4b. Memory during and after a render");
        section.AppendLine(CultureInfo.InvariantCulture, $"The AUTOMATIC1111 stand-in answers a 4-variation task with four 1024² renders ({Report.Mb(batchBytes)} of PNG, base64 in JSON as the real server sends them), then a 1-variation task with one {Report.Mb(large.Length)} PNG; then the batch's first image is approved and published (local store: the web copies and the social card are made with libvips). That is one round; {rounds} rounds one after the other in the same process per GC setting (given through `DOTNET_gcServer` / `DOTNET_GCConserveMemory`). **Idle**: VmRSS 3 s after `/health/ready`. **Peak**: highest VmRSS (sampled every ms) from `POST /api/tasks` until the task awaits approval. **After 10 s**: VmRSS 10 s after that (after publishing: 10 s after the event stream says `published`). The memory columns are the first round against idle, which is what the targets speak of (batch peak < idle + 4 × {Report.Mb(batchBytes)}; after 10 s ≤ idle + 30 MB); **each later round** is the median growth of a whole later round (after publishing, against the round before), which stays near zero unless something leaks. **Approve → published**: `POST /approve` until the event stream says `published`; the first publish of a process (libvips loaded, its code compiled) apart from the later ones. Release build, SQLite, local preview store.");
        section.AppendLine();
        section.AppendLine("| GC setting | idle | batch peak | batch after 10 s | 25 MB peak | 25 MB after 10 s | published, after 10 s | each later round | approve → published: first, later p50 | load avg |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        var splits = new List<string>();
        foreach (var (name, env) in GcSettings)
        {
            using var dir = new TempDir();
            var settings = new Dictionary<string, string>(env)
            {
                ["Images:Providers"] = "automatic1111",
                ["Images:Automatic1111:BaseUrls"] = gpu.BaseUrl,
                // The harness reads the app's own timings of the publish step from /metrics.
                ["Metrics:Key"] = AppProcess.Key,
            };
            await using var app = await StartAppAsync(dir, settings);
            await Task.Delay(3000);
            var idle = app.Memory().Rss;
            LogParts(app.Pid, name, "idle");
            var approvals = new List<double>();
            var published = new List<long>();
            var publishSteps = new List<PublishStep>();
            var first = new Dictionary<string, (long Peak, long After)>();
            for (var r = 0; r < rounds; r++)
            {
                string? batchTask = null;
                foreach (var kind in new[] { "batch", "large" })
                {
                    Log($"render memory ({name}): {kind}, round {r + 1}/{rounds}");
                    gpu.Serve(kind == "batch" ? batch : [large]);
                    using var sampler = new RssSampler(app.Pid);
                    var id = await app.CreateTaskAsync($"Render memory {kind} {r + 1}", kind == "batch" ? 4 : 1);
                    await app.WaitForStatusAsync(id, "awaiting_approval");
                    var peak = sampler.Stop();
                    await Task.Delay(10_000);
                    first.TryAdd(kind, (peak, app.Memory().Rss));
                    LogParts(app.Pid, name, $"{kind} after 10 s");
                    batchTask ??= id;
                }
                var before = await PublishStep.ReadAsync(app);
                var approving = System.Diagnostics.Stopwatch.GetTimestamp();
                await app.PostJsonAsync($"/api/tasks/{batchTask}/approve", new Dictionary<string, object> { ["index"] = 1 });
                await app.WaitForStatusAsync(batchTask!, "published");
                approvals.Add(System.Diagnostics.Stopwatch.GetElapsedTime(approving).TotalMilliseconds);
                publishSteps.Add((await PublishStep.AfterAsync(app, before)).Minus(before));
                await Task.Delay(10_000);
                published.Add(app.Memory().Rss);
                LogParts(app.Pid, name, "published, after 10 s");
            }
            var (bp, ba) = first["batch"];
            var (lp, la) = first["large"];
            var pa = published[0];
            var perRound = (long)Stats.Median(published.Zip(published.Skip(1), (a, b) => (double)(b - a)));
            var later = Stats.Median(approvals.Skip(1));
            var load = Load1();
            section.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {Report.Mb(idle)} | {Report.Mb(bp)} (+{Report.Mb(bp - idle)}) | {Report.Mb(ba)} (+{Report.Mb(ba - idle)}) | {Report.Mb(lp)} (+{Report.Mb(lp - idle)}) | {Report.Mb(la)} (+{Report.Mb(la - idle)}) | {Report.Mb(pa)} (+{Report.Mb(pa - idle)}) | {Signed(perRound)} | {Report.Ms(approvals[0])}, {Report.Ms(later)} | {load} |");
            splits.Add($"| {name} | {publishSteps[0].Describe()} | {PublishStep.Median(publishSteps.Skip(1)).Describe()} |");
            if (name.EndsWith("(shipped)", StringComparison.Ordinal))
            {
                report.Row("Memory: peak growth during a 4-image batch", $"+{Report.Mb(bp - idle)} (idle {Report.Mb(idle)})", $"< 4 × {Report.Mb(batchBytes)}", bp - idle < 4 * batchBytes);
                report.Row("Memory: 10 s after the batch", $"+{Report.Mb(ba - idle)}", "≤ idle + 30 MB", ba - idle <= 30L * 1024 * 1024);
                report.Row($"Memory: 10 s after the batch and a {Report.Mb(large.Length)} render", $"+{Report.Mb(la - idle)} (peak +{Report.Mb(lp - idle)})", "≤ idle + 30 MB", la - idle <= 30L * 1024 * 1024);
                report.Row("Approve to published (local store, 1024² PNG), after the first", $"{Report.Ms(later)} (first {Report.Ms(approvals[0])})", "p50 < 150 ms", later < 150);
            }
        }
        section.AppendLine();
        section.AppendLine("Where the publish step's time went, from the app's own metrics (`/metrics`, read before and after each publish): how long the step waited for a runner, how long it took, and how much of that was its uploads to the store (five files, each written and flushed to disk). The rest of the step is reading the preview, making the web copies with libvips and the database commit; what approve → published adds beyond the wait and the step is the approve request and the event stream's delivery.");
        section.AppendLine();
        section.AppendLine("| GC setting | first publish: wait / step / uploads | later publishes, medians: wait / step / uploads |");
        section.AppendLine("| --- | --- | --- |");
        foreach (var line in splits)
        {
            section.AppendLine(line);
        }

        static string Signed(long bytes) => bytes < 0 ? "−" + Report.Mb(-bytes) : "+" + Report.Mb(bytes);
    }

    /// <summary>The publish step's totals in the app's metrics (seconds summed over every publish so far).</summary>
    private sealed record PublishStep(double Wait, double Step, double Uploads, double Steps)
    {
        /// <summary>The totals once the step after <paramref name="before"/> is counted: the step records its
        /// time as it returns, which can be just after the event stream said <c>published</c>.</summary>
        public static async Task<PublishStep> AfterAsync(AppProcess app, PublishStep before)
        {
            for (var attempt = 0; ; attempt++)
            {
                var now = await ReadAsync(app);
                if (now.Steps > before.Steps || attempt == 200)
                {
                    return now;
                }
                await Task.Delay(10);
            }
        }

        public static async Task<PublishStep> ReadAsync(AppProcess app)
        {
            var metrics = await app.Http.GetStringAsync("/metrics");
            double Sum(string metric, string label) => metrics.Split('\n')
                .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
            return new PublishStep(
                Sum("proofsheet_queue_wait_seconds_sum", "step=\"publishing\""),
                Sum("proofsheet_step_duration_seconds_sum", "step=\"publishing\""),
                Sum("proofsheet_backend_duration_seconds_sum", "kind=\"upload\""),
                Sum("proofsheet_step_duration_seconds_count", "step=\"publishing\""));
        }

        public PublishStep Minus(PublishStep before) => new(Wait - before.Wait, Step - before.Step, Uploads - before.Uploads, Steps - before.Steps);

        public static PublishStep Median(IEnumerable<PublishStep> steps)
        {
            var list = steps.ToList();
            return new PublishStep(Stats.Median(list.Select(s => s.Wait)), Stats.Median(list.Select(s => s.Step)), Stats.Median(list.Select(s => s.Uploads)), list.Count);
        }

        public string Describe() => $"{Report.Ms(Wait * 1000)} / {Report.Ms(Step * 1000)} / {Report.Ms(Uploads * 1000)}";
    }

    /// <summary>Where the resident memory is (heaps and stacks, mapped files, the runtime's shared mappings), in the log.</summary>
    private static void LogParts(int pid, string setting, string when)
    {
        var parts = File.ReadLines($"/proc/{pid}/status")
            .Where(l => l.StartsWith("Rss", StringComparison.Ordinal))
            .Select(l => string.Join(' ', l.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)));
        Log($"render memory ({setting}), {when}: {string.Join(", ", parts)}");
    }

    /// <summary>The one-minute load average now, to read each figure against.</summary>
    internal static string Load1() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
