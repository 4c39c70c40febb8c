using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Tasks;
using Proofsheet.Writing;

namespace Proofsheet.IntegrationTests.Cluster;

/// <summary>
/// Two nodes in one test process on one PostgreSQL database: work is claimed once, and live
/// events, cancels, cache evictions, Hub sessions and rate limits reach across nodes. (The
/// real-process test with nginx and S3 is MultiNodeTests.)
/// </summary>
public sealed partial class ClusterTests
{
    private static readonly TestDatabase Postgres = new PostgresDatabase();

    [Fact]
    public async Task Tasks_created_on_two_nodes_are_written_and_drawn_once_each()
    {
        var backends = new CountingBackends();
        await using var a = await TestApp.StartAsync(Postgres, Fast(), backends.Install);
        await using var b = await TestApp.StartAsync(Postgres, Fast(), backends.Install, sameDataAs: a);

        var ids = new List<string>();
        var topics = Enumerable.Range(0, 12).Select(i => $"Write about Shared Work {i}").ToList();
        for (var i = 0; i < topics.Count; i++)
        {
            var node = i % 2 == 0 ? a : b;
            ids.Add((await node.CreateTaskAsync(topics[i], 2)).GetProperty("id").GetString()!);
        }
        foreach (var id in ids)
        {
            await a.WaitForStatusAsync(id, "awaiting_approval");
        }

        Assert.Equal(topics.Order(), backends.Written.Order());
        Assert.Equal(topics.Order(), backends.Drawn.Keys.Order());
        Assert.All(backends.Drawn.Values, count => Assert.Equal(1, count));
        Assert.Equal(0, backends.Overlaps);
        await using var db = Db(a);
        Assert.Equal(24, await db.Images.CountAsync());
        Assert.Empty(await db.Tasks.Where(t => t.LeaseOwner != null).Select(t => t.Id).ToListAsync());
        // History says where each step ran.
        var nodeIds = new[] { a, b }.Select(n => n.Services.GetRequiredService<Proofsheet.Cluster.NodeIdentity>().Id).ToList();
        Assert.All(await db.TaskEvents.Select(e => e.Node).ToListAsync(), n => Assert.Contains(n, nodeIds));
        a.DeleteFolder();
    }

    [Fact]
    public async Task A_task_held_by_a_live_lease_waits_for_it_to_expire_then_another_node_runs_it()
    {
        await using var a = await TestApp.StartAsync(Postgres, Fast());
        var expiry = DateTime.UtcNow.AddSeconds(3);
        var orphan = Ids.New();
        // A node that died mid-step: its lease on a working task is still running out.
        await using (var db = Db(a))
        {
            db.Tasks.Add(new ContentTask
            {
                Id = orphan,
                Topic = "Write about Orphaned Work",
                TargetWords = 300,
                NumVariations = 1,
                Status = WorkflowStatus.Queued,
                LeaseOwner = "a-node-that-died",
                LeaseExpiresAt = expiry,
                CreatedAt = DateTime.UtcNow,
                UpdatedAt = DateTime.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        await a.WaitForStatusAsync(orphan, "awaiting_approval");
        await using (var db = Db(a))
        {
            var firstMove = await db.TaskEvents.Where(e => e.TaskId == orphan && e.Kind == "status_changed").OrderBy(e => e.Id).FirstAsync();
            Assert.Equal("queued", firstMove.FromStatus);
            Assert.True(firstMove.At >= expiry, $"The task moved at {firstMove.At:O}, before the dead node's lease ran out at {expiry:O}.");
        }
        a.DeleteFolder();
    }

    [Fact]
    public async Task Cancelling_on_one_node_stops_the_work_on_the_node_that_runs_it()
    {
        var gate = new GatedTitleCards();
        await using var a = await TestApp.StartAsync(Postgres, Fast(), gate.Install);
        await using var b = await TestApp.StartAsync(Postgres, Fast(), gate.Install, sameDataAs: a);
        var id = (await a.CreateTaskAsync("Write about Stopped Work")).GetProperty("id").GetString()!;
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var (_, other) = await RunnerAndOtherAsync(id, a, b);

        using var client = other.Api();
        var cancel = await client.PostAsync($"/api/tasks/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

        await gate.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("cancelled", (await a.GetTaskAsync(id)).GetProperty("status").GetString());
        a.DeleteFolder();
    }

    [Fact]
    public async Task An_event_stream_on_one_node_shows_a_task_that_another_node_runs()
    {
        var gate = new GatedTitleCards();
        await using var a = await TestApp.StartAsync(Postgres, Fast(), gate.Install);
        await using var b = await TestApp.StartAsync(Postgres, Fast(), gate.Install, sameDataAs: a);
        var id = (await a.CreateTaskAsync("Write about Watching From Afar")).GetProperty("id").GetString()!;
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var (_, watcher) = await RunnerAndOtherAsync(id, a, b);

        using var client = watcher.Api();
        using var response = await client.GetAsync($"/api/tasks/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);
        gate.Open();

        var seen = new List<string>();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? eventName = null;
        while (await reader.ReadLineAsync(limit.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && eventName is not null)
            {
                seen.Add(eventName + " " + line["data: ".Length..]);
                if (eventName == "status" && line.Contains("awaiting_approval", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        Assert.Contains(seen, s => s.StartsWith("progress ", StringComparison.Ordinal) && s.Contains("\"done\":3", StringComparison.Ordinal));
        Assert.Contains(seen, s => s.StartsWith("image ", StringComparison.Ordinal));
        Assert.Equal("awaiting_approval", JsonDocument.Parse(seen[^1]["status ".Length..]).RootElement.GetProperty("status").GetString());
        a.DeleteFolder();
    }

    [Fact]
    public async Task A_publish_on_one_node_is_served_fresh_by_the_other_at_once()
    {
        // Cached for an hour: only the eviction message can make node B show the new post.
        var settings = Fast(new() { ["Posts:CacheDuration"] = "01:00:00" });
        await using var a = await TestApp.StartAsync(Postgres, settings);
        await using var b = await TestApp.StartAsync(Postgres, settings, sameDataAs: a);
        using var reader = b.CreateClient();
        Assert.DoesNotContain("fresh-news", await reader.GetStringAsync("/api/posts"));

        var id = (await a.CreateTaskAsync("Write about Fresh News", 1)).GetProperty("id").GetString()!;
        await a.WaitForStatusAsync(id, "awaiting_approval");
        using var api = a.Api();
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(await reader.GetStringAsync("/api/posts")).Contains("fresh-news", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "Node B still serves its cached list after node A published.");
            await Task.Delay(50);
        }
        a.DeleteFolder();
    }

    [Fact]
    public async Task A_hub_session_and_its_forms_work_on_every_node()
    {
        var settings = Fast(new() { ["Auth:AdminPassword"] = "correct horse battery" });
        await using var a = await TestApp.StartAsync(Postgres, settings);
        await using var b = await TestApp.StartAsync(Postgres, settings, sameDataAs: a);
        var cookies = new Dictionary<string, string>();

        // The login form comes from node A and is posted to node B (antiforgery across nodes) ...
        var form = await SendAsync(a, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/login"));
        var (field, token) = HiddenField(await form.Content.ReadAsStringAsync());
        var login = await SendAsync(b, cookies, new HttpRequestMessage(HttpMethod.Post, "/hub/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { [field] = token, ["password"] = "correct horse battery", ["returnUrl"] = "/hub/tasks" }),
        });
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Contains("proofsheet_hub", cookies.Keys);

        // ... and the session it made opens the Hub on node A.
        var tasks = await SendAsync(a, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/tasks"));
        Assert.Equal(HttpStatusCode.OK, tasks.StatusCode);
        // The key ring both nodes used is the shared one in the database, not a folder of this machine.
        await using var db = Db(a);
        Assert.Equal(1, await db.DataProtectionKeys.CountAsync());
        a.DeleteFolder();
    }

    [Fact]
    public async Task The_health_page_lists_each_node_with_the_tasks_it_holds()
    {
        var gate = new GatedTitleCards();
        var settings = Fast(new() { ["Auth:AdminPassword"] = "correct horse battery" });
        await using var a = await TestApp.StartAsync(Postgres, settings, gate.Install);
        await using var b = await TestApp.StartAsync(Postgres, settings, gate.Install, sameDataAs: a);
        var id = (await a.CreateTaskAsync("Write about Busy Nodes")).GetProperty("id").GetString()!;
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var (runner, other) = await RunnerAndOtherAsync(id, a, b);
        // Both nodes have beaten at least once by the time they serve requests.
        await runner.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Proofsheet.Cluster.NodeHeartbeat>().Single().BeatAsync(CancellationToken.None);
        await other.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Proofsheet.Cluster.NodeHeartbeat>().Single().BeatAsync(CancellationToken.None);

        var cookies = new Dictionary<string, string>();
        var form = await SendAsync(other, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/login"));
        var (field, token) = HiddenField(await form.Content.ReadAsStringAsync());
        await SendAsync(other, cookies, new HttpRequestMessage(HttpMethod.Post, "/hub/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { [field] = token, ["password"] = "correct horse battery" }),
        });
        var page = await (await SendAsync(other, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/health"))).Content.ReadAsStringAsync();

        var runnerId = runner.Services.GetRequiredService<Proofsheet.Cluster.NodeIdentity>().Id;
        var otherId = other.Services.GetRequiredService<Proofsheet.Cluster.NodeIdentity>().Id;
        var runnerCard = page[page.IndexOf(runnerId, StringComparison.Ordinal)..];
        var nextCard = runnerCard.IndexOf("class=\"node\"", StringComparison.Ordinal);
        runnerCard = nextCard < 0 ? runnerCard : runnerCard[..nextCard];
        Assert.Contains($"/hub/tasks/{id}", runnerCard, StringComparison.Ordinal);
        Assert.Contains(otherId + "</code> (this page)", page, StringComparison.Ordinal);
        gate.Open();
        a.DeleteFolder();
    }

    [Fact]
    public async Task The_generation_limit_and_the_login_throttle_count_requests_on_every_node()
    {
        var settings = Fast(new() { ["RateLimits:Generation:PermitLimit"] = "4", ["RateLimits:Generation:Window"] = "01:00:00", ["Auth:AdminPassword"] = "correct horse battery" });
        await using var a = await TestApp.StartAsync(Postgres, settings);
        await using var b = await TestApp.StartAsync(Postgres, settings, sameDataAs: a);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var client = (i % 2 == 0 ? a : b).Api();
            statuses.Add((await client.PostAsJsonAsync("/api/tasks", new { topic = $"Write about Limits {i}", num_variations = 1 })).StatusCode);
        }
        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);

        var logins = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            var node = i % 2 == 0 ? a : b;
            var cookies = new Dictionary<string, string>();
            var form = await SendAsync(node, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/login"));
            var (field, token) = HiddenField(await form.Content.ReadAsStringAsync());
            logins.Add((await SendAsync(node, cookies, new HttpRequestMessage(HttpMethod.Post, "/hub/login")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { [field] = token, ["password"] = "wrong" }),
            })).StatusCode);
        }
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 5).Append(HttpStatusCode.TooManyRequests), logins);
        a.DeleteFolder();
    }

    [Fact]
    public async Task A_second_process_on_one_sqlite_database_is_refused_with_a_clear_message()
    {
        await using var first = await TestApp.StartAsync(new SqliteDatabase());
        var refused = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var second = await TestApp.StartAsync(new SqliteDatabase(), sameDataAs: first);
        });
        Assert.Contains("Another Proofsheet process is already using the SQLite database", refused.ToString(), StringComparison.Ordinal);

        // Once the first has stopped, the same data opens again.
        await first.DisposeAsync();
        await using var again = await TestApp.StartAsync(new SqliteDatabase(), sameDataAs: first);
        Assert.Equal(HttpStatusCode.OK, (await again.CreateClient().GetAsync("/health/live")).StatusCode);
        again.DeleteFolder();
    }

    private static Dictionary<string, string?> Fast(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["Pipeline:LeaseDuration"] = "00:00:03" };
        foreach (var (k, v) in more ?? [])
        {
            settings[k] = v;
        }
        return settings;
    }

    /// <summary>Which of the two nodes holds the task's lease, and the other one.</summary>
    private static async Task<(TestApp Runner, TestApp Other)> RunnerAndOtherAsync(string taskId, TestApp a, TestApp b)
    {
        await using var db = Db(a);
        var owner = await db.Tasks.Where(t => t.Id == taskId).Select(t => t.LeaseOwner).SingleAsync();
        var aId = a.Services.GetRequiredService<Proofsheet.Cluster.NodeIdentity>().Id;
        return owner == aId ? (a, b) : (b, a);
    }

    private static AppDbContext Db(TestApp app) => app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();

    private static async Task<HttpResponseMessage> SendAsync(TestApp node, Dictionary<string, string> cookies, HttpRequestMessage request)
    {
        using var client = node.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        if (cookies.Count > 0)
        {
            request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}")));
        }
        var response = await client.SendAsync(request);
        foreach (var header in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
        {
            var pair = header.Split(';')[0].Split('=', 2);
            cookies[pair[0]] = pair[1];
        }
        return response;
    }

    private static (string Name, string Value) HiddenField(string html)
    {
        var match = HiddenInput().Match(html);
        Assert.True(match.Success, "The page has no antiforgery field.");
        return (match.Groups[1].Value, WebUtility.HtmlDecode(match.Groups[2].Value));
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\"")]
    private static partial Regex HiddenInput();

    /// <summary>The offline writer and title cards, counting every call and any two at once for one task.</summary>
    private sealed class CountingBackends : IArticleWriter, IImageGenerator
    {
        private readonly OutlineWriter _writer = new();
        private readonly TitleCardGenerator _images = new();
        private readonly ConcurrentDictionary<string, byte> _running = new();

        public ConcurrentBag<string> Written { get; } = [];
        public ConcurrentDictionary<string, int> Drawn { get; } = new();
        public int Overlaps;

        string IArticleWriter.Name => "outline";
        string IImageGenerator.Name => "titlecard";

        public void Install(IServiceCollection services)
        {
            services.RemoveAll<IImageGenerator>();
            services.AddSingleton<IImageGenerator>(this);
            services.RemoveAll<ActiveWriter>();
            services.AddSingleton(new ActiveWriter(this));
        }

        public async Task<ArticleDraft> WriteAsync(ArticleRequest request, IProgress<string>? textSoFar, CancellationToken cancellationToken)
        {
            // Slow enough that the other node's poll sees the task while it is being written.
            await Task.Delay(300, cancellationToken);
            var draft = await _writer.WriteAsync(request, cancellationToken);
            Written.Add(request.Topic);
            return draft;
        }

        public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
        {
            var key = request.Topic ?? request.Prompt;
            if (!_running.TryAdd(key, 0))
            {
                Interlocked.Increment(ref Overlaps);
            }
            try
            {
                await Task.Delay(300, cancellationToken);
                return await _images.GenerateAsync(request, progress, cancellationToken);
            }
            finally
            {
                _running.TryRemove(key, out _);
                Drawn.AddOrUpdate(key, 1, (_, n) => n + 1);
            }
        }
    }
}
