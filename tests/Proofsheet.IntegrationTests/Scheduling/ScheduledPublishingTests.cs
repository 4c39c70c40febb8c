using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Scheduling;

/// <summary>
/// Approving with publish_at (docs/workflow.md, "Scheduled publishing"). The app's clock is a
/// FakeTimeProvider the test moves, so nothing here waits for real time to pass: a post's time
/// "comes" when the test advances the clock, and the poll it triggers is waited on as an event.
/// </summary>
public abstract class ScheduledPublishingTests(TestDatabase database)
{
    private const int PollSeconds = 5;
    private const string Receiver = "http://127.0.0.1:9/hook"; // never answers: deliveries stay queued, to be counted

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Publishing:SchedulePollSeconds"] = PollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Webhooks:Urls"] = Receiver,
        ["Webhooks:Secret"] = "schedule-secret",
    };

    private Task<TestApp> StartAsync(FakeTimeProvider clock, TestApp? sameDataAs = null, TestApp? sameDatabaseAs = null) =>
        TestApp.StartAsync(database, Settings, services => services.AddSingleton<TimeProvider>(clock), sameDataAs, sameDatabaseAs);

    private static async Task<string> AwaitingTaskAsync(TestApp app, string topic)
    {
        var id = (await app.CreateTaskAsync(topic, 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        return id;
    }

    /// <summary>A time to the whole second, as a person would pick it (and as <see cref="Iso"/> writes it).</summary>
    private static DateTimeOffset Whole(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, t.Offset);

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task WaitForPassAsync(TestApp app, long after)
    {
        var scheduler = app.Services.GetRequiredService<ScheduledPublisher>();
        await TestApp.WaitUntilAsync(() => Task.FromResult(scheduler.Passes > after));
    }

    private static async Task<List<(string Kind, string? To, string Actor)>> HistoryAsync(TestApp app, string id)
    {
        using var api = app.Api();
        var history = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        return history.EnumerateArray().Select(e => (e.GetProperty("kind").GetString()!, e.GetProperty("to_status").GetString(), e.GetProperty("actor").GetString()!)).ToList();
    }

    private static async Task<List<string>> WebhookEventsAsync(TestApp app)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        return await db.WebhookDeliveries.OrderBy(d => d.Id).Select(d => d.Event).ToListAsync();
    }

    [Fact]
    public async Task A_scheduled_post_goes_live_once_within_a_poll_of_its_time_after_a_restart()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var publishAt = Whole(clock.GetUtcNow().AddMinutes(10));
        string id, slug;
        TestApp first;
        await using (first = await StartAsync(clock))
        {
            using var api = first.Api();
            id = await AwaitingTaskAsync(first, "Write about Winter Markets");
            var approved = await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 2, publish_at = Iso(publishAt) });
            Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
            var task = await approved.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("scheduled", task.GetProperty("status").GetString());
            Assert.Equal(publishAt.UtcDateTime, task.GetProperty("publish_at").GetDateTime().ToUniversalTime());
            slug = task.GetProperty("slug").GetString()!;
            // The image went to the store at approval (a failing store shows now, not at the time)...
            var chosen = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Single(v => v.GetProperty("index").GetInt32() == 2);
            var cdn = chosen.GetProperty("cdn_url").GetString()!;
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(new Uri(cdn).AbsolutePath)).StatusCode);
            // ...but the post is not live.
            using var reader = first.CreateClient();
            Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync($"/api/posts/{slug}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync($"/posts/{slug}")).StatusCode);
            Assert.Contains("task.scheduled", await WebhookEventsAsync(first));
        }

        // A new process on the same data, its clock where the old one stopped.
        var later = new FakeTimeProvider(clock.GetUtcNow());
        await using var app = await StartAsync(later, sameDataAs: first);
        await WaitForPassAsync(app, 0);
        Assert.Equal("scheduled", (await app.GetTaskAsync(id)).GetProperty("status").GetString());

        // A second before its time, a poll leaves it waiting.
        later.Advance(publishAt - later.GetUtcNow() - TimeSpan.FromSeconds(1));
        await WaitForPassAsync(app, 1);
        Assert.Equal("scheduled", (await app.GetTaskAsync(id)).GetProperty("status").GetString());

        // One poll interval later it is live.
        later.Advance(TimeSpan.FromSeconds(PollSeconds));
        await app.WaitForStatusAsync(id, "published");
        using (var reader = app.CreateClient())
        {
            var post = await reader.GetFromJsonAsync<JsonElement>($"/api/posts/{slug}");
            Assert.NotNull(post.GetProperty("featured_image_url").GetString());
            Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync($"/posts/{slug}")).StatusCode);
        }

        // Once: more polls (and a direct one) find nothing to do.
        later.Advance(TimeSpan.FromSeconds(PollSeconds));
        await WaitForPassAsync(app, 3);
        Assert.Equal(0, await app.Services.GetRequiredService<ScheduledPublisher>().PublishDueAsync(CancellationToken.None));
        var history = await HistoryAsync(app, id);
        Assert.Equal(["publishing", "scheduled", "published"], history.Where(e => e.Kind == "status_changed").Select(e => e.To).Skip(3));
        Assert.Single(await WebhookEventsAsync(app), e => e == "post.published");
        app.DeleteFolder();
    }

    [Fact]
    public async Task Cancelling_a_schedule_leaves_an_unpublished_draft_with_its_chosen_image()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        using var api = app.Api();
        var id = await AwaitingTaskAsync(app, "Write about Frost Fairs");
        var publishAt = Whole(clock.GetUtcNow().AddHours(2));
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = Iso(publishAt) })).StatusCode);

        // Rescheduling moves the time (and tells the receivers again).
        var moved = publishAt.AddHours(1);
        var rescheduled = await api.PutAsJsonAsync($"/api/tasks/{id}/schedule", new { publish_at = Iso(moved) });
        Assert.Equal(HttpStatusCode.OK, rescheduled.StatusCode);
        Assert.Equal(moved.UtcDateTime, (await rescheduled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("publish_at").GetDateTime().ToUniversalTime());
        Assert.Equal(2, (await WebhookEventsAsync(app)).Count(e => e == "task.scheduled"));

        var cancelled = await api.DeleteAsync($"/api/tasks/{id}/schedule");
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        var task = await cancelled.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("awaiting_approval", task.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, task.GetProperty("publish_at").ValueKind);
        Assert.Equal(1, task.GetProperty("metadata").GetProperty("selected_image_index").GetInt32());
        Assert.False(task.GetProperty("metadata").GetProperty("approved").GetBoolean());

        // Its time passes and nothing happens.
        clock.Advance(TimeSpan.FromHours(4));
        Assert.Equal(0, await app.Services.GetRequiredService<ScheduledPublisher>().PublishDueAsync(CancellationToken.None));
        Assert.Equal("awaiting_approval", (await app.GetTaskAsync(id)).GetProperty("status").GetString());
        using var reader = app.CreateClient();
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync($"/api/posts/{task.GetProperty("slug").GetString()}")).StatusCode);
        Assert.Contains(await HistoryAsync(app, id), e => e.Kind == "schedule_cancelled");

        // Approved again without a time, it publishes at once with the image chosen before.
        var now = await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { });
        Assert.Equal(HttpStatusCode.OK, now.StatusCode);
        Assert.Equal("published", (await now.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Bad_times_unknown_tasks_and_wrong_states_are_problems_that_change_nothing()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        using var api = app.Api();
        var id = await AwaitingTaskAsync(app, "Write about Snow Days");
        var before = (await app.GetTaskAsync(id)).GetProperty("updated_at").GetString();

        foreach (var bad in new[] { Iso(clock.GetUtcNow().AddMinutes(-1)), "tomorrow", "2026-12-24T09:00:00", "2026-13-40T09:00:00Z", Iso(clock.GetUtcNow().AddDays(400)), "" })
        {
            var response = await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = bad });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty("publish_at", out _), bad);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await api.PutAsJsonAsync($"/api/tasks/{id}/schedule", new { })).StatusCode);
        var unchanged = await app.GetTaskAsync(id);
        Assert.Equal("awaiting_approval", unchanged.GetProperty("status").GetString());
        Assert.Equal(before, unchanged.GetProperty("updated_at").GetString());

        var future = Iso(clock.GetUtcNow().AddHours(1));
        const string unknown = "0123456789abcdef0123456789abcdef";
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsJsonAsync($"/api/tasks/{unknown}/approve", new { publish_at = future })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.PutAsJsonAsync($"/api/tasks/{unknown}/schedule", new { publish_at = future })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.DeleteAsync($"/api/tasks/{unknown}/schedule")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.DeleteAsync("/api/tasks/not-an-id/schedule")).StatusCode);

        // Not scheduled: nothing to move or cancel.
        Assert.Equal(HttpStatusCode.Conflict, (await api.PutAsJsonAsync($"/api/tasks/{id}/schedule", new { publish_at = future })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await api.DeleteAsync($"/api/tasks/{id}/schedule")).StatusCode);

        // Scheduled: approving again is refused, as is cancelling the task's schedule once live.
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = future })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await api.PostAsJsonAsync($"/api/tasks/{id}/unpublish", new { })).StatusCode);
        clock.Advance(TimeSpan.FromHours(1));
        await app.WaitForStatusAsync(id, "published");
        Assert.Equal(HttpStatusCode.Conflict, (await api.DeleteAsync($"/api/tasks/{id}/schedule")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await api.PutAsJsonAsync($"/api/tasks/{id}/schedule", new { publish_at = Iso(clock.GetUtcNow().AddHours(1)) })).StatusCode);
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_scheduled_task_whose_upload_is_not_recorded_is_uploaded_again_at_its_time()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        using var api = app.Api();
        var id = await AwaitingTaskAsync(app, "Write about Lost Uploads");
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = Iso(clock.GetUtcNow().AddMinutes(1)) })).StatusCode);
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            await db.Images.Where(i => i.TaskId == id).ExecuteUpdateAsync(u => u.SetProperty(i => i.CdnUrl, (string?)null));
        }
        clock.Advance(TimeSpan.FromMinutes(1));
        var task = await app.WaitForStatusAsync(id, "published");
        Assert.NotNull(task.GetProperty("metadata").GetProperty("featured_image_url").GetString());
        Assert.Contains(await HistoryAsync(app, id), e => e.Kind == "status_changed" && e.To == "publishing" && e.Actor == "system");
        app.DeleteFolder();
    }

    [Fact]
    public async Task Many_polls_at_once_publish_a_due_post_once()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        using var api = app.Api();
        var id = await AwaitingTaskAsync(app, "Write about Ice Lanterns");
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = Iso(clock.GetUtcNow().AddMinutes(1)) })).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(1));

        var scheduler = app.Services.GetRequiredService<ScheduledPublisher>();
        var counts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => scheduler.PublishDueAsync(CancellationToken.None))));
        await app.WaitForStatusAsync(id, "published");

        Assert.True(counts.Sum() <= 1, $"published {counts.Sum()} times"); // the background poll may have been first
        Assert.Single(await HistoryAsync(app, id), e => e.To == "published");
        Assert.Single(await WebhookEventsAsync(app), e => e == "post.published");
        app.DeleteFolder();
    }
}

public sealed class SqliteScheduledPublishingTests() : ScheduledPublishingTests(new SqliteDatabase());

public sealed class PostgresScheduledPublishingTests() : ScheduledPublishingTests(new PostgresDatabase())
{
    [Fact]
    public async Task Two_nodes_polling_the_same_database_publish_a_due_post_once()
    {
        var database = new PostgresDatabase();
        var clockA = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var clockB = new FakeTimeProvider(clockA.GetUtcNow());
        var settings = new Dictionary<string, string?>
        {
            ["Publishing:SchedulePollSeconds"] = PollSecondsForNodes,
            ["Webhooks:Urls"] = "http://127.0.0.1:9/hook",
            ["Webhooks:Secret"] = "schedule-secret",
        };
        await using var a = await TestApp.StartAsync(database, settings, s => s.AddSingleton<TimeProvider>(clockA));
        using var api = a.Api();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await a.CreateTaskAsync($"Write about Northern Lights {i}", 1)).GetProperty("id").GetString()!);
        }
        var publishAt = clockA.GetUtcNow().AddMinutes(5);
        foreach (var id in ids)
        {
            await a.WaitForStatusAsync(id, "awaiting_approval");
            Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = publishAt.UtcDateTime.ToString("O") })).StatusCode);
        }
        // The second node joins once the posts are scheduled: with local preview folders (one per node,
        // as here) a node can approve only the images it made; a shared bucket lifts that (docs/storage.md).
        await using var b = await TestApp.StartAsync(database, settings, s => s.AddSingleton<TimeProvider>(clockB), sameDatabaseAs: a);
        await TestApp.WaitUntilAsync(() => Task.FromResult(b.Services.GetRequiredService<ScheduledPublisher>().Passes > 0));
        var passesA = a.Services.GetRequiredService<ScheduledPublisher>().Passes;
        var passesB = b.Services.GetRequiredService<ScheduledPublisher>().Passes;

        // Both clocks reach the time together: both nodes' polls (and a direct call on each) race for the same rows.
        clockA.Advance(TimeSpan.FromMinutes(5));
        clockB.Advance(TimeSpan.FromMinutes(5));
        var direct = await Task.WhenAll(
            Task.Run(() => a.Services.GetRequiredService<ScheduledPublisher>().PublishDueAsync(CancellationToken.None)),
            Task.Run(() => b.Services.GetRequiredService<ScheduledPublisher>().PublishDueAsync(CancellationToken.None)));
        await TestApp.WaitUntilAsync(() => Task.FromResult(
            a.Services.GetRequiredService<ScheduledPublisher>().Passes > passesA && b.Services.GetRequiredService<ScheduledPublisher>().Passes > passesB));
        foreach (var id in ids)
        {
            await a.WaitForStatusAsync(id, "published");
            var history = await a.Api().GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
            Assert.Single(history.EnumerateArray(), e => e.GetProperty("to_status").GetString() == "published");
        }
        Assert.True(direct.Sum() <= 3);
        await using var db = await a.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        Assert.Equal(3, await db.WebhookDeliveries.CountAsync(d => d.Event == "post.published"));
        a.DeleteFolder();
        b.DeleteFolder();
    }

    private const string PollSecondsForNodes = "5";
}
