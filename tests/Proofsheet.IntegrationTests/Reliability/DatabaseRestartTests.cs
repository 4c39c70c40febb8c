using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Proofsheet.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Reliability;

/// <summary>
/// PostgreSQL killed and started again while clients create and read tasks: requests during the
/// outage get a 503 problem with Retry-After (never a 500), every accepted task survives and
/// finishes once the database is back.
/// </summary>
public sealed class DatabaseRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Postgres_restarted_under_load_loses_no_task_and_answers_503_not_500_meanwhile()
    {
        using var cluster = await PostgresCluster.StartAsync();
        await using var app = await TestApp.StartAsync(new PostgresDatabase(cluster.ConnectionString));
        var accepted = new ConcurrentBag<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        var bad = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();

        async Task ClientAsync(int n)
        {
            using var client = app.Api();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var response = await client.PostAsJsonAsync("/api/tasks", new { topic = $"Write about restarts {n}-{i}", num_variations = 1 });
                await RecordAsync(response);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
                    accepted.Add(id);
                    await RecordAsync(await client.GetAsync($"/api/tasks/{id}"));
                }
                await RecordAsync(await client.GetAsync("/api/posts"));
                await Task.Delay(20);
            }
        }

        async Task RecordAsync(HttpResponseMessage response)
        {
            statuses.AddOrUpdate((int)response.StatusCode, 1, (_, c) => c + 1);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                if (response.Headers.RetryAfter is null || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    bad.Enqueue("503 without Retry-After or problem body");
                }
            }
            else if (!response.IsSuccessStatusCode)
            {
                bad.Enqueue($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri?.PathAndQuery}: {await response.Content.ReadAsStringAsync()}");
            }
        }

        var clients = Enumerable.Range(0, 8).Select(ClientAsync).ToList();
        await WaitUntilAsync(() => accepted.Count >= 10);
        var before = accepted.Count;
        await cluster.RestartAsync(TimeSpan.FromSeconds(2));
        await WaitUntilAsync(() => accepted.Count >= before + 10);
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        output.WriteLine($"{accepted.Count} tasks accepted; responses: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"))}");

        Assert.True(bad.IsEmpty, string.Join("\n", bad.Take(5)));
        foreach (var id in accepted)
        {
            await app.WaitForStatusAsync(id, "awaiting_approval", TimeSpan.FromSeconds(120));
        }
        app.DeleteFolder();
    }

    /// <summary>
    /// What the test above relies on from its cluster: a commit PostgreSQL acknowledged survives the
    /// server being killed. The WAL writer is made to wait 10 s between rounds, so a commit that is
    /// acknowledged before its WAL is written (synchronous_commit=off) is lost every time, not only
    /// when a kill happens to fall inside the writer's usual 200 ms.
    /// </summary>
    [Fact]
    public async Task A_commit_acknowledged_before_the_server_is_killed_is_there_after_the_restart()
    {
        using var cluster = await PostgresCluster.StartAsync("wal_writer_delay=10000");
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE acknowledged (n int PRIMARY KEY)", connection).ExecuteNonQueryAsync();
            for (var n = 1; n <= 20; n++)
            {
                await new NpgsqlCommand($"INSERT INTO acknowledged VALUES ({n})", connection).ExecuteNonQueryAsync();
            }
        }
        await cluster.RestartAsync(TimeSpan.Zero);
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString))
        {
            await connection.OpenAsync();
            Assert.Equal(20L, await new NpgsqlCommand("SELECT count(*) FROM acknowledged", connection).ExecuteScalarAsync());
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the clients made no progress");
            await Task.Delay(50);
        }
    }
}
