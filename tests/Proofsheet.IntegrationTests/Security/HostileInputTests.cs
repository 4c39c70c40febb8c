using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Security;

/// <summary>SPEC §5: bad input gets a clear 4xx problem and changes nothing, on either database.</summary>
public abstract class HostileInputTests(TestDatabase database)
{
    [Fact]
    public async Task Hostile_requests_get_a_4xx_problem_and_change_nothing()
    {
        await using var app = await TestApp.StartAsync(database);
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Hostile Input", 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var image = (await app.GetTaskAsync(id)).GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("image_id").GetString()!;

        // A file outside the app's folders that a path-like id might try to reach.
        var canary = Path.Combine(Path.GetTempPath(), "proofsheet-canary-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(canary, "canary");
        var before = await SnapshotAsync(app);

        var deep = new string('[', 5000) + new string(']', 5000);
        var huge = new string('x', 2 * 1024 * 1024);
        var cases = new List<(string Method, string Path, string? Body)>
        {
            ("POST", "/api/tasks", "{\"topic\":"),
            ("POST", "/api/tasks", ""),
            ("POST", "/api/tasks", "[]"),
            ("POST", "/api/tasks", "null"),
            ("POST", "/api/tasks", "{\"topic\": 42}"),
            ("POST", "/api/tasks", "{\"topic\": {\"$ne\": 1}}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"num_variations\": \"3\"}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"num_variations\": 0}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"num_variations\": 9}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"num_variations\": -1}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"num_variations\": 99999999999}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"target_words\": 1}"),
            ("POST", "/api/tasks", "{\"topic\": \"ab\"}"),
            ("POST", "/api/tasks", "{\"topic\": \"   \"}"),
            ("POST", "/api/tasks", $"{{\"topic\": \"{new string('a', 501)}\"}}"),
            ("POST", "/api/tasks", "{\"topic\": \"nul \\u0000 inside\"}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"image_source\": \"../../etc/passwd\"}"),
            ("POST", "/api/tasks", "{\"topic\": \"ok topic\", \"image_source\": \"automatic1111\"}"),
            ("POST", "/api/tasks", "{\"topic\": " + deep + "}"),
            ("POST", "/api/tasks", "{\"topic\": \"" + huge + "\"}"),
            ("GET", "/api/tasks?status=bogus", null),
            ("GET", "/api/tasks?limit=0", null),
            ("GET", "/api/tasks?limit=1000000", null),
            ("GET", "/api/tasks?limit=abc", null),
            ("GET", "/api/tasks?cursor=../../etc/passwd", null),
            ("GET", "/api/tasks/..%2F..%2Fetc%2Fpasswd", null),
            ("GET", "/api/tasks/%2e%2e", null),
            ("GET", "/api/media/images?task_id=%2e%2e%2f%2e%2e%2f", null),
            ("GET", "/api/media/images?q=" + new string('q', 300), null),
            ("GET", "/api/tasks/' OR 1=1 --", null),
            ("GET", "/api/tasks/" + new string('f', 32), null),
            ("GET", "/api/tasks/..%2F..%2Fetc%2Fpasswd/history", null),
            ("PATCH", $"/api/tasks/{id}", "{\"title\": \"\"}"),
            ("PATCH", $"/api/tasks/{id}", "{\"title\": 5}"),
            ("PATCH", $"/api/tasks/{id}", $"{{\"title\": \"{new string('t', 201)}\"}}"),
            ("PATCH", "/api/tasks/%2Fetc%2Fpasswd", "{\"title\": \"x\"}"),
            ("POST", $"/api/tasks/{id}/select", "{}"),
            ("POST", $"/api/tasks/{id}/select", "{\"index\": 0}"),
            ("POST", $"/api/tasks/{id}/select", "{\"index\": 99}"),
            ("POST", $"/api/tasks/{id}/select", "{\"index\": 1, \"image_id\": \"" + image + "\"}"),
            ("POST", $"/api/tasks/{id}/select", "{\"image_id\": \"../../etc/passwd\"}"),
            ("POST", $"/api/tasks/{id}/select", "{\"image_id\": \"" + canary + "\"}"),
            ("POST", $"/api/tasks/{id}/approve", "{\"index\": 42}"),
            ("POST", $"/api/tasks/{id}/approve", "{\"image_id\": \"/etc/passwd\"}"),
            ("POST", $"/api/tasks/{id}/approve", "{\"index\": \"1; DROP TABLE posts\"}"),
            ("POST", $"/api/tasks/{id}/reject", "{}"),
            ("POST", $"/api/tasks/{id}/reject", "{\"feedback\": \"\"}"),
            ("POST", $"/api/tasks/{id}/reject", "{\"feedback\": \"ok\", \"new_prompt\": \"\"}"),
            ("POST", $"/api/tasks/{id}/retry", null),
            ("POST", $"/api/tasks/{id}/generate-more", "{\"num_variations\": 100}"),
            ("POST", "/api/tasks/..%2F..%2F/cancel", null),
            ("POST", "/api/media/generate-image", "{}"),
            ("POST", "/api/media/generate-image", "{\"prompt\": \"p\", \"task_id\": \"../../etc/passwd\"}"),
            ("POST", "/api/media/generate-image", "{\"prompt\": \"p\", \"width\": 99999}"),
            ("POST", "/api/media/generate-image", "{\"prompt\": \"p\", \"source\": \"file:///etc/passwd\"}"),
            ("POST", "/api/media/generate-image", "{\"prompt\": \"p\", \"num_inference_steps\": 0}"),
            ("POST", "/api/media/generate-image", "{\"prompt\": \"p\", \"task_id\": \"" + new string('0', 32) + "\"}"),
            ("POST", "/api/media/generate-image-variations", "{\"prompt\": \"p\"}"),
            ("POST", "/api/media/generate-image-variations", "{\"prompt\": \"p\", \"task_id\": \"" + id + "\", \"num_variations\": 9}"),
            ("POST", "/api/media/approve-image", "{\"task_id\": \"" + id + "\"}"),
            ("POST", "/api/media/approve-image", "{\"task_id\": \"..\\\\..\\\\windows\", \"index\": 1}"),
            ("GET", "/api/media/images?status=bogus", null),
            ("GET", "/api/media/images?task_id=../../etc/passwd", null),
            ("GET", "/api/media/images/..%2F..%2F..%2Fetc%2Fpasswd/file", null),
            ("GET", "/api/media/images/%2Fetc%2Fpasswd/file", null),
            ("GET", "/api/media/images/" + Uri.EscapeDataString(canary) + "/file", null),
            ("DELETE", "/api/media/images/..%2F..%2Fetc%2Fpasswd", null),
            ("DELETE", "/api/media/images/" + Uri.EscapeDataString(canary), null),
            ("GET", "/api/posts/..%2F..%2Fetc%2Fpasswd", null),
            ("GET", "/api/posts?limit=-5", null),
        };

        foreach (var (method, path, body) in cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path)
            {
                Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
            };
            var response = await client.SendAsync(request);
            var label = $"{method} {path[..Math.Min(path.Length, 80)]} {body?[..Math.Min(body.Length, 60)]}";
            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{label} answered {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadAsStringAsync();
            Assert.True(problem.Contains("\"detail\"", StringComparison.Ordinal), $"{label}: {problem}");
        }

        // The wrong content type is refused too.
        var plain = await client.PostAsync("/api/tasks", new StringContent("{\"topic\":\"text plain\"}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, plain.StatusCode);

        Assert.Equal(before, await SnapshotAsync(app));
        Assert.Equal("canary", await File.ReadAllTextAsync(canary));
        File.Delete(canary);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Script_and_sql_in_a_topic_are_stored_as_text_and_drawn_escaped()
    {
        await using var app = await TestApp.StartAsync(database);
        const string topic = "<script>alert('x')</script> '; DROP TABLE posts; -- & <b>bold</b>";
        var id = (await app.CreateTaskAsync(topic, 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(topic, task.GetProperty("topic").GetString());
        // The title card is drawn (its SVG's escaping is checked in TitleCardTests) and rendered to a PNG.
        var card = await File.ReadAllBytesAsync(Path.Combine(app.PreviewDirectory, task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("filename").GetString()!));
        using (var png = NetVips.Image.NewFromBuffer(card))
        {
            Assert.Equal("pngload_buffer", png.Get("vips-loader"));
        }
        await using var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        Assert.Equal(1, await db.Posts.CountAsync());
        app.DeleteFolder();
    }

    internal static async Task<string> SnapshotAsync(TestApp app)
    {
        await using var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        var tasks = await db.Tasks.AsNoTracking().OrderBy(t => t.Id).Select(t => t.Id + t.Status + t.Version + t.Title + t.SelectedImageId).ToListAsync();
        var posts = await db.Posts.AsNoTracking().OrderBy(p => p.Id).Select(p => p.Id + p.Slug + p.Status + p.Version).ToListAsync();
        var images = await db.Images.AsNoTracking().OrderBy(i => i.Id).Select(i => i.Id + i.Status + i.FileDeleted).ToListAsync();
        var events = await db.TaskEvents.CountAsync();
        var files = Directory.GetFiles(app.Folder, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith("-wal", StringComparison.Ordinal) && !f.EndsWith("-shm", StringComparison.Ordinal) && !f.EndsWith(".db", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => f + ":" + new FileInfo(f).Length);
        return string.Join("\n", tasks.Concat(posts).Concat(images).Append(events.ToString(System.Globalization.CultureInfo.InvariantCulture)).Concat(files));
    }
}

public sealed class SqliteHostileInputTests() : HostileInputTests(new SqliteDatabase());

public sealed class PostgresHostileInputTests() : HostileInputTests(new PostgresDatabase());
