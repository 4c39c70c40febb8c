using System.Diagnostics;
using System.Globalization;

namespace Proofsheet.Bench;

/// <summary>Throughput through 1, 2 and 3 nodes on one PostgreSQL (issue: several nodes).</summary>
public sealed partial class Benchmarks
{
    public async Task NodesAsync()
    {
        const int tasks = 60;
        const int variations = 2;
        const int servers = 48;
        var imageCost = TimeSpan.FromMilliseconds(400);
        var section = report.Section("6. Tasks per minute through 1, 2 and 3 nodes");
        section.AppendLine(CultureInfo.InvariantCulture, $"{tasks} tasks of {variations} images created at once, round robin over the nodes, timed until every one awaits approval. All nodes on one PostgreSQL (this harness's own cluster), writer `outline`, an AUTOMATIC1111 stand-in pool of {servers} servers that each run one job at a time ({imageCost.TotalMilliseconds:0} ms per image), so the pool is not the bottleneck; `Pipeline:MaxConcurrency` 8 per node. Release build, each node its own process, on this machine's 2 cores.");
        section.AppendLine();
        section.AppendLine("| nodes | wall time | tasks per minute | vs 1 node |");
        section.AppendLine("| --- | --- | --- | --- |");
        await using var gpu = await GpuStandIn.StartAsync(new GpuStandIn { ImageCost = imageCost, Exclusive = true, Ports = servers });
        double? single = null;
        foreach (var count in new[] { 1, 2, 3 })
        {
            await using var pg = await Postgres.StartAsync("proofsheet_nodes");
            var dirs = Enumerable.Range(0, count).Select(_ => new TempDir()).ToList();
            var nodes = new List<AppProcess>();
            try
            {
                foreach (var dir in dirs)
                {
                    nodes.Add(await StartAppAsync(dir, new()
                    {
                        ["Database:Provider"] = "postgres",
                        ["ConnectionStrings:Default"] = pg.ConnectionString,
                        ["Images:Providers"] = "automatic1111",
                        ["Images:Automatic1111:BaseUrls"] = string.Join(',', gpu.BaseUrls),
                        ["Pipeline:MaxConcurrency"] = "8",
                        ["Pipeline:PollInterval"] = "00:00:00.500",
                        // One API key drives every node, and the generation limit now counts across them.
                        ["RateLimits:Generation:PermitLimit"] = "1000000",
                    }));
                }
                Log($"nodes: {count}, warming up");
                await Task.WhenAll(nodes.Select(async n => await n.WaitForStatusAsync(await n.CreateTaskAsync("Warm ovens", variations), "awaiting_approval")));

                Log($"nodes: {count}, {tasks} tasks");
                var watch = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, tasks).Select(async i =>
                {
                    var node = nodes[i % nodes.Count];
                    await node.WaitForStatusAsync(await node.CreateTaskAsync($"Shared ovens {i}", variations), "awaiting_approval");
                }));
                var perMinute = tasks / watch.Elapsed.TotalMinutes;
                single ??= perMinute;
                section.AppendLine(CultureInfo.InvariantCulture, $"| {count} | {Report.Ms(watch.Elapsed.TotalMilliseconds)} | {perMinute:0} | {perMinute / single.Value:0.00}× |");
                report.Row($"Tasks per minute through {count} node(s)", $"{perMinute:0} ({perMinute / single.Value:0.00}× one node)", "recorded", null);
            }
            finally
            {
                foreach (var node in nodes)
                {
                    await node.DisposeAsync();
                }
                dirs.ForEach(d => d.Dispose());
            }
        }
    }
}
