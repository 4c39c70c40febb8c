using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Proofsheet.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Reliability;

/// <summary>
/// Many clients creating tasks and reading posts at once against the real app process: no errors
/// and no lost tasks. The short run is part of the suite and asserts only that; with
/// <c>PROOFSHEET_LONG=1</c> it is 200 clients for a minute and prints throughput and latency
/// (docs/reliability.md). Latency is reported, never asserted.
/// </summary>
public abstract class LoadTests(TestDatabase database, ITestOutputHelper output)
{
    [Fact]
    public async Task Many_clients_creating_and_reading_get_no_errors_and_lose_no_task()
    {
        var longRun = Environment.GetEnvironmentVariable("PROOFSHEET_LONG") == "1";
        var clients = longRun ? 200 : 50;
        var duration = longRun ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(10);

        var folder = Directory.CreateTempSubdirectory("proofsheet-load-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Database:Provider"] = database.Provider,
            ["ConnectionStrings:Default"] = await database.CreateAsync(Path.Combine(folder, "data")),
            ["Auth:ApiKeys"] = TestApp.ApiKey,
            ["RateLimits:Generation:PermitLimit"] = "1000000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        try
        {
            await using var app = await AppProcess.StartAsync(settings);
            using var http = app.Client(maxConnections: clients + 8);
            var created = new ConcurrentBag<string>();
            var errors = new ConcurrentQueue<string>();
            var latencies = new ConcurrentDictionary<string, ConcurrentBag<double>>();
            var end = DateTime.UtcNow + duration;

            async Task TimedAsync(string kind, Func<Task<HttpResponseMessage>> send, HttpStatusCode expected, Action<HttpResponseMessage>? then = null)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    using var response = await send();
                    var body = await response.Content.ReadAsStringAsync();
                    latencies.GetOrAdd(kind, _ => []).Add(watch.Elapsed.TotalMilliseconds);
                    if (response.StatusCode != expected)
                    {
                        errors.Enqueue($"{kind}: {(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
                        return;
                    }
                    then?.Invoke(response);
                    if (kind == "create")
                    {
                        created.Add(JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    errors.Enqueue($"{kind}: {ex.Message}");
                }
            }

            async Task ClientAsync(int n)
            {
                for (var i = 0; DateTime.UtcNow < end; i++)
                {
                    string? id = null;
                    await TimedAsync("create", () => http.PostAsJsonAsync("/api/tasks", new { topic = $"Write about load {n}-{i}", num_variations = 1 }), HttpStatusCode.Accepted);
                    id = created.LastOrDefault();
                    await TimedAsync("read task", () => http.GetAsync(id is null ? "/api/tasks?limit=5" : $"/api/tasks/{id}"), HttpStatusCode.OK);
                    await TimedAsync("read posts", () => http.GetAsync("/api/posts"), HttpStatusCode.OK);
                    await TimedAsync("list tasks", () => http.GetAsync("/api/tasks?limit=20"), HttpStatusCode.OK);
                }
            }

            var total = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(n => Task.Run(() => ClientAsync(n))));
            var seconds = total.Elapsed.TotalSeconds;

            // Every accepted task is there and in a legal, non-failed status.
            var missing = new ConcurrentQueue<string>();
            await Parallel.ForEachAsync(created, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, ct) =>
            {
                using var response = await http.GetAsync($"/api/tasks/{id}", ct);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    missing.Enqueue($"{id}: {(int)response.StatusCode}");
                    return;
                }
                var status = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("status").GetString();
                if (status is not ("queued" or "writing" or "generating_images" or "awaiting_approval"))
                {
                    missing.Enqueue($"{id}: {status}");
                }
            });

            var all = latencies.Values.SelectMany(l => l).ToList();
            output.WriteLine($"{database.Provider}: {clients} clients for {seconds:0.0} s: {all.Count} requests, {all.Count / seconds:0} req/s, " +
                $"{created.Count} tasks created ({created.Count / seconds:0.0}/s), {errors.Count} errors, {missing.Count} lost or failed");
            foreach (var (kind, values) in latencies.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                var sorted = values.Order().ToList();
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {kind,-11} n={sorted.Count,6}  p50={Percentile(sorted, 0.50),7:0.0} ms  p99={Percentile(sorted, 0.99),7:0.0} ms  max={sorted[^1],7:0.0} ms"));
            }

            // The app's own warnings say why a request failed (a 503's reason is logged, not answered).
            var lines = app.Output.Split('\n');
            var warnings = lines.Select((line, i) => (line, i))
                .Where(l => l.line.StartsWith("warn:", StringComparison.Ordinal) || l.line.StartsWith("fail:", StringComparison.Ordinal))
                .Take(5)
                .SelectMany(l => lines.Skip(l.i).Take(3));
            Assert.True(errors.IsEmpty, $"{errors.Count} errors, e.g.\n" + string.Join("\n", errors.Take(5)) + "\nThe app logged:\n" + string.Join("\n", warnings));
            Assert.True(missing.IsEmpty, $"{missing.Count} tasks lost or failed, e.g.\n" + string.Join("\n", missing.Take(5)));
            Assert.True(created.Count >= clients, $"only {created.Count} tasks created");
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

public sealed class SqliteLoadTests(ITestOutputHelper output) : LoadTests(new SqliteDatabase(), output);

public sealed class PostgresLoadTests(ITestOutputHelper output) : LoadTests(new PostgresDatabase(), output);
