using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Proofsheet.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Backup;

/// <summary>
/// <c>Proofsheet backup</c> taken while 50 clients create, approve and read (the load-test
/// pattern), restored with <c>Proofsheet restore</c> into an empty data folder (and, on PostgreSQL,
/// an empty database): the restored app serves every published post with its image and can approve
/// and publish every task that was waiting.
/// </summary>
public abstract class BackupTests(TestDatabase database, ITestOutputHelper output)
{
    private const string PublicBase = "http://proofsheet.test";

    [Fact]
    public async Task A_backup_taken_under_load_restores_to_an_app_that_serves_every_post_and_approves_every_waiting_task()
    {
        var folder = Directory.CreateTempSubdirectory("proofsheet-backup-").FullName;
        var archive = Path.Combine(folder, "proofsheet-backup.tar.gz");
        var original = Settings(Path.Combine(folder, "original"), await database.CreateAsync(Path.Combine(folder, "original", "data")));
        var restored = Settings(Path.Combine(folder, "restored"), await database.CreateAsync(Path.Combine(folder, "restored", "data")));
        try
        {
            int publishedBefore;
            await using (var app = await AppProcess.StartAsync(original))
            {
                using var http = app.Client(maxConnections: 64);
                // Before the load: published posts and tasks waiting for approval.
                var seeded = new List<string>();
                for (var i = 0; i < 8; i++)
                {
                    using var created = await http.PostAsJsonAsync("/api/tasks", new { topic = $"Backups, seeded task {i}", num_variations = 2 });
                    Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
                    seeded.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
                }
                await WaitForAsync(http, async () => await CountAsync(http, "awaiting_approval") == seeded.Count ? 1 : null, () => "the seeded tasks to await approval");
                foreach (var id in seeded.Take(4))
                {
                    using var approve = await http.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
                    Assert.True(approve.IsSuccessStatusCode);
                }
                publishedBefore = await WaitForAsync(http, async () => await CountAsync(http, "published") is var n && n == 4 ? n : null, () => "the approved seeded tasks to publish");

                // 50 clients: 10 create a task each, half approve one waiting task, all read posts and pages.
                var errors = new ConcurrentQueue<string>();
                var requests = new StrongBox<int>();
                using var stop = new CancellationTokenSource();
                var clients = Enumerable.Range(0, 50).Select(n => Task.Run(() => ClientAsync(http, n, errors, () => stop.IsCancellationRequested, requests))).ToList();
                await WaitForAsync(http, () => Task.FromResult(Volatile.Read(ref requests.Value) >= 200 ? 1 : (int?)null), () => "the load to get going");
                var backup = await CommandAsync("backup", archive, original);
                Assert.True(backup.Code == 0, backup.Output);
                await stop.CancelAsync();
                await Task.WhenAll(clients);
                output.WriteLine($"{Volatile.Read(ref requests.Value)} requests under load");
                Assert.True(errors.IsEmpty, $"{errors.Count} errors under load, e.g.\n" + string.Join("\n", errors.Take(5)));
            }

            var restore = await CommandAsync("restore", archive, restored);
            Assert.True(restore.Code == 0, restore.Output);
            // A folder that is no longer empty is refused, and nothing in it changes.
            var again = await CommandAsync("restore", archive, restored);
            Assert.Equal(1, again.Code);
            Assert.Contains("not empty", again.Output, StringComparison.Ordinal);
            // So is a database that already has data, even with empty folders.
            var elsewhere = new Dictionary<string, string?>(restored)
            {
                ["DataDirectory"] = Path.Combine(folder, "elsewhere", "data"),
                ["Storage:PreviewDirectory"] = Path.Combine(folder, "elsewhere", "previews"),
            };
            var intoUsedDatabase = await CommandAsync("restore", archive, elsewhere);
            Assert.Equal(1, intoUsedDatabase.Code);
            Assert.Contains("already", intoUsedDatabase.Output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(folder, "elsewhere", "data", "media")));

            await using (var app = await AppProcess.StartAsync(restored))
            {
                using var http = app.Client(maxConnections: 32);
                var waiting = await AllAsync(http, "/api/tasks?status=awaiting_approval&limit=100");
                Assert.NotEmpty(waiting);
                foreach (var task in waiting)
                {
                    var id = task.GetProperty("id").GetString()!;
                    using var approve = await http.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
                    Assert.True(approve.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"approve {id}: {(int)approve.StatusCode} {await approve.Content.ReadAsStringAsync()}");
                }
                var ids = waiting.Select(t => t.GetProperty("id").GetString()!).ToList();
                await WaitForAsync(http, async () =>
                {
                    foreach (var id in ids)
                    {
                        var status = (await http.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}")).GetProperty("status").GetString();
                        Assert.True(status is "publishing" or "published", $"{id} is {status}");
                        if (status != "published")
                        {
                            return (int?)null;
                        }
                    }
                    return 1;
                }, () => "the approved tasks to be published");

                var posts = await AllAsync(http, "/api/posts?limit=100");
                Assert.True(posts.Count >= publishedBefore + ids.Count, $"{posts.Count} posts served; {publishedBefore} were published before the backup and {ids.Count} since the restore");
                foreach (var post in posts)
                {
                    var slug = post.GetProperty("slug").GetString()!;
                    using var page = await http.GetAsync($"/posts/{slug}");
                    Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                    var image = new Uri(post.GetProperty("featured_image_url").GetString()!);
                    using var file = await http.GetAsync(image.PathAndQuery);
                    Assert.True(file.StatusCode == HttpStatusCode.OK, $"{slug}: its image {image.PathAndQuery} is {(int)file.StatusCode}");
                }
                output.WriteLine($"{database.Provider}: {publishedBefore} posts published before the backup; restored app serves {posts.Count} posts and published {ids.Count} waiting tasks");
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private Dictionary<string, string?> Settings(string root, string connectionString) => new()
    {
        ["DataDirectory"] = Path.Combine(root, "data"),
        ["Storage:PreviewDirectory"] = Path.Combine(root, "previews"),
        ["Database:Provider"] = database.Provider,
        ["ConnectionStrings:Default"] = connectionString,
        ["Auth:ApiKeys"] = TestApp.ApiKey,
        ["Publishing:PublicBaseUrl"] = PublicBase,
        ["Pipeline:PollInterval"] = "00:00:00.200",
        ["Pipeline:ApproveWait"] = "00:00:00",
        ["RateLimits:Generation:PermitLimit"] = "1000000",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <summary>One client: creates a few tasks, approves waiting ones, reads posts, until stopped.</summary>
    /// <summary>One client: creates at most one task, approves at most one waiting task, reads posts and pages, until stopped.</summary>
    /// <remarks>Each request runs to its end: stopping is between requests, so none is cut off.</remarks>
    private static Task ClientAsync(HttpClient http, int n, ConcurrentQueue<string> errors, Func<bool> stopped, StrongBox<int> requests)
    {
        return RunAsync();

        async Task Expect(Task<HttpResponseMessage> send, params HttpStatusCode[] expected)
        {
            try
            {
                using var response = await send;
                if (!expected.Contains(response.StatusCode))
                {
                    errors.Enqueue($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                errors.Enqueue(ex.Message);
            }
            Interlocked.Increment(ref requests.Value);
        }

        async Task RunAsync()
        {
            if (n < 10)
            {
                await Expect(http.PostAsJsonAsync("/api/tasks", new { topic = $"Backups under load, client {n}", num_variations = 1 }), HttpStatusCode.Accepted);
            }
            var approved = n % 2 == 1;
            while (!stopped())
            {
                if (!approved)
                {
                    var page = await http.GetFromJsonAsync<JsonElement>("/api/tasks?status=awaiting_approval&limit=1");
                    if (page.GetProperty("items").EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } task)
                    {
                        await Expect(http.PostAsJsonAsync($"/api/tasks/{task.GetProperty("id").GetString()}/approve", new { index = 1 }),
                            HttpStatusCode.OK, HttpStatusCode.Accepted, HttpStatusCode.Conflict);
                    }
                    approved = true;
                }
                await Expect(http.GetAsync("/api/posts?limit=10"), HttpStatusCode.OK);
                await Expect(http.GetAsync("/"), HttpStatusCode.OK);
                await Expect(http.GetAsync("/api/tasks?limit=20"), HttpStatusCode.OK);
            }
        }
    }

    private static async Task<int> CountAsync(HttpClient http, string status) => (await AllAsync(http, $"/api/tasks?status={status}&limit=100")).Count;

    private static async Task<List<JsonElement>> AllAsync(HttpClient http, string first)
    {
        var items = new List<JsonElement>();
        var url = first;
        while (true)
        {
            var page = await http.GetFromJsonAsync<JsonElement>(url);
            items.AddRange(page.GetProperty("items").EnumerateArray().Select(e => e.Clone()));
            if (page.GetProperty("next_cursor").GetString() is not { } cursor)
            {
                return items;
            }
            url = first + "&cursor=" + cursor;
        }
    }

    private static async Task<int> WaitForAsync(HttpClient http, Func<Task<int?>> condition, Func<string> state)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            if (await condition() is { } value)
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < deadline, "Not met in time: " + state());
            await Task.Delay(100);
        }
    }

    /// <summary>Runs <c>Proofsheet backup|restore FILE</c> with the app's settings, as an operator would.</summary>
    private async Task<(int Code, string Output)> CommandAsync(string command, string file, Dictionary<string, string?> settings)
    {
        var dll = AppProcess.AppDll();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { dll, command, file })
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add("--" + key);
            start.ArgumentList.Add(value ?? "");
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(limit.Token);
        var text = await stdout + await stderr;
        output.WriteLine($"Proofsheet {command} -> {process.ExitCode}: {text}");
        return (process.ExitCode, text);
    }
}

public sealed class SqliteBackupTests(ITestOutputHelper output) : BackupTests(new SqliteDatabase(), output);

public sealed class PostgresBackupTests(ITestOutputHelper output) : BackupTests(new PostgresDatabase(), output);
