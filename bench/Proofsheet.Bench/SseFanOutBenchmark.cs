using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Proofsheet.Bench;

public sealed partial class Benchmarks
{
    private const int Watchers = 200;
    private static long _allConnectedAt;

    /// <summary>
    /// 200 clients follow one task's event stream (<c>/api/tasks/{id}/events</c>, the stream the Hub's pages
    /// use too) while it generates 4 images. For every event, each watcher's delay is its arrival time minus
    /// the first watcher's: what fan-out adds on top of the first delivery.
    /// </summary>
    public async Task SseFanOutAsync()
    {
        await using var gpu = await GpuStandIn.StartAsync(new GpuStandIn { Exclusive = false, CallCost = TimeSpan.FromSeconds(2), ImageCost = TimeSpan.FromMilliseconds(250) });
        using var dir = new TempDir();
        await using var app = await StartAppAsync(dir, new Dictionary<string, string>
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = gpu.BaseUrl,
        });
        var delays = new List<double>();
        var events = 0;
        for (var r = 0; r < Math.Max(1, o.Reps); r++)
        {
            Log($"sse fan-out: task {r + 1}");
            var id = await app.CreateTaskAsync($"Fan-out {r + 1}", 4);
            var arrivals = new ConcurrentDictionary<string, ConcurrentBag<long>>();
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var connected = new CountdownEvent(Watchers);
            var watchers = Enumerable.Range(0, Watchers).Select(_ => Task.Run(() => WatchAsync(app, id, arrivals, connected, stop.Token))).ToList();
            await Task.WhenAll(watchers);
            var allConnected = Volatile.Read(ref _allConnectedAt);
            foreach (var (_, times) in arrivals)
            {
                var first = times.Min();
                // Only events published once every watcher was connected: the catch-up a stream sends on
                // connect arrives as far apart as the connections were made, which is not fan-out.
                if (times.Count < Watchers || first < allConnected)
                {
                    continue;
                }
                delays.AddRange(times.Select(t => Stopwatch.GetElapsedTime(first, t).TotalMilliseconds));
                events++;
            }
        }
        var p99 = Stats.Percentile(delays, 0.99);
        var section = report.Section("8. Event stream fan-out");
        section.AppendLine(CultureInfo.InvariantCulture, $"{Watchers} clients follow one task's event stream over HTTP/1.1 while it generates 4 images (AUTOMATIC1111 stand-in); for each event published after all of them were connected (the catch-up each stream sends on connect is left out), a watcher's delay is its arrival minus the first watcher's arrival. {events} events, {delays.Count} deliveries.");
        section.AppendLine();
        section.AppendLine("| watchers | events | p50 | p99 | max | load avg |");
        section.AppendLine("| --- | --- | --- | --- | --- | --- |");
        section.AppendLine(CultureInfo.InvariantCulture, $"| {Watchers} | {events} | {Report.Ms(Stats.Median(delays))} | {Report.Ms(p99)} | {Report.Ms(delays.Max())} | {Load1()} |");
        report.Row($"Event stream: {Watchers} watchers of one task, delivery spread p99", Report.Ms(p99), "< 100 ms", p99 < 100);
    }

    private static async Task WatchAsync(AppProcess app, string id, ConcurrentDictionary<string, ConcurrentBag<long>> arrivals, CountdownEvent connected, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/tasks/{id}/events");
        using var response = await app.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        response.EnsureSuccessStatusCode();
        if (connected.Signal())
        {
            Volatile.Write(ref _allConnectedAt, Stopwatch.GetTimestamp());
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? type = null;
        // The same event can come twice (two identical progress ticks): the n-th of each is one event.
        var seen = new Dictionary<string, int>();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            var now = Stopwatch.GetTimestamp();
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                type = line[6..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                var key = type + line;
                seen[key] = seen.GetValueOrDefault(key) + 1;
                arrivals.GetOrAdd($"{key}#{seen[key]}", _ => []).Add(now);
                if (type == "status" && line.Contains("awaiting_approval", StringComparison.Ordinal))
                {
                    return;
                }
            }
        }
    }
}
