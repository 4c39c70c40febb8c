using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Proofsheet.Auth;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Upgrade;

/// <summary>
/// A database made by an earlier release (Upgrade/Fixtures, made by make.sh there) opened by this
/// one: the migrations run at start, every row the old release wrote is still there, and the data is
/// usable — a waiting task is approved and publishes, the published post still serves, the tasks
/// caught mid-work finish, the generated API key and Hub password still work.
/// </summary>
public sealed class UpgradeTests
{
    /// <summary>
    /// One check per migration after the fixture's release, in order. A new migration adds a step
    /// here, named by its migration id, that checks on the fixture's rows what it changed (a new
    /// column's value for old rows, a moved or rewritten value, a new table starting empty); the test
    /// fails while a migration has no step. The release's own rows are checked by BaselineAsync.
    /// </summary>
    private static readonly (string Migration, Func<Upgraded, Task> Check)[] Steps =
    [
        ("20261201000100_Cluster", ClusterAsync),
        ("20261201000200_ReviewDesk", ReviewDeskAsync),
        ("20261201000300_CandidateModel", CandidateModelAsync),
        ("20261201000600_WebImages", WebImagesAsync),
        ("20261202000100_People", PeopleAsync),
        ("20261202000200_ScheduledPublishing", ScheduledPublishingAsync),
        ("20261202000201_ReviewLinks", ReviewLinksAsync),
        ("20261202000300_TaskListIndexes", TaskListIndexesAsync),
        ("20261202000501_RoundSettings", RoundSettingsAsync),
    ];

    /// <summary>Indexes only: the old release's tasks are found by status in the task list's and the queue's orders.</summary>
    private static async Task TaskListIndexesAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var old = u.Before["tasks"];
        var statuses = await db.Tasks.Where(t => old.Contains(t.Id)).Select(t => t.Status).Distinct().ToListAsync();
        foreach (var status in statuses)
        {
            var byId = await db.Tasks.Where(t => t.Status == status).OrderByDescending(t => t.Id).Select(t => t.Id).ToListAsync();
            var byUpdate = await db.Tasks.Where(t => t.Status == status).OrderBy(t => t.UpdatedAt).ThenBy(t => t.Id).Select(t => t.Id).ToListAsync();
            Assert.Equal(byId.OrderBy(i => i, StringComparer.Ordinal), byUpdate.OrderBy(i => i, StringComparer.Ordinal));
            Assert.Contains(byId, old.Contains);
        }
    }

    /// <summary>The old release's tasks wait for no prompt rewrite and keep no "more like this" settings.</summary>
    private static async Task RoundSettingsAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var old = u.Before["tasks"];
        var tasks = await db.Tasks.Where(t => old.Contains(t.Id)).ToListAsync();
        Assert.NotEmpty(tasks);
        Assert.All(tasks, t => Assert.Null(t.PromptFeedback));
        Assert.All(tasks, t => Assert.Null(t.PendingSettings));
    }

    /// <summary>Leases, node heartbeats, shared counters, the key ring, the node on task events.</summary>
    private static async Task ClusterAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        // The old release's tasks hold no lease once their work is done (the upgraded app ran them).
        Assert.Empty(await db.Tasks.Where(t => t.LeaseOwner != null).Select(t => t.Id).ToListAsync());
        // Its events name no node; the new app's events name this one.
        var oldEvents = u.Before["task_events"].Select(long.Parse).ToList();
        Assert.All(await db.TaskEvents.Where(e => oldEvents.Contains(e.Id)).Select(e => e.Node).ToListAsync(), Assert.Null);
        var node = u.App.Services.GetRequiredService<Proofsheet.Cluster.NodeIdentity>().Id;
        Assert.Contains(node, await db.TaskEvents.Where(e => !oldEvents.Contains(e.Id)).Select(e => e.Node).Distinct().ToListAsync());
        // The Hub's key ring now lives in the database (made at start).
        Assert.NotEmpty(await db.DataProtectionKeys.ToListAsync());
        await db.RateCounters.CountAsync();
    }

    /// <summary>Old candidates and tasks are round 1 with no stars and nothing in the trash; no post has an earlier slug yet.</summary>
    private static async Task ReviewDeskAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var old = u.Before["image_candidates"];
        var candidates = await db.Images.Where(i => old.Contains(i.Id)).ToListAsync();
        Assert.All(candidates, i => Assert.Equal((1, 0), (i.Round, i.Stars)));
        var oldTasks = u.Before["tasks"];
        Assert.All(await db.Tasks.Where(t => oldTasks.Contains(t.Id)).Select(t => t.Round).ToListAsync(), r => Assert.Equal(1, r));
        Assert.Empty(await db.PostRedirects.ToListAsync());
    }

    /// <summary>Candidates of the old release have no recorded model; they still serve and publish (checked above).</summary>
    private static async Task CandidateModelAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var old = u.Before["image_candidates"];
        Assert.All(await db.Images.Where(i => old.Contains(i.Id)).Select(i => i.Model).ToListAsync(), Assert.Null);
    }

    /// <summary>The post the old release published has no social card or responsive copies and its page shares
    /// the featured image; the posts the new release published (approved or resumed above) have one, served.</summary>
    private static async Task WebImagesAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var slug = u.Manifest.GetProperty("published_slug").GetString()!;
        var old = await db.Posts.SingleAsync(p => p.Slug == slug);
        Assert.Null(old.SocialImageUrl);
        Assert.Null(old.FeaturedImageSrcset);
        using var api = u.Api();
        var page = WebUtility.HtmlDecode(await api.GetStringAsync($"/posts/{slug}"));
        Assert.Contains($"<meta property=\"og:image\" content=\"{old.FeaturedImageUrl}\"", page, StringComparison.Ordinal);

        var approved = await db.Posts.Where(p => p.TaskId == u.Task("awaiting_approval")).SingleAsync();
        Assert.EndsWith("-social.jpg", approved.SocialImageUrl, StringComparison.Ordinal);
        Assert.Equal("image/jpeg", (await api.GetAsync(new Uri(approved.SocialImageUrl!).AbsolutePath)).Content.Headers.ContentType!.MediaType);
    }

    /// <summary>The old release published at once: none of its tasks has a time to go live, and none is scheduled.</summary>
    private static async Task ScheduledPublishingAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var oldTasks = u.Before["tasks"];
        Assert.All(await db.Tasks.Where(t => oldTasks.Contains(t.Id)).Select(t => t.PublishAt).ToListAsync(), Assert.Null);
        Assert.Empty(await db.Tasks.Where(t => t.Status == Proofsheet.Tasks.WorkflowStatus.Scheduled).Select(t => t.Id).ToListAsync());
    }

    /// <summary>No review link existed before; the table is there and empty.</summary>
    private static async Task ReviewLinksAsync(Upgraded u)
    {
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        Assert.Empty(await db.ReviewLinks.ToListAsync());
    }

    /// <summary>The old release's one password is now the first admin's (email left empty still means them); its API key
    /// acts as that admin; old tasks have no creator or assignee; nothing waits in the email outbox.</summary>
    private static async Task PeopleAsync(Upgraded u)
    {
        var people = u.App.Services.GetRequiredService<Proofsheet.People.PeopleStore>();
        var admin = await people.VerifyAsync("", u.Manifest.GetProperty("admin_password").GetString(), CancellationToken.None);
        Assert.Equal(("admin", "admin"), (admin?.Role, admin?.Email));
        Assert.Null(await people.VerifyAsync("admin", "not the password", CancellationToken.None));
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var oldTasks = u.Before["tasks"];
        Assert.All(await db.Tasks.Where(t => oldTasks.Contains(t.Id)).Select(t => new { t.CreatedBy, t.AssigneeId }).ToListAsync(),
            t => Assert.Equal((null, null), (t.CreatedBy, t.AssigneeId)));
        Assert.Empty(await db.EmailOutbox.ToListAsync());
        using var api = u.Api();
        var created = await (await api.PostAsJsonAsync("/api/tasks", new { topic = "After the upgrade, by the old key" })).Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal(admin!.Id, created.GetProperty("created_by").GetString());
        Assert.Contains(await db.TaskEvents.Where(e => e.TaskId == id && e.Kind == "created").Select(e => e.Actor).ToListAsync(),
            actor => actor.StartsWith("Admin via API key", StringComparison.Ordinal));
        // Its work ends before the test removes the folders.
        await u.App.WaitForStatusAsync(id, "awaiting_approval");
    }

    private static readonly string FixtureRoot = Path.Combine(AppContext.BaseDirectory, "Upgrade", "Fixtures");

    /// <summary>Every table's key column in the fixture's release; each row found there must still be there.</summary>
    private static readonly (string Table, string Key)[] Tables =
    [
        ("tasks", "Id"), ("posts", "Id"), ("image_candidates", "Id"), ("task_events", "Id"),
        ("webhook_deliveries", "Id"), ("api_keys", "Id"), ("settings", "Key"), ("__EFMigrationsHistory", "MigrationId"),
    ];

    [Fact]
    public Task Sqlite_database_from_the_previous_release_is_migrated_and_usable() => UpgradeAsync(new SqliteDatabase());

    [Fact]
    public Task Postgres_dump_from_the_previous_release_is_migrated_and_usable() => UpgradeAsync(new PostgresDatabase());

    private static async Task UpgradeAsync(TestDatabase database)
    {
        var fixture = Path.Combine(FixtureRoot, database.Provider);
        var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(fixture, "fixture.json"))).RootElement;
        var folder = Directory.CreateTempSubdirectory("proofsheet-upgrade-").FullName;
        CopyFolder(Path.Combine(fixture, "previews"), Path.Combine(folder, "previews"));
        CopyFolder(Path.Combine(fixture, "media"), Path.Combine(folder, "data", "media"));
        string connectionString;
        if (database.Provider == "sqlite")
        {
            File.Copy(Path.Combine(fixture, "proofsheet.db"), Path.Combine(folder, "data", "proofsheet.db"));
            connectionString = $"Data Source={Path.Combine(folder, "data", "proofsheet.db")}";
        }
        else
        {
            connectionString = await database.CreateAsync(Path.Combine(folder, "data"));
            await LoadDumpAsync(connectionString, Path.Combine(fixture, "proofsheet.sql"));
        }
        var before = await ReadKeysAsync(database.Provider, connectionString);

        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = connectionString,
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Publishing:PublicBaseUrl"] = "https://fixture.example",
        });
        var upgraded = new Upgraded(app, manifest, before);

        var after = await ReadKeysAsync(database.Provider, connectionString);
        foreach (var (table, keys) in before)
        {
            Assert.True(keys.IsSubsetOf(after[table]), $"rows of {table} are missing after the upgrade: {string.Join(", ", keys.Except(after[table]))}");
        }
        await BaselineAsync(upgraded);

        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            var newer = db.Database.GetMigrations().Except(before["__EFMigrationsHistory"]).ToList();
            var missing = newer.Except(Steps.Select(s => s.Migration)).ToList();
            Assert.True(missing.Count == 0, $"each migration after the fixture's release needs a step in UpgradeTests.Steps: {string.Join(", ", missing)}");
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        }
        foreach (var (_, check) in Steps)
        {
            await check(upgraded);
        }
        app.DeleteFolder();
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>What the fixture's release (fda2de2) wrote, still true and usable.</summary>
    private static async Task BaselineAsync(Upgraded u)
    {
        using var api = u.Api();
        // The API key and the Hub password the old release generated (stored only as hashes; the
        // client below sends only that key, the test's own configured key aside).
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/tasks")).StatusCode);
        Assert.True(u.App.Services.GetRequiredService<AdminPassword>().Verify(u.Manifest.GetProperty("admin_password").GetString()));

        // Finished and waiting tasks are as they were.
        foreach (var status in new[] { "published", "rejected", "cancelled", "failed", "awaiting_approval" })
        {
            var task = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{u.Task(status)}");
            Assert.Equal(status, task.GetProperty("status").GetString());
        }

        // The published post still serves, with its image from the media folder.
        var slug = u.Manifest.GetProperty("published_slug").GetString()!;
        var post = await api.GetFromJsonAsync<JsonElement>($"/api/posts/{slug}");
        var image = new Uri(post.GetProperty("featured_image_url").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(image.AbsolutePath)).StatusCode);
        var page = await api.GetAsync($"/posts/{slug}");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains(post.GetProperty("title").GetString()!, WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        Assert.NotEmpty((await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{u.Task("published")}/history")).EnumerateArray());

        // The waiting task's candidates are there; one is chosen and the task publishes.
        var waiting = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{u.Task("awaiting_approval")}");
        var candidates = waiting.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        Assert.Equal(3, candidates.Count);
        foreach (var candidate in candidates)
        {
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync($"/api/media/images/{candidate.GetProperty("image_id").GetString()}/file")).StatusCode);
        }
        Assert.True((await api.PostAsJsonAsync($"/api/tasks/{u.Task("awaiting_approval")}/approve", new { index = 3 })).IsSuccessStatusCode);
        var approved = await u.App.WaitForStatusAsync(u.Task("awaiting_approval"), "published");
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync($"/api/posts/{approved.GetProperty("slug").GetString()}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync($"/posts/{approved.GetProperty("slug").GetString()}")).StatusCode);

        // Tasks the old release left mid-work are picked up and finish; the failed one can be retried.
        await u.App.WaitForStatusAsync(u.Task("publishing"), "published");
        foreach (var status in new[] { "queued", "writing", "generating_images" })
        {
            await u.App.WaitForStatusAsync(u.Task(status), "awaiting_approval");
        }
        Assert.True((await api.PostAsJsonAsync($"/api/tasks/{u.Task("failed")}/retry", new { })).IsSuccessStatusCode);
        await u.App.WaitForStatusAsync(u.Task("failed"), "awaiting_approval");

        // The webhook outbox and the settings kept their rows as they were.
        await using var db = await u.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var deliveries = await db.WebhookDeliveries.AsNoTracking().Where(d => u.Before["webhook_deliveries"].Contains(d.Id)).ToListAsync();
        Assert.Equal(2, deliveries.Count);
        Assert.Single(deliveries, d => d.DeliveredAt != null && d.Event == "post.published");
        Assert.Single(deliveries, d => d.DeliveredAt == null && d.NextAttemptAt == null && d.LastError != null);
        Assert.NotNull(await db.Settings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == AdminPassword.SettingKey));
    }

    private static async Task<Dictionary<string, HashSet<string>>> ReadKeysAsync(string provider, string connectionString)
    {
        await using DbConnection connection = provider == "sqlite"
            ? new SqliteConnection(connectionString + ";Pooling=false")
            : new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var keys = new Dictionary<string, HashSet<string>>();
        foreach (var (table, key) in Tables)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"""SELECT "{key}" FROM "{table}" """;
            await using var reader = await command.ExecuteReaderAsync();
            var set = new HashSet<string>(StringComparer.Ordinal);
            while (await reader.ReadAsync())
            {
                set.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!); // task_events ids are numbers
            }
            keys[table] = set;
        }
        return keys;
    }

    /// <summary>Loads a plain pg_dump with psql, as an operator restoring it would.</summary>
    private static async Task LoadDumpAsync(string connectionString, string dump)
    {
        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        var psql = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "psql")).FirstOrDefault(File.Exists) ?? "psql"
            : "psql";
        var psi = new ProcessStartInfo(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", csb.Host!, "-p", csb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", csb.Username!, "-d", csb.Database!, "-f", dump])
        { RedirectStandardError = true, RedirectStandardOutput = true };
        if (csb.Password is not null)
        {
            psi.Environment["PGPASSWORD"] = csb.Password;
        }
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await stdout;
        Assert.True(process.ExitCode == 0, $"psql could not load {dump}: {stderr}");
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    /// <summary>The upgraded app, the fixture's manifest and the keys of every row the fixture had.</summary>
    private sealed record Upgraded(TestApp App, JsonElement Manifest, Dictionary<string, HashSet<string>> Before)
    {
        public string Task(string status) => Manifest.GetProperty("tasks").GetProperty(status).GetString()!;

        public HttpClient Api()
        {
            var client = App.CreateClient(new() { AllowAutoRedirect = false });
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Manifest.GetProperty("api_key").GetString());
            return client;
        }
    }
}
