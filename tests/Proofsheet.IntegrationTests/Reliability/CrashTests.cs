using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;
using Proofsheet.IntegrationTests.Writing;
using Proofsheet.Posts;
using Proofsheet.Tasks;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Reliability;

/// <summary>
/// SPEC §5 "a crash at any moment loses nothing": the real app as its own process, SIGKILLed while
/// the writer answers, while images generate, while the upload is in flight, just after the CDN
/// answered (between upload and database update) and during clean-up, then started again on the
/// same data. At the end every invariant of the data is checked. <c>PROOFSHEET_LONG=1</c> runs
/// many more kills (docs/reliability.md).
/// </summary>
public sealed partial class CrashTests(ITestOutputHelper output)
{
    private static readonly string[] Legal = ["published", "rejected"];

    [Fact]
    public async Task Killed_at_random_points_of_the_workflow_the_app_loses_nothing()
    {
        var longRun = Environment.GetEnvironmentVariable("PROOFSHEET_LONG") == "1";
        var kills = longRun ? 40 : 4;
        var seed = Environment.GetEnvironmentVariable("PROOFSHEET_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed {seed}, {kills} kills");
        var random = new Random(seed);

        var folder = Directory.CreateTempSubdirectory("proofsheet-crash-").FullName;
        await using var writer = await OpenAIStandIn.StartAsync();
        var writerCalls = 0;
        writer.Default = async (context, request) =>
        {
            Interlocked.Increment(ref writerCalls);
            await Task.Delay(150, context.RequestAborted);
            // A title per topic, so each task gets a post of its own.
            var topic = TopicMarker().Match(request.ToJsonString()).Value;
            var article = StandInArticle.Json();
            article["title"] = "Notes on " + topic;
            await OpenAIStandIn.Article(article.ToJsonString())(context, request);
        };
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromMilliseconds(200);
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        cloudinary.Delay = TimeSpan.FromMilliseconds(150);
        var deliveries = new ConcurrentQueue<string>();
        await using var receiver = await StandInServer.StartAsync(app => app.MapPost("/hook", async (HttpRequest r) =>
        {
            deliveries.Enqueue(await new StreamReader(r.Body).ReadToEndAsync());
            return Results.Ok();
        }));

        var settings = new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Auth:ApiKeys"] = TestApp.ApiKey,
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = writer.BaseUrl,
            ["Content:OpenAI:ApiKey"] = "sk-test-4f9c2a7e1b3d",
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:Automatic1111:ProgressInterval"] = "00:00:00.100",
            ["Publishing:Provider"] = "cloudinary",
            ["Publishing:Cloudinary:CloudName"] = CloudinaryStandIn.CloudName,
            ["Publishing:Cloudinary:ApiKey"] = CloudinaryStandIn.ApiKey,
            ["Publishing:Cloudinary:ApiSecret"] = CloudinaryStandIn.ApiSecret,
            ["Publishing:Cloudinary:BaseUrl"] = cloudinary.BaseUrl,
            ["Webhooks:Urls"] = receiver.BaseUrl + "/hook",
            ["Webhooks:Secret"] = "crash-test-webhook-secret",
            ["Pipeline:PollInterval"] = "00:00:00.200",
            ["Pipeline:RetryBaseDelay"] = "00:00:00.100",
            ["Pipeline:RetryMaxDelay"] = "00:00:01",
            ["Pipeline:ApproveWait"] = "00:00:00",
            ["RateLimits:Generation:PermitLimit"] = "100000",
            ["Logging:LogLevel:Default"] = "Warning",
        };

        var created = new List<string>();
        var rejected = new HashSet<string>();
        var points = new Dictionary<string, int>();
        try
        {
            for (var kill = 0; kill < kills; kill++)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                await using var app = await AppProcess.StartAsync(settings);
                output.WriteLine($"start {watch.ElapsedMilliseconds} ms");
                using var client = app.Client();
                for (var i = 0; i < 2; i++)
                {
                    var topic = $"Write about crash case {created.Count} {Guid.NewGuid().ToString("N")[..8]}";
                    var response = await client.PostAsJsonAsync("/api/tasks", new { topic, num_variations = 2 });
                    Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                    created.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
                }
                await DecideAsync(client, created, rejected, random);

                // Kill at a moment chosen from the workflow's steps, a little after it starts.
                var (point, reached) = (random.Next(5)) switch
                {
                    0 => ("while writing", Counter(() => Volatile.Read(ref writerCalls))),
                    1 => ("while generating", Counter(() => a1111.Txt2ImgCalls)),
                    2 => ("upload in flight", Counter(() => cloudinary.Requests)),
                    3 => ("after the CDN answered", Counter(() => cloudinary.Forms.Count)),
                    _ => ("at a random moment", () => true),
                };
                var deadline = DateTime.UtcNow.AddSeconds(3);
                while (!reached() && DateTime.UtcNow < deadline)
                {
                    await DecideAsync(client, created, rejected, random);
                    await Task.Delay(20);
                }
                await Task.Delay(point == "at a random moment" ? random.Next(0, 1500) : random.Next(0, 250));
                app.Kill();
                output.WriteLine($"killed {point} after {watch.ElapsedMilliseconds} ms");
                points[point] = points.GetValueOrDefault(point) + 1;
            }

            // The last run: no kills; decide on everything until all tasks are done.
            await using (var app = await AppProcess.StartAsync(settings))
            {
                using var client = app.Client();
                var deadline = DateTime.UtcNow.AddSeconds(longRun ? 300 : 120);
                while (true)
                {
                    await DecideAsync(client, created, rejected, random);
                    var statuses = await StatusesAsync(client, created);
                    if (statuses.Values.All(Legal.Contains))
                    {
                        break;
                    }
                    if (DateTime.UtcNow > deadline)
                    {
                        Assert.Fail("Tasks did not finish: " + string.Join(", ", statuses.Where(s => !Legal.Contains(s.Value)).Select(s => $"{s.Key}={s.Value}")) + "\n" + app.Output);
                    }
                    await Task.Delay(200);
                }
            }

            // Start once more with no grace for unknown files, as after a long downtime: the start-up sweep runs.
            settings["Storage:OrphanGrace"] = "00:00:00";
            await using (var app = await AppProcess.StartAsync(settings))
            {
                var deadline = DateTime.UtcNow.AddSeconds(20);
                string? problem;
                while ((problem = await CheckInvariantsAsync(folder, created, rejected, cloudinary, deliveries)) is not null && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(200);
                }
                Assert.True(problem is null, problem + "\n" + app.Output);
            }
            output.WriteLine($"{created.Count} tasks, {created.Count - rejected.Count} published, {rejected.Count} rejected; kills: " +
                string.Join(", ", points.Select(p => $"{p.Key} {p.Value}")));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Func<bool> Counter(Func<int> read)
    {
        var start = read();
        return () => read() != start;
    }

    /// <summary>Approves tasks under review (a few are rejected instead), as a reviewer would.</summary>
    private static async Task DecideAsync(HttpClient client, List<string> created, HashSet<string> rejected, Random random)
    {
        foreach (var (id, status) in await StatusesAsync(client, created))
        {
            if (status != "awaiting_approval")
            {
                continue;
            }
            if (random.Next(5) == 0 || rejected.Contains(id))
            {
                rejected.Add(id);
                await client.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "not this one" });
            }
            else
            {
                await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 + random.Next(2) });
            }
        }
    }

    private static async Task<Dictionary<string, string>> StatusesAsync(HttpClient client, List<string> ids)
    {
        var result = new Dictionary<string, string>();
        foreach (var id in ids)
        {
            var task = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
            result[id] = task.GetProperty("status").GetString()!;
        }
        return result;
    }

    /// <summary>Null when the data is consistent, else what is wrong.</summary>
    private static async Task<string?> CheckInvariantsAsync(
        string folder, List<string> created, HashSet<string> rejected, CloudinaryStandIn cloudinary, ConcurrentQueue<string> deliveries)
    {
        var options = new DbContextOptionsBuilder<SqliteAppDbContext>()
            .UseSqlite($"Data Source={Path.Combine(folder, "data", "proofsheet.db")};Default Timeout=30").Options;
        await using var db = new SqliteAppDbContext(options);
        var tasks = await db.Tasks.AsNoTracking().ToListAsync();
        var posts = await db.Posts.AsNoTracking().ToListAsync();
        var images = await db.Images.AsNoTracking().ToListAsync();
        var outbox = await db.WebhookDeliveries.AsNoTracking().ToListAsync();

        var problems = new List<string>();
        foreach (var id in created)
        {
            var task = tasks.SingleOrDefault(t => t.Id == id);
            if (task is null)
            {
                problems.Add($"task {id} is lost");
            }
            else if (task.Status != (rejected.Contains(id) ? WorkflowStatus.Rejected : WorkflowStatus.Published))
            {
                problems.Add($"task {id} is {task.Status}");
            }
        }
        var published = posts.Where(p => p.Status == PostStatus.Published).ToList();
        foreach (var post in published)
        {
            var events = outbox.Count(d => d.Event == "post.published" && d.Payload.Contains(post.Id, StringComparison.Ordinal));
            if (events != 1)
            {
                problems.Add($"post {post.Slug} has {events} post.published events");
            }
            if (post.FeaturedImageUrl is null || !post.FeaturedImageUrl.StartsWith("https://res.cloudinary.com/", StringComparison.Ordinal))
            {
                problems.Add($"post {post.Slug} points at {post.FeaturedImageUrl}");
            }
            else if (!cloudinary.Assets.Keys.Any(k => post.FeaturedImageUrl.Contains("/" + k + ".", StringComparison.Ordinal)))
            {
                problems.Add($"post {post.Slug} points at an asset the CDN does not have: {post.FeaturedImageUrl}");
            }
        }
        if (tasks.Count(t => t.Status == WorkflowStatus.Published) != published.Count)
        {
            problems.Add($"{tasks.Count(t => t.Status == WorkflowStatus.Published)} tasks published but {published.Count} posts");
        }
        if (cloudinary.Assets.Count < published.Count)
        {
            problems.Add($"{cloudinary.Assets.Count} assets for {published.Count} published posts");
        }

        var previews = Path.Combine(folder, "previews");
        var files = Directory.Exists(previews) ? Directory.GetFiles(previews).Select(Path.GetFileName).ToHashSet() : [];
        foreach (var file in files.Where(f => f!.EndsWith(PreviewNames.TempSuffix, StringComparison.Ordinal)))
        {
            problems.Add($"half-written file {file} is visible");
        }
        var kept = images.Where(i => !i.FileDeleted).Select(i => i.FileName).ToHashSet();
        foreach (var file in files.Where(f => !kept.Contains(f!)))
        {
            problems.Add($"preview file {file} is unknown to the database");
        }
        foreach (var image in images.Where(i => !i.FileDeleted && !files.Contains(i.FileName)))
        {
            problems.Add($"candidate {image.Id} ({image.Status}) has no file {image.FileName}");
        }
        foreach (var image in images.Where(i => i.Status == CandidateStatus.Published && i.CdnUrl is null))
        {
            problems.Add($"candidate {image.Id} is published without a CDN URL");
        }
        return problems.Count == 0 ? null : string.Join("\n", problems);
    }

    [GeneratedRegex(@"crash case \d+ [0-9a-f]{8}")]
    private static partial Regex TopicMarker();
}
