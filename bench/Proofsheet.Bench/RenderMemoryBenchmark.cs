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
    /// counted as the render's. For each GC setting.
    /// </summary>
    public async Task RenderMemoryAsync()
    {
        var batch = Enumerable.Range(1, 4).Select(i => Proofsheet.Testing.Png.Render(1024, i)).ToArray();
        var batchBytes = batch.Sum(b => (long)b.Length);
        var large = Proofsheet.Testing.Png.Large(25L * 1024 * 1024);
        await using var gpu = await GpuStandIn.StartAsync(new GpuStandIn { Exclusive = false });
        var section = report.Section("4b. Memory during and after a render");
        section.AppendLine(CultureInfo.InvariantCulture, $"The AUTOMATIC1111 stand-in answers a 4-variation task with four 1024² renders ({Report.Mb(batchBytes)} of PNG, base64 in JSON as the real server sends them), then a 1-variation task with one {Report.Mb(large.Length)} PNG. **Idle**: VmRSS 3 s after `/health/ready`. **Peak**: highest VmRSS (sampled every ms) from `POST /api/tasks` until the task awaits approval. **After 10 s**: VmRSS 10 s after that. **Approve → published**: then `POST /approve` of the batch's first image until the task's event stream says `published` (local store; the web copies and the social card are made with libvips in that time); **published, after 10 s**: VmRSS 10 s after that. Targets: batch peak < idle + 4 × {Report.Mb(batchBytes)}; after 10 s ≤ idle + 30 MB. Release build, SQLite, local preview store; {o.Reps} round(s) of batch, 25 MB render and approval per setting, one after the other in the same process, medians; the GC setting is given through `DOTNET_gcServer` / `DOTNET_GCConserveMemory`. Every growth is against the idle figure.");
        section.AppendLine();
        section.AppendLine("| GC setting | idle | batch peak | batch after 10 s | 25 MB peak | 25 MB after 10 s | published, after 10 s | approve → published p50 | load avg |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (name, env) in GcSettings)
        {
            using var dir = new TempDir();
            var settings = new Dictionary<string, string>(env)
            {
                ["Images:Providers"] = "automatic1111",
                ["Images:Automatic1111:BaseUrls"] = gpu.BaseUrl,
            };
            await using var app = await StartAppAsync(dir, settings);
            await Task.Delay(3000);
            var idle = app.Memory().Rss;
            LogParts(app.Pid, name, "idle");
            var approvals = new List<double>();
            var published = new List<long>();
            var results = new Dictionary<string, (List<long> Peaks, List<long> After)> { ["batch"] = ([], []), ["large"] = ([], []) };
            for (var r = 0; r < o.Reps; r++)
            {
                string? batchTask = null;
                foreach (var kind in new[] { "batch", "large" })
                {
                    Log($"render memory ({name}): {kind} {r + 1}/{o.Reps}");
                    gpu.Serve(kind == "batch" ? batch : [large]);
                    using var sampler = new RssSampler(app.Pid);
                    var id = await app.CreateTaskAsync($"Render memory {kind} {r + 1}", kind == "batch" ? 4 : 1);
                    await app.WaitForStatusAsync(id, "awaiting_approval");
                    results[kind].Peaks.Add(sampler.Stop());
                    await Task.Delay(10_000);
                    results[kind].After.Add(app.Memory().Rss);
                    LogParts(app.Pid, name, $"{kind} after 10 s");
                    batchTask ??= id;
                }
                // Approve-to-published with the local store, for an SDXL-sized image.
                var approving = System.Diagnostics.Stopwatch.GetTimestamp();
                await app.PostJsonAsync($"/api/tasks/{batchTask}/approve", new Dictionary<string, object> { ["index"] = 1 });
                await app.WaitForStatusAsync(batchTask!, "published");
                approvals.Add(System.Diagnostics.Stopwatch.GetElapsedTime(approving).TotalMilliseconds);
                await Task.Delay(10_000);
                published.Add(app.Memory().Rss);
                LogParts(app.Pid, name, "published, after 10 s");
            }
            long Med(List<long> values) => (long)Stats.Median(values.Select(v => (double)v));
            var (bp, ba, lp, la, pa) = (Med(results["batch"].Peaks), Med(results["batch"].After), Med(results["large"].Peaks), Med(results["large"].After), Med(published));
            var load = Load1();
            section.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {Report.Mb(idle)} | {Report.Mb(bp)} (+{Report.Mb(bp - idle)}) | {Report.Mb(ba)} (+{Report.Mb(ba - idle)}) | {Report.Mb(lp)} (+{Report.Mb(lp - idle)}) | {Report.Mb(la)} (+{Report.Mb(la - idle)}) | {Report.Mb(pa)} (+{Report.Mb(pa - idle)}) | {Report.Ms(Stats.Median(approvals))} | {load} |");
            if (name.EndsWith("(shipped)", StringComparison.Ordinal))
            {
                report.Row("Memory: peak growth during a 4-image batch", $"+{Report.Mb(bp - idle)} (idle {Report.Mb(idle)})", $"< 4 × {Report.Mb(batchBytes)}", bp - idle < 4 * batchBytes);
                report.Row("Memory: 10 s after the batch", $"+{Report.Mb(ba - idle)}", "≤ idle + 30 MB", ba - idle <= 30L * 1024 * 1024);
                report.Row($"Memory: 10 s after the batch and a {Report.Mb(large.Length)} render", $"+{Report.Mb(la - idle)} (peak +{Report.Mb(lp - idle)})", "≤ idle + 30 MB", la - idle <= 30L * 1024 * 1024);
                report.Row("Approve to published (local store, 1024² PNG)", Report.Ms(Stats.Median(approvals)), "p50 < 150 ms", Stats.Median(approvals) < 150);
            }
        }
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
