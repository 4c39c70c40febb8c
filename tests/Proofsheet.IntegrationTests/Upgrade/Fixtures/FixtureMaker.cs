// Not compiled in this project (see the .csproj): make.sh copies it into a worktree of the release
// the fixtures come from and runs it there, against that release's app and test infrastructure.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Publishing;
using Proofsheet.Writing;

namespace Proofsheet.IntegrationTests.Upgrade;

/// <summary>
/// Drives the release's own app, through its API, until its database holds a task in every status,
/// a published post, delivered and dead webhook rows, a generated API key and admin password; then
/// stops it and keeps the database (SQLite file, or a plain pg_dump) with its preview and media folders.
/// </summary>
public sealed partial class FixtureMaker
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private static readonly string? Out = Environment.GetEnvironmentVariable("PROOFSHEET_FIXTURE_OUT");

    [Fact]
    public async Task Make_the_sqlite_fixture()
    {
        Assert.False(string.IsNullOrEmpty(Out), "make.sh sets PROOFSHEET_FIXTURE_OUT");
        var folder = await MakeAsync(new SqliteDatabase(), "sqlite");
        SqliteConnection.ClearAllPools(); // closes the last connection: the WAL is folded into the file
        var target = Path.Combine(Out!, "sqlite");
        Directory.CreateDirectory(target);
        File.Copy(Path.Combine(folder, "data", "proofsheet.db"), Path.Combine(target, "proofsheet.db"));
        CopyFolders(folder, target);
    }

    [Fact]
    public async Task Make_the_postgres_fixture()
    {
        Assert.False(string.IsNullOrEmpty(Out), "make.sh sets PROOFSHEET_FIXTURE_OUT");
        string? connectionString = null;
        var folder = await MakeAsync(new PostgresDatabase(), "postgres", cs => connectionString = cs);
        var target = Path.Combine(Out!, "postgres");
        Directory.CreateDirectory(target);
        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        var pgDump = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pg_dump")).First(File.Exists);
        var psi = new ProcessStartInfo(pgDump,
            ["--no-owner", "--no-privileges", "--format=plain", "-h", csb.Host!, "-p", csb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", csb.Username!, "-f", Path.Combine(target, "proofsheet.sql"), csb.Database!])
        { RedirectStandardError = true };
        using var dump = Process.Start(psi)!;
        var stderr = await dump.StandardError.ReadToEndAsync();
        await dump.WaitForExitAsync();
        Assert.True(dump.ExitCode == 0, stderr);
        CopyFolders(folder, target);
    }

    private static async Task<string> MakeAsync(TestDatabase database, string name, Action<string>? connection = null)
    {
        var writer = new HoldingWriter();
        var images = new HoldingImages();
        var store = new HoldingStore();
        await using var receiver = await StandInServer.StartAsync(app => app.MapPost("/hook", () => Results.Ok()));
        var console = Console.Out;
        var printed = new StringWriter();
        Console.SetOut(printed); // the generated API key and Hub password are printed once, at the first start
        TestApp app;
        try
        {
            app = await TestApp.StartAsync(database, new Dictionary<string, string?>
            {
                ["Auth:ApiKeys"] = null,
                ["Pipeline:MaxConcurrency"] = "3",
                ["Pipeline:MaxAttempts"] = "1",
                ["Publishing:PublicBaseUrl"] = "https://fixture.example",
                ["Webhooks:Urls"] = $"{receiver.BaseUrl}/hook,http://127.0.0.1:9/refused",
                ["Webhooks:Secret"] = "fixture-webhook-secret",
                ["Webhooks:MaxAttempts"] = "1",
            }, services =>
            {
                services.RemoveAll<IImageGenerator>();
                services.AddSingleton<IImageGenerator>(images);
                services.RemoveAll<ActiveWriter>();
                services.AddSingleton(sp => new ActiveWriter(writer.Wrap(sp.GetServices<IArticleWriter>().First(w => w.Name == "outline"))));
                services.RemoveAll<ActiveStore>();
                services.AddSingleton(sp => new ActiveStore(store.Wrap(sp.GetRequiredKeyedService<IPublishingStore>("local"))));
            });
            _ = app.Services;
        }
        finally
        {
            Console.SetOut(console);
        }
        connection?.Invoke(app.ConnectionString);
        var secrets = Secrets().Matches(printed.ToString()).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2, secrets.Count);
        var apiKey = secrets.Single(s => s.StartsWith("ps_", StringComparison.Ordinal));
        var password = secrets.Single(s => !s.StartsWith("ps_", StringComparison.Ordinal));
        using var api = app.CreateClient();
        api.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);

        async Task<string> CreateAsync(string topic)
        {
            var response = await api.PostAsJsonAsync("/api/tasks", new { topic, num_variations = 3 });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }
        async Task WaitAsync(string id, string status)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(50))
            {
                var task = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
                if (task.GetProperty("status").GetString() == status)
                {
                    return;
                }
                Assert.True(DateTime.UtcNow < deadline, $"{id} is {task.GetProperty("status")}, not {status}");
            }
        }
        async Task PostAsync(string path, object body) => Assert.True((await api.PostAsJsonAsync(path, body)).IsSuccessStatusCode, path);

        var ids = new Dictionary<string, string>();
        ids["published"] = await CreateAsync("Write about fixture sourdough loaves");
        ids["awaiting_approval"] = await CreateAsync("Write about fixture rye crackers");
        ids["rejected"] = await CreateAsync("Write about fixture burnt toast");
        ids["cancelled"] = await CreateAsync("Write about fixture abandoned scones");
        foreach (var id in ids.Values)
        {
            await WaitAsync(id, "awaiting_approval");
        }
        await PostAsync($"/api/tasks/{ids["published"]}/select", new { index = 2 });
        await PostAsync($"/api/tasks/{ids["published"]}/approve", new { feedback = "fixture approval" });
        await WaitAsync(ids["published"], "published");
        await PostAsync($"/api/tasks/{ids["rejected"]}/reject", new { feedback = "fixture rejection" });
        await WaitAsync(ids["rejected"], "rejected");
        await PostAsync($"/api/tasks/{ids["cancelled"]}/cancel", new { });
        await WaitAsync(ids["cancelled"], "cancelled");

        images.Fail = true;
        ids["failed"] = await CreateAsync("Write about fixture collapsed souffles");
        await WaitAsync(ids["failed"], "failed");
        images.Fail = false;

        // Three tasks caught mid-work fill the three workers, so a fourth stays queued.
        ids["publishing"] = await CreateAsync("Write about fixture brioche buns");
        await WaitAsync(ids["publishing"], "awaiting_approval");
        store.Hold = true;
        await PostAsync($"/api/tasks/{ids["publishing"]}/approve", new { index = 1 });
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        images.Hold = true;
        ids["generating_images"] = await CreateAsync("Write about fixture focaccia");
        await images.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        writer.Hold = true;
        ids["writing"] = await CreateAsync("Write about fixture pretzels");
        await writer.Entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        ids["queued"] = await CreateAsync("Write about fixture bagels");

        // Both webhook rows of the publish are settled: one delivered, one dead (its receiver refuses).
        var dbs = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        for (var deadline = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(50))
        {
            await using var db = await dbs.CreateDbContextAsync();
            var rows = await db.WebhookDeliveries.AsNoTracking().ToListAsync();
            if (rows.Count == 2 && rows.All(r => r.NextAttemptAt == null))
            {
                Assert.Single(rows, r => r.DeliveredAt != null);
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the webhook deliveries did not settle");
        }
        foreach (var (status, id) in ids)
        {
            Assert.Equal(status, (await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}")).GetProperty("status").GetString());
        }
        var slug = (await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{ids["published"]}")).GetProperty("slug").GetString();

        await app.DisposeAsync();
        var manifest = new Dictionary<string, object?>
        {
            ["release"] = Environment.GetEnvironmentVariable("PROOFSHEET_FIXTURE_RELEASE"),
            ["api_key"] = apiKey,
            ["admin_password"] = password,
            ["published_slug"] = slug,
            ["tasks"] = ids,
        };
        Directory.CreateDirectory(Path.Combine(Out!, name));
        await File.WriteAllTextAsync(Path.Combine(Out!, name, "fixture.json"),
            JsonSerializer.Serialize(manifest, Indented) + "\n");
        return app.Folder;
    }

    private static void CopyFolders(string folder, string target)
    {
        Copy(Path.Combine(folder, "previews"), Path.Combine(target, "previews"));
        Copy(Path.Combine(folder, "data", "media"), Path.Combine(target, "media"));
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        if (!Directory.Exists(from))
        {
            return;
        }
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var path = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Copy(file, path);
        }
    }

    [GeneratedRegex(@"^\s{4}(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex Secrets();

    private sealed class HoldingWriter
    {
        public volatile bool Hold;
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IArticleWriter Wrap(IArticleWriter inner) => new Writer(this, inner);

        private sealed class Writer(HoldingWriter gate, IArticleWriter inner) : IArticleWriter
        {
            public string Name => inner.Name;

            public async Task<ArticleDraft> WriteAsync(ArticleRequest request, CancellationToken cancellationToken)
            {
                if (gate.Hold)
                {
                    gate.Entered.TrySetResult();
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                return await inner.WriteAsync(request, cancellationToken);
            }
        }
    }

    private sealed class HoldingImages : IImageGenerator
    {
        private readonly TitleCardGenerator _inner = new();
        public volatile bool Hold;
        public volatile bool Fail;
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => _inner.Name;

        public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
        {
            if (Fail)
            {
                throw new InvalidOperationException("the fixture's image backend is down");
            }
            if (Hold)
            {
                Entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            return await _inner.GenerateAsync(request, progress, cancellationToken);
        }
    }

    private sealed class HoldingStore
    {
        public volatile bool Hold;
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IPublishingStore Wrap(IPublishingStore inner) => new Store(this, inner);

        private sealed class Store(HoldingStore gate, IPublishingStore inner) : IPublishingStore
        {
            public string Name => inner.Name;

            public async Task<PublishedAsset> UploadAsync(PublishRequest request, CancellationToken cancellationToken)
            {
                if (gate.Hold)
                {
                    gate.Entered.TrySetResult();
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                return await inner.UploadAsync(request, cancellationToken);
            }
        }
    }
}
