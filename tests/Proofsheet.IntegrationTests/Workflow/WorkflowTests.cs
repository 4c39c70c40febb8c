using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Workflow;

/// <summary>The workflow of SPEC §1 over HTTP, run on each database (see the subclasses at the end).</summary>
public abstract class WorkflowTests(TestDatabase database)
{
    protected TestDatabase Database { get; } = database;

    [Fact]
    public async Task A_task_goes_from_topic_to_published_post_with_a_served_image()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();

        var created = await app.CreateTaskAsync("Write about Making Muffins");
        var id = created.GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        Assert.Equal("Making Muffins", task.GetProperty("title").GetString());
        Assert.Equal("making-muffins", task.GetProperty("slug").GetString());
        var variations = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        Assert.Equal(3, variations.Count);
        Assert.Equal([1, 2, 3], variations.Select(v => v.GetProperty("index").GetInt32()));
        foreach (var v in variations)
        {
            var name = v.GetProperty("filename").GetString()!;
            Assert.Matches(@"^titlecard_\d{8}_\d{6}_" + id + @"_var\d\.png$", name);
            var bytes = await File.ReadAllBytesAsync(Path.Combine(app.PreviewDirectory, name));
            Assert.Equal(v.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
            var served = await client.GetAsync(v.GetProperty("preview_url").GetString());
            Assert.Equal("image/png", served.Content.Headers.ContentType!.MediaType);
            Assert.Equal("nosniff", served.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal(bytes, await served.Content.ReadAsByteArrayAsync());
        }
        // A visibly different design per variation.
        Assert.Equal(3, variations.Select(v => v.GetProperty("sha256").GetString()).Distinct().Count());

        var selected = await client.PostAsJsonAsync($"/api/tasks/{id}/select", new { index = 2 });
        Assert.Equal(HttpStatusCode.OK, selected.StatusCode);
        var approved = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { feedback = "Lovely" });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var published = await approved.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("published", published.GetProperty("status").GetString());

        using var anonymous = app.CreateClient();
        var post = await anonymous.GetFromJsonAsync<JsonElement>("/api/posts/making-muffins");
        var url = post.GetProperty("featured_image_url").GetString()!;
        Assert.StartsWith("http://", url, StringComparison.Ordinal);
        Assert.Contains("/media/", url, StringComparison.Ordinal);
        Assert.NotNull(post.GetProperty("published_at").GetString());
        var image = await anonymous.GetAsync(new Uri(url).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal(variations[1].GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(await image.Content.ReadAsByteArrayAsync())));

        // The published image's preview is cleaned up (just after the publish commits, so allow it a
        // moment); the others stay for the retention sweep.
        var publishedPreview = Path.Combine(app.PreviewDirectory, variations[1].GetProperty("filename").GetString()!);
        for (var i = 0; i < 200 && File.Exists(publishedPreview); i++)
        {
            await Task.Delay(50);
        }
        Assert.False(File.Exists(publishedPreview));
        Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, variations[0].GetProperty("filename").GetString()!)));

        var history = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        var kinds = history.EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Contains("draft_written", kinds);
        Assert.Contains("image_selected", kinds);
        Assert.Contains("approved", kinds);
        var statuses = history.EnumerateArray().Where(e => e.GetProperty("kind").GetString() == "status_changed").Select(e => e.GetProperty("to_status").GetString());
        Assert.Equal(["writing", "generating_images", "awaiting_approval", "publishing", "published"], statuses);
        Assert.Contains(history.EnumerateArray(), e => e.GetProperty("detail").GetString()?.Contains("Lovely", StringComparison.Ordinal) == true);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Twenty_concurrent_tasks_with_one_title_make_one_post_and_none_fails()
    {
        await using var app = await TestApp.StartAsync(Database, new Dictionary<string, string?> { ["Pipeline:MaxConcurrency"] = "8" });
        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
            (await app.CreateTaskAsync("Write about Sourdough Starters", 1)).GetProperty("id").GetString()!));
        var tasks = await Task.WhenAll(ids.Select(id => app.WaitForStatusAsync(id, "awaiting_approval")));

        Assert.Single(tasks.Select(t => t.GetProperty("post_id").GetString()).Distinct());
        Assert.All(tasks, t => Assert.Equal("sourdough-starters", t.GetProperty("slug").GetString()));
        await using var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        Assert.Equal(1, await db.Posts.CountAsync());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Under_the_suffix_policy_twenty_concurrent_tasks_get_twenty_distinct_slugs()
    {
        await using var app = await TestApp.StartAsync(Database, new Dictionary<string, string?>
        {
            ["Posts:DuplicateSlugPolicy"] = "suffix",
            ["Pipeline:MaxConcurrency"] = "8",
        });
        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
            (await app.CreateTaskAsync("Write about Crème Brûlée", 1)).GetProperty("id").GetString()!));
        var tasks = await Task.WhenAll(ids.Select(id => app.WaitForStatusAsync(id, "awaiting_approval")));

        var slugs = tasks.Select(t => t.GetProperty("slug").GetString()!).ToList();
        Assert.Equal(20, slugs.Distinct().Count());
        Assert.Contains("creme-brulee", slugs);
        Assert.All(slugs.Where(s => s != "creme-brulee"), s => Assert.Matches(@"^creme-brulee-\d+$", s));
        await using var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        Assert.Equal(20, await db.Posts.CountAsync());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Under_the_update_policy_a_second_task_overwrites_the_draft()
    {
        await using var app = await TestApp.StartAsync(Database, new Dictionary<string, string?> { ["Posts:DuplicateSlugPolicy"] = "update" });
        var first = (await app.CreateTaskAsync("Write about Tea", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(first, "awaiting_approval");
        var second = (await app.CreateTaskAsync("Tea", 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(second, "awaiting_approval");

        await using var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        var post = await db.Posts.SingleAsync();
        Assert.Equal(task.GetProperty("post_id").GetString(), post.Id);
        Assert.Equal(task.GetProperty("excerpt").GetString(), post.Excerpt);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Approving_twice_or_at_once_publishes_once()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Idempotent Approvals")).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })));
        Assert.All(concurrent, r => Assert.True(r.IsSuccessStatusCode, r.StatusCode.ToString()));
        await app.WaitForStatusAsync(id, "published");
        var again = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var viaMedia = await client.PostAsJsonAsync("/api/media/approve-image", new { task_id = id, index = 1 });
        Assert.Equal(HttpStatusCode.OK, viaMedia.StatusCode);
        var otherImage = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 2 });
        Assert.Equal(HttpStatusCode.Conflict, otherImage.StatusCode);

        var history = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        Assert.Single(history.EnumerateArray(), e => e.GetProperty("kind").GetString() == "approved");
        Assert.Single(history.EnumerateArray(), e => e.GetProperty("to_status").GetString() == "published");
        // One image, its social card and its three WebP copies, each uploaded once.
        var media = Directory.GetFiles(app.MediaDirectory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Equal(5, media.Count);
        Assert.Single(media, m => m!.EndsWith(".png", StringComparison.Ordinal));
        Assert.Single(media, m => m!.EndsWith("-social.jpg", StringComparison.Ordinal));
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_task_interrupted_mid_work_finishes_on_the_next_start()
    {
        var gate = new GatedTitleCards();
        var first = await TestApp.StartAsync(Database, services: gate.Install);
        var id = (await first.CreateTaskAsync("Write about Interrupted Work")).GetProperty("id").GetString()!;
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("generating_images", (await first.GetTaskAsync(id)).GetProperty("status").GetString());
        await first.DisposeAsync(); // the host stops with the generation in flight

        await using var second = await TestApp.StartAsync(Database, sameDataAs: first);
        var task = await second.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(3, task.GetProperty("metadata").GetProperty("image_variations").GetArrayLength());
        await using var db = second.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        Assert.Equal(1, await db.Posts.CountAsync());
        second.DeleteFolder();
    }

    [Fact]
    public async Task Reject_trashes_previews_and_reject_with_a_new_prompt_adds_a_round()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Rejected Drafts", 2)).GetProperty("id").GetString()!;
        var before = await app.WaitForStatusAsync(id, "awaiting_approval");
        var oldFiles = Files(before);

        var missing = await client.PostAsJsonAsync($"/api/tasks/{id}/reject", new { new_prompt = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);

        var regenerate = await client.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "Too dark", new_prompt = "A bright kitchen" });
        Assert.Equal(HttpStatusCode.OK, regenerate.StatusCode);
        var after = await app.WaitForStatusAsync(id, "awaiting_approval");
        var variations = after.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        // The earlier round stays, to compare and to choose from (issue 11).
        Assert.Equal([1, 2, 3, 4], variations.Select(v => v.GetProperty("index").GetInt32()));
        Assert.Equal([1, 1, 2, 2], variations.Select(v => v.GetProperty("round").GetInt32()));
        Assert.All(variations.Skip(2), v => Assert.Equal("A bright kitchen", v.GetProperty("prompt").GetString()));
        Assert.All(oldFiles, f => Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, f))));

        var reject = await client.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "Not for us" });
        Assert.Equal(HttpStatusCode.OK, reject.StatusCode);
        var rejected = await reject.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("rejected", rejected.GetProperty("status").GetString());
        // In the trash: out of the candidates, files kept until Storage:TrashRetentionDays (reopening brings them back).
        Assert.Empty(rejected.GetProperty("metadata").GetProperty("image_variations").EnumerateArray());
        Assert.Equal(4, rejected.GetProperty("metadata").GetProperty("trash").GetArrayLength());
        var history = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        Assert.Contains(history.EnumerateArray(), e => e.GetProperty("detail").GetString() == "Not for us");
        app.DeleteFolder();
    }

    [Fact]
    public async Task Generate_more_adds_variations_with_the_next_numbers_and_edits_change_the_draft()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Growing Tomatoes", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var edit = await client.PatchAsJsonAsync($"/api/tasks/{id}", new { title = "Tomatoes, Grown Well", image_prompt = "ripe tomatoes on the vine" });
        Assert.Equal(HttpStatusCode.OK, edit.StatusCode);
        var more = await client.PostAsJsonAsync("/api/media/generate-image-variations", new { task_id = id, prompt = "tomatoes at dusk", num_variations = 2 });
        Assert.Equal(HttpStatusCode.OK, more.StatusCode);
        var body = await more.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal([2, 3], body.GetProperty("variations").EnumerateArray().Select(v => v.GetProperty("index").GetInt32()));

        var one = await client.PostAsJsonAsync("/api/media/generate-image", new { prompt = "a single tomato", task_id = id });
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        var image = await one.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(image.GetProperty("preview_mode").GetBoolean());
        Assert.Equal(4, image.GetProperty("image").GetProperty("index").GetInt32());

        var task = await app.GetTaskAsync(id);
        Assert.Equal("Tomatoes, Grown Well", task.GetProperty("title").GetString());
        Assert.Equal(4, task.GetProperty("metadata").GetProperty("image_variations").GetArrayLength());

        var discard = await client.DeleteAsync($"/api/media/images/{image.GetProperty("image").GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, discard.StatusCode);
        Assert.Equal(3, (await app.GetTaskAsync(id)).GetProperty("metadata").GetProperty("image_variations").GetArrayLength());
        var gallery = await client.GetFromJsonAsync<JsonElement>($"/api/media/images?task_id={id}&status=discarded");
        Assert.Single(gallery.GetProperty("items").EnumerateArray());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Cancel_stops_a_task_and_deletes_its_previews_and_retry_resumes_a_failed_one()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Cancelled Plans", 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var cancel = await client.PostAsync($"/api/tasks/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Empty(Directory.GetFiles(app.PreviewDirectory));
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/api/tasks/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/api/tasks/{id}/retry", null)).StatusCode);
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_event_stream_reports_status_changes_and_generation_progress()
    {
        var gate = new GatedTitleCards();
        await using var app = await TestApp.StartAsync(Database, services: gate.Install);
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Watching Progress", 3)).GetProperty("id").GetString()!;
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));

        using var response = await client.GetAsync($"/api/tasks/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        gate.Open();
        var events = new List<(string Event, string Data)>();
        string? name = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name!, line[6..]));
                if (name == "status" && line.Contains("awaiting_approval", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        Assert.Equal("status", events[0].Event);
        var progress = events.Where(e => e.Event == "progress").Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.Contains(progress, p => p.GetProperty("done").GetInt32() == 3 && p.GetProperty("total").GetInt32() == 3);
        Assert.Contains(progress, p => p.GetProperty("done").GetInt32() == 1 && p.GetProperty("total").GetInt32() == 3);
        Assert.Equal(3, events.Count(e => e.Event == "image"));
        var done = progress.Where(p => p.GetProperty("stage").GetString() == "generating_images").Select(p => p.GetProperty("done").GetInt32()).ToList();
        Assert.Equal(done.Order(), done); // the bar never moves back
        app.DeleteFolder();
    }

    [Fact]
    public async Task Published_posts_are_listed_newest_first_in_pages_and_drafts_stay_private()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        var slugs = new List<string>();
        foreach (var topic in new[] { "Write about Alpha", "Write about Beta", "Write about Gamma" })
        {
            var id = (await app.CreateTaskAsync(topic, 1)).GetProperty("id").GetString()!;
            await app.WaitForStatusAsync(id, "awaiting_approval");
            await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
            slugs.Add((await app.WaitForStatusAsync(id, "published")).GetProperty("slug").GetString()!);
        }
        var draft = (await app.CreateTaskAsync("Write about Unpublished Drafts", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(draft, "awaiting_approval");

        using var anonymous = app.CreateClient();
        var first = await anonymous.GetFromJsonAsync<JsonElement>("/api/posts?limit=2");
        var second = await anonymous.GetFromJsonAsync<JsonElement>($"/api/posts?limit=2&cursor={first.GetProperty("next_cursor").GetString()}");
        var listed = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray())
            .Select(p => p.GetProperty("slug").GetString()).ToList();
        Assert.Equal(["gamma", "beta", "alpha"], listed);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/api/posts/unpublished-drafts")).StatusCode);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Tasks_and_the_gallery_page_newest_first_and_filter_by_status()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        var ids = new List<string>();
        foreach (var topic in new[] { "Write about One", "Write about Two", "Write about Three" })
        {
            ids.Add((await app.CreateTaskAsync(topic, 2)).GetProperty("id").GetString()!);
        }
        foreach (var id in ids)
        {
            await app.WaitForStatusAsync(id, "awaiting_approval");
        }
        var first = await client.GetFromJsonAsync<JsonElement>("/api/tasks?limit=2");
        var second = await client.GetFromJsonAsync<JsonElement>($"/api/tasks?limit=2&cursor={first.GetProperty("next_cursor").GetString()}");
        var listed = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).Select(t => t.GetProperty("id").GetString()).ToList();
        Assert.Equal(Enumerable.Reverse(ids), listed);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(3, (await client.GetFromJsonAsync<JsonElement>("/api/tasks?status=awaiting_approval")).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>("/api/tasks?status=published")).GetProperty("items").GetArrayLength());

        var images = new List<string>();
        string? cursor = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>("/api/media/images?limit=4" + (cursor is null ? "" : "&cursor=" + cursor));
            images.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("image_id").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(6, images.Distinct().Count());
        Assert.Equal(images.Order(StringComparer.Ordinal).Reverse(), images);
        var search = await client.GetFromJsonAsync<JsonElement>("/api/media/images?q=THREE");
        Assert.Equal(2, search.GetProperty("items").GetArrayLength());
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_republished_post_is_served_new_at_once_on_the_api_and_the_page()
    {
        await using var app = await TestApp.StartAsync(Database);
        using var client = app.Api();
        using var anonymous = app.CreateClient();
        var first = (await app.CreateTaskAsync("Write about Caching", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(first, "awaiting_approval");
        await client.PostAsJsonAsync($"/api/tasks/{first}/approve", new { index = 1 });
        await app.WaitForStatusAsync(first, "published");
        Assert.Equal("Caching", (await anonymous.GetFromJsonAsync<JsonElement>("/api/posts/caching")).GetProperty("title").GetString());
        Assert.Contains("Caching", await anonymous.GetStringAsync("/posts/caching"), StringComparison.Ordinal);

        // Under the default reuse policy a second task with the same title updates the same post.
        var second = (await app.CreateTaskAsync("Caching", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(second, "awaiting_approval");
        await client.PatchAsJsonAsync($"/api/tasks/{second}", new { title = "Caching, Revised" });
        await client.PostAsJsonAsync($"/api/tasks/{second}/approve", new { index = 1 });
        await app.WaitForStatusAsync(second, "published");

        Assert.Equal("Caching, Revised", (await anonymous.GetFromJsonAsync<JsonElement>("/api/posts/caching")).GetProperty("title").GetString());
        Assert.Contains("Caching, Revised", await anonymous.GetStringAsync("/posts/caching"), StringComparison.Ordinal);
        app.DeleteFolder();
    }

    private static List<string> Files(JsonElement task) =>
        task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Select(v => v.GetProperty("filename").GetString()!).ToList();
}

public sealed class SqliteWorkflowTests() : WorkflowTests(new SqliteDatabase());

public sealed class PostgresWorkflowTests() : WorkflowTests(new PostgresDatabase());
