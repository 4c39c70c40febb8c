using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;

namespace Proofsheet.IntegrationTests.Storage;

/// <summary>The workflow with previews in an S3 bucket (s3rver) instead of the local folder, on each database.</summary>
public abstract partial class S3PreviewStoreTests(TestDatabase database, S3rverFixture s3) : IDisposable
{
    public const string HubPassword = "hub-password-for-tests";

    private readonly AmazonS3Client _bucket = new(new BasicAWSCredentials(S3rverFixture.AccessKey, S3rverFixture.SecretKey),
        new AmazonS3Config { ServiceURL = s3.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

    // Each test keeps its previews under a prefix of its own in the shared bucket.
    private readonly string _prefix = "previews-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose() => _bucket.Dispose();

    private Dictionary<string, string?> Settings(IDictionary<string, string?>? more = null)
    {
        var settings = PreviewSettings(s3, _prefix);
        settings["Auth:AdminPassword"] = HubPassword;
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
    }

    public static Dictionary<string, string?> PreviewSettings(S3rverFixture s3, string prefix) => new()
    {
        ["Storage:Previews:Provider"] = "s3",
        ["Storage:Previews:S3:ServiceUrl"] = s3.ServiceUrl,
        ["Storage:Previews:S3:Bucket"] = S3rverFixture.Bucket,
        ["Storage:Previews:S3:Prefix"] = prefix,
        ["Storage:Previews:S3:AccessKey"] = S3rverFixture.AccessKey,
        ["Storage:Previews:S3:SecretKey"] = S3rverFixture.SecretKey,
    };

    /// <summary>The names under <paramref name="prefix"/>, from the listing alone: safe to poll while the app
    /// deletes (reading each object too can meet one deleted between the listing and the read).</summary>
    private async Task<List<string>> NamesAsync(string prefix)
    {
        var listing = await _bucket.ListObjectsV2Async(new ListObjectsV2Request { BucketName = S3rverFixture.Bucket, Prefix = prefix + "/" });
        return (listing.S3Objects ?? []).Select(o => o.Key[(prefix.Length + 1)..]).ToList();
    }

    private async Task<Dictionary<string, byte[]>> ObjectsAsync(string prefix)
    {
        var listing = await _bucket.ListObjectsV2Async(new ListObjectsV2Request { BucketName = S3rverFixture.Bucket, Prefix = prefix + "/" });
        var objects = new Dictionary<string, byte[]>();
        foreach (var o in listing.S3Objects ?? [])
        {
            using var got = await _bucket.GetObjectAsync(S3rverFixture.Bucket, o.Key);
            using var bytes = new MemoryStream();
            await got.ResponseStream.CopyToAsync(bytes);
            objects[o.Key[(prefix.Length + 1)..]] = bytes.ToArray();
        }
        return objects;
    }

    private static List<JsonElement> Variations(JsonElement task) =>
        task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();

    /// <summary>A Hub session: the login form's antiforgery token, then the password.</summary>
    public static async Task<HttpClient> HubAsync(TestApp app)
    {
        var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var form = await client.GetStringAsync("/hub/login");
        var token = CsrfToken().Match(form);
        Assert.True(token.Success, "the login form has an antiforgery field");
        var login = await client.PostAsync("/hub/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [token.Groups["name"].Value] = WebUtility.HtmlDecode(token.Groups["value"].Value),
            ["password"] = HubPassword,
        }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return client;
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]+)\" value=\"(?<value>[^\"]+)\"")]
    private static partial Regex CsrfToken();

    [Fact]
    public async Task Candidates_are_objects_in_the_bucket_served_by_the_api_and_the_hub_and_removed_once_published()
    {
        await using var app = await TestApp.StartAsync(database, Settings());
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Bucket Previews")).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        var variations = Variations(task);
        Assert.Equal(3, variations.Count);
        var objects = await ObjectsAsync(_prefix);
        Assert.Equal(variations.Select(v => v.GetProperty("filename").GetString()!).Order(), objects.Keys.Order());
        Assert.False(Directory.Exists(app.PreviewDirectory) && Directory.EnumerateFileSystemEntries(app.PreviewDirectory).Any(),
            "nothing is written to the local preview folder");
        Assert.Equal(JsonValueKind.Null, task.GetProperty("metadata").GetProperty("local_preview_path").ValueKind);
        using var hub = await HubAsync(app);
        foreach (var v in variations)
        {
            var name = v.GetProperty("filename").GetString()!;
            Assert.Matches(@"^titlecard_\d{8}_\d{6}_" + id + @"_var\d\.png$", name);
            Assert.Equal(JsonValueKind.Null, v.GetProperty("local_path").ValueKind);
            Assert.Equal(v.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(objects[name])));

            using var served = await client.GetAsync(v.GetProperty("preview_url").GetString());
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal("image/png", served.Content.Headers.ContentType!.MediaType);
            Assert.Equal(objects[name].Length, served.Content.Headers.ContentLength);
            Assert.Equal("nosniff", served.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal((true, TimeSpan.FromHours(1)), (served.Headers.CacheControl!.Private, served.Headers.CacheControl.MaxAge));
            Assert.Equal($"\"{v.GetProperty("sha256").GetString()}\"", served.Headers.ETag!.Tag);
            Assert.NotNull(served.Content.Headers.LastModified);
            Assert.Equal(objects[name], await served.Content.ReadAsByteArrayAsync());

            using var again = new HttpRequestMessage(HttpMethod.Get, v.GetProperty("preview_url").GetString());
            again.Headers.IfNoneMatch.Add(served.Headers.ETag);
            Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);

            using var shown = await hub.GetAsync($"/hub/images/{v.GetProperty("image_id").GetString()}/file");
            Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
            Assert.Equal(objects[name], await shown.Content.ReadAsByteArrayAsync());
        }

        var approved = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 2 });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Equal("published", (await approved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        using var anonymous = app.CreateClient();
        var post = await anonymous.GetFromJsonAsync<JsonElement>("/api/posts/bucket-previews");
        var image = await anonymous.GetByteArrayAsync(new Uri(post.GetProperty("featured_image_url").GetString()!).PathAndQuery);
        Assert.Equal(variations[1].GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(image)));

        // The published preview goes right after the publish commits; the others wait for the retention sweep.
        var publishedName = variations[1].GetProperty("filename").GetString()!;
        await TestApp.WaitUntilAsync(async () => !(await NamesAsync(_prefix)).Contains(publishedName));
        Assert.Equal(
            variations.Where(v => v.GetProperty("index").GetInt32() != 2).Select(v => v.GetProperty("filename").GetString()!).Order(),
            (await NamesAsync(_prefix)).Order());
        // The published image is still shown in the Hub: from its CDN address now.
        using var moved = await hub.GetAsync($"/hub/images/{variations[1].GetProperty("image_id").GetString()}/file");
        Assert.Equal(HttpStatusCode.Redirect, moved.StatusCode);

        var health = await hub.GetStringAsync("/hub/health");
        Assert.Contains(S3rverFixture.Bucket, health, StringComparison.Ordinal);
        Assert.Contains(_prefix, health, StringComparison.Ordinal);
        Assert.Contains("in an S3 bucket (s3)", health, StringComparison.Ordinal);
        Assert.DoesNotContain(S3rverFixture.SecretKey + "<", health, StringComparison.Ordinal);
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_media_api_generates_into_the_bucket_and_gives_no_local_path_while_the_local_store_gives_its_file()
    {
        await using var app = await TestApp.StartAsync(database, Settings());
        var generated = await (await app.Api().PostAsJsonAsync("/api/media/generate-image", new { prompt = "a lighthouse at dusk" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, generated.GetProperty("local_path").ValueKind);
        var bytes = await app.Api().GetByteArrayAsync(generated.GetProperty("image_url").GetString());
        Assert.Equal(bytes, Assert.Single(await ObjectsAsync(_prefix)).Value);
        app.DeleteFolder();

        await using var local = await TestApp.StartAsync(database);
        var onDisk = await (await local.Api().PostAsJsonAsync("/api/media/generate-image", new { prompt = "a lighthouse at dusk" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var path = onDisk.GetProperty("local_path").GetString()!;
        Assert.Equal(local.PreviewDirectory, Path.GetDirectoryName(path));
        Assert.Equal(await File.ReadAllBytesAsync(path), await local.Api().GetByteArrayAsync(onDisk.GetProperty("image_url").GetString()));
        local.DeleteFolder();
    }

    [Fact]
    public async Task Generate_more_adds_objects_and_a_final_reject_trashes_them_until_the_sweep_deletes_them()
    {
        // No days in the trash: the first sweep after the reject may delete the files.
        await using var app = await TestApp.StartAsync(database, Settings(new Dictionary<string, string?> { ["Storage:TrashRetentionDays"] = "0" }));
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Rejected Objects", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var more = await client.PostAsJsonAsync("/api/media/generate-image-variations", new { task_id = id, prompt = "a second look", num_variations = 2 });
        Assert.Equal(HttpStatusCode.OK, more.StatusCode);
        Assert.Equal(3, (await ObjectsAsync(_prefix)).Count);

        var rejected = await client.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "not for us" });
        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        // A rejected task's images go to the trash, files kept so that it can be reopened ...
        Assert.Equal(3, (await ObjectsAsync(_prefix)).Count);

        // ... until the trash's retention has passed and the sweep deletes them from the bucket.
        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);
        Assert.Empty(await ObjectsAsync(_prefix));
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_hub_thumbnail_and_large_view_are_made_once_kept_in_the_bucket_and_deleted_with_the_preview()
    {
        await using var app = await TestApp.StartAsync(database, Settings(new Dictionary<string, string?> { ["Images:Width"] = "2000", ["Images:Height"] = "1000", ["Storage:TrashRetentionDays"] = "0" }));
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Small Views", 1)).GetProperty("id").GetString()!;
        var variation = Variations(await app.WaitForStatusAsync(id, "awaiting_approval")).Single();
        var name = variation.GetProperty("filename").GetString()!;
        var stem = name[..name.LastIndexOf('.')];
        using var hub = await HubAsync(app);

        foreach (var (kind, width, height) in new[] { ("thumb", 400, 200), ("large", 1600, 800) })
        {
            using var shown = await hub.GetAsync($"/hub/images/{variation.GetProperty("image_id").GetString()}/{kind}");
            Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
            Assert.Equal("image/webp", shown.Content.Headers.ContentType!.MediaType);
            Assert.Equal((true, TimeSpan.FromDays(365)), (shown.Headers.CacheControl!.Private, shown.Headers.CacheControl.MaxAge));
            var bytes = await shown.Content.ReadAsByteArrayAsync();
            using (var decoded = NetVips.Image.NewFromBuffer(bytes))
            {
                Assert.Equal(("webpload_buffer", width, height), (decoded.Get("vips-loader"), decoded.Width, decoded.Height));
            }
            // Kept next to the preview, so every node serves the same file without making it again.
            Assert.Equal(bytes, (await ObjectsAsync(_prefix))[$"{stem}.{kind}.webp"]);
            using var again = new HttpRequestMessage(HttpMethod.Get, $"/hub/images/{variation.GetProperty("image_id").GetString()}/{kind}");
            again.Headers.IfNoneMatch.Add(shown.Headers.ETag!);
            Assert.Equal(HttpStatusCode.NotModified, (await hub.SendAsync(again)).StatusCode);
        }
        Assert.Equal(3, (await ObjectsAsync(_prefix)).Count);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetAsync("/hub/images/nosuchimage/thumb")).StatusCode);

        // A sweep keeps them while their preview is kept; rejecting the task puts the image in the
        // trash with them, and once the trash's time is up (0 days here) the sweep deletes all three.
        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);
        Assert.Equal(3, (await ObjectsAsync(_prefix)).Count);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "no" })).StatusCode);
        Assert.Equal(3, (await ObjectsAsync(_prefix)).Count);
        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);
        Assert.Empty(await ObjectsAsync(_prefix));
        app.DeleteFolder();
    }

    [Fact]
    public async Task Approval_copies_the_preview_from_the_bucket_to_the_s3_publishing_store_and_can_keep_it()
    {
        var mediaPrefix = "media-" + Guid.NewGuid().ToString("N")[..8];
        await using var app = await TestApp.StartAsync(database, Settings(new Dictionary<string, string?>
        {
            ["Publishing:Provider"] = "s3",
            ["Publishing:S3:ServiceUrl"] = s3.ServiceUrl,
            ["Publishing:S3:Bucket"] = S3rverFixture.Bucket,
            ["Publishing:S3:AccessKey"] = S3rverFixture.AccessKey,
            ["Publishing:S3:SecretKey"] = S3rverFixture.SecretKey,
            ["Publishing:S3:PublicBaseUrl"] = s3.PublicBaseUrl,
            ["Publishing:S3:KeyPrefix"] = mediaPrefix,
            ["Storage:KeepPublishedPreviews"] = "true",
        }));
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Streamed Copies", 2)).GetProperty("id").GetString()!;
        var variations = Variations(await app.WaitForStatusAsync(id, "awaiting_approval"));

        var approved = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);

        // The image, its social card and its WebP copies at 480, 960 and its own 1024 px, made from the bytes read from the preview bucket.
        var objects = await ObjectsAsync(mediaPrefix);
        Assert.Equal(5, objects.Count);
        Assert.Equal(["-w1024.webp", "-w480.webp", "-w960.webp"], objects.Keys.Where(k => k.EndsWith(".webp", StringComparison.Ordinal)).Select(k => k[k.LastIndexOf('-')..]).Order());
        var uploaded = Assert.Single(objects, o => o.Key.EndsWith(".png", StringComparison.Ordinal));
        Assert.StartsWith("streamed-copies-", uploaded.Key, StringComparison.Ordinal);
        var card = Assert.Single(objects, o => o.Key.EndsWith("-social.jpg", StringComparison.Ordinal)).Value;
        using (var decoded = NetVips.Image.NewFromBuffer(card))
        {
            Assert.Equal((1200, 630), (decoded.Width, decoded.Height));
        }
        Assert.Equal(variations[0].GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(uploaded.Value)));
        var post = await app.CreateClient().GetFromJsonAsync<JsonElement>("/api/posts/streamed-copies");
        Assert.Equal($"{s3.PublicBaseUrl}/{mediaPrefix}/{uploaded.Key}", post.GetProperty("featured_image_url").GetString());
        // Storage:KeepPublishedPreviews: both previews stay in the preview bucket, and the sweep leaves them too.
        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);
        Assert.Equal(variations.Select(v => v.GetProperty("filename").GetString()!).Order(), (await ObjectsAsync(_prefix)).Keys.Order());
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_sweeps_delete_expired_previews_and_orphan_objects_and_nothing_else()
    {
        await using var app = await TestApp.StartAsync(database, Settings(new Dictionary<string, string?> { ["Storage:PreviewRetentionDays"] = "7" }));
        var old = (await app.CreateTaskAsync("Write about Old Objects", 2)).GetProperty("id").GetString()!;
        var fresh = (await app.CreateTaskAsync("Write about Fresh Objects", 1)).GetProperty("id").GetString()!;
        var oldFiles = Variations(await app.WaitForStatusAsync(old, "awaiting_approval")).Select(v => v.GetProperty("filename").GetString()!).ToList();
        var freshFiles = Variations(await app.WaitForStatusAsync(fresh, "awaiting_approval")).Select(v => v.GetProperty("filename").GetString()!).ToList();
        await using (var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext())
        {
            var eightDaysAgo = DateTime.UtcNow.AddDays(-8);
            await db.Images.Where(i => i.TaskId == old).ExecuteUpdateAsync(u => u.SetProperty(i => i.GeneratedAt, eightDaysAgo));
        }
        // An object the database never recorded, one that is not a preview, and a preview name outside the prefix.
        const string orphan = "titlecard_20240101_000000_abc_var1.svg";
        foreach (var key in new[] { $"{_prefix}/{orphan}", $"{_prefix}/holiday-photo.jpg", $"elsewhere-{_prefix}/{orphan}" })
        {
            await _bucket.PutObjectAsync(new PutObjectRequest { BucketName = S3rverFixture.Bucket, Key = key, ContentBody = "x", UseChunkEncoding = false });
        }

        // Now: the orphan is younger than Storage:OrphanGrace (it may be a write in progress on another node), so it stays.
        var sweeper = app.Services.GetRequiredService<PreviewSweeper>();
        await sweeper.SweepAsync(CancellationToken.None);
        var afterFirst = (await ObjectsAsync(_prefix)).Keys.ToHashSet();
        Assert.All(oldFiles, f => Assert.DoesNotContain(f, afterFirst));
        Assert.All(freshFiles, f => Assert.Contains(f, afterFirst));
        Assert.Contains(orphan, afterFirst);

        // Half an hour later the orphan is past the grace and goes; nothing else does.
        var later = new PreviewSweeper(
            app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>(), app.Services.GetRequiredService<IPreviewStore>(),
            app.Services.GetRequiredService<IOptionsMonitor<StorageOptions>>(), new ShiftedTime(TimeSpan.FromMinutes(30)), NullLogger<PreviewSweeper>.Instance,
            app.Services.GetRequiredService<Proofsheet.Publishing.ActiveStore>());
        await later.SweepAsync(CancellationToken.None);
        Assert.Equal(freshFiles.Append("holiday-photo.jpg").Order(), (await ObjectsAsync(_prefix)).Keys.Order());
        Assert.Single(await ObjectsAsync($"elsewhere-{_prefix}"));
        app.DeleteFolder();
    }

    private sealed class ShiftedTime(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + by;
    }
}

public sealed class SqliteS3PreviewStoreTests(S3rverFixture s3) : S3PreviewStoreTests(new SqliteDatabase(), s3), IClassFixture<S3rverFixture>;

public sealed class PostgresS3PreviewStoreTests(S3rverFixture s3) : S3PreviewStoreTests(new PostgresDatabase(), s3), IClassFixture<S3rverFixture>;
