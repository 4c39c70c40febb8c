using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;

namespace Proofsheet.IntegrationTests.Storage;

/// <summary>Two machines (own disks) on one PostgreSQL database and one preview bucket: the bug of issue 10.</summary>
public sealed class PreviewStoreNodeTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    [Fact]
    public async Task A_second_node_with_its_own_disk_serves_and_approves_a_candidate_the_first_generated()
    {
        var prefix = "nodes-" + Guid.NewGuid().ToString("N")[..8];
        var settings = S3PreviewStoreTests.PreviewSettings(s3, prefix);
        settings["Auth:AdminPassword"] = S3PreviewStoreTests.HubPassword;
        var database = new PostgresDatabase();
        var a = await TestApp.StartAsync(database, settings);
        var id = (await a.CreateTaskAsync("Write about Shared Buckets", 2)).GetProperty("id").GetString()!;
        var variations = (await a.WaitForStatusAsync(id, "awaiting_approval")).GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();

        await using var b = await TestApp.StartAsync(database, settings, sameDatabaseAs: a);
        Assert.NotEqual(a.Folder, b.Folder);
        using var client = b.Api();
        using var hub = await S3PreviewStoreTests.HubAsync(b);
        foreach (var v in variations)
        {
            var api = await client.GetByteArrayAsync(v.GetProperty("preview_url").GetString());
            Assert.Equal(v.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(api)));
            Assert.Equal(api, await hub.GetByteArrayAsync($"/hub/images/{v.GetProperty("image_id").GetString()}/file"));
        }
        // The first machine goes away: the second publishes from the bucket alone.
        await a.DisposeAsync();

        var approved = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 2 });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var post = await b.CreateClient().GetFromJsonAsync<JsonElement>("/api/posts/shared-buckets");
        var image = await b.CreateClient().GetByteArrayAsync(new Uri(post.GetProperty("featured_image_url").GetString()!).PathAndQuery);
        Assert.Equal(variations[1].GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(image)));
        Assert.Equal(5, Directory.GetFiles(b.MediaDirectory).Length); // the image, its social card and three WebP copies
        a.DeleteFolder();
        b.DeleteFolder();
    }

    [Fact]
    public async Task A_node_whose_preview_store_does_not_answer_says_503_and_changes_nothing()
    {
        var settings = S3PreviewStoreTests.PreviewSettings(s3, "down-" + Guid.NewGuid().ToString("N")[..8]);
        var database = new PostgresDatabase();
        await using var a = await TestApp.StartAsync(database, settings);
        var id = (await a.CreateTaskAsync("Write about Unreachable Buckets", 1)).GetProperty("id").GetString()!;
        var image = (await a.WaitForStatusAsync(id, "awaiting_approval")).GetProperty("metadata").GetProperty("image_variations")[0];
        await using var b = await TestApp.StartAsync(database,
            new Dictionary<string, string?>(settings) { ["Storage:Previews:S3:ServiceUrl"] = DeadServer.Url() }, sameDatabaseAs: a);
        using var client = b.Api();

        using var file = await client.GetAsync(image.GetProperty("preview_url").GetString());
        using var approve = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, file.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, approve.StatusCode);
        Assert.NotNull(approve.Headers.RetryAfter);
        Assert.Contains("not reachable", await approve.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("awaiting_approval", (await a.GetTaskAsync(id)).GetProperty("status").GetString());
        a.DeleteFolder();
        b.DeleteFolder();
    }

    [Fact]
    public async Task With_local_previews_a_second_node_cannot_approve_what_the_first_generated()
    {
        // Why the bucket exists: the local folder is one machine's.
        var database = new PostgresDatabase();
        await using var a = await TestApp.StartAsync(database);
        var id = (await a.CreateTaskAsync("Write about Lonely Disks", 1)).GetProperty("id").GetString()!;
        await a.WaitForStatusAsync(id, "awaiting_approval");
        await using var b = await TestApp.StartAsync(database, sameDatabaseAs: a);

        var approved = await b.Api().PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });

        Assert.Equal(HttpStatusCode.Conflict, approved.StatusCode);
        Assert.Contains("is gone", await approved.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        a.DeleteFolder();
        b.DeleteFolder();
    }

    [Fact]
    public async Task Readiness_fails_when_the_preview_bucket_is_missing_or_the_store_is_down_and_passes_when_it_answers()
    {
        var prefix = "ready-" + Guid.NewGuid().ToString("N")[..8];
        var good = S3PreviewStoreTests.PreviewSettings(s3, prefix);
        var missing = new Dictionary<string, string?>(good) { ["Storage:Previews:S3:Bucket"] = "no-such-bucket" };
        var down = new Dictionary<string, string?>(good) { ["Storage:Previews:S3:ServiceUrl"] = DeadServer.Url() };

        Assert.Equal(("healthy", HttpStatusCode.OK), await ReadinessAsync(good));
        Assert.Equal(("unhealthy", HttpStatusCode.ServiceUnavailable), await ReadinessAsync(missing));
        Assert.Equal(("unhealthy", HttpStatusCode.ServiceUnavailable), await ReadinessAsync(down));
    }

    private static async Task<(string Check, HttpStatusCode Status)> ReadinessAsync(Dictionary<string, string?> settings)
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), settings);
        using var response = await app.CreateClient().GetAsync("/health/ready");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var check = body.GetProperty("checks").GetProperty("storage:previews");
        Assert.Equal("s3", check.GetProperty("data").GetProperty("provider").GetString());
        Assert.DoesNotContain(S3rverFixture.SecretKey, check.ToString(), StringComparison.Ordinal);
        app.DeleteFolder();
        return (check.GetProperty("status").GetString()!, response.StatusCode);
    }

    [Theory]
    [InlineData("ftp", null, "Storage:Previews:Provider must be one of: local, s3")]
    [InlineData("s3", "Bucket", "Storage:Previews:S3:Bucket is not set")]
    [InlineData("s3", "AccessKey", "Storage:Previews:S3:AccessKey is not set")]
    [InlineData("s3", "SecretKey", "Storage:Previews:S3:SecretKey is not set")]
    public async Task An_unknown_provider_or_a_missing_s3_key_fails_at_start(string provider, string? missingKey, string message)
    {
        var settings = S3PreviewStoreTests.PreviewSettings(s3, "unused");
        settings["Storage:Previews:Provider"] = provider;
        settings["Storage:Previews:S3:SecretKey"] = "top-secret-value";
        if (missingKey is not null)
        {
            settings.Remove("Storage:Previews:S3:" + missingKey);
        }
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton(new AppPaths(builder.Configuration));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddPreviewStore();
        await using var app = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret-value", ex.Message, StringComparison.Ordinal);
    }
}
