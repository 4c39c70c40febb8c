using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Tasks;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Security;

/// <summary>
/// Seeded random and adversarial requests at every /api route the app maps (read from its own
/// endpoint list): never a 5xx, never a change on a 4xx, never a file touched outside the app's
/// folders. The seed is printed; <c>PROOFSHEET_SEED</c> replays a run, <c>PROOFSHEET_LONG=1</c>
/// sends ten times as many requests.
/// </summary>
public abstract class FuzzTests(TestDatabase database, ITestOutputHelper output)
{
    /// <summary>In every hostile path, so that a file the app was tricked into writing can be found afterwards.</summary>
    private static readonly string Marker = "fuzzmark" + Guid.NewGuid().ToString("N")[..8];


    private static readonly string[] Fields =
    [
        "topic", "tone", "audience", "target_words", "num_variations", "image_source", "title", "excerpt", "content",
        "image_prompt", "image_alt", "index", "image_id", "feedback", "new_prompt", "prompt", "task_id", "negative_prompt",
        "seed", "width", "height", "num_inference_steps", "source", "status", "id", "local_path", "file", "path",
    ];

    private static readonly string[] Strings =
    [
        "", " ", "ok", "A fine topic for a post", "\u0000", "nul\u0000inside", "\ud800", "lone \udc00 low", "\u202eevil\u202c", "zero\u200bwidth\u200d",
        "\ufeffbom", "emoji 🧁🍞👩‍🍳🏳️‍🌈", "e\u0301\u0301\u0301", "Ω≈ç√∫", "𝕮𝖗𝖊𝖒𝖊", "\u00a0\u2028\u2029", "../../etc/passwd", "..\\..\\windows\\win.ini",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd", "/tmp/" + Marker, "../" + Marker, "file:///etc/passwd", "C:\\Windows\\System32",
        "'; DROP TABLE posts; --", "\" OR 1=1 --", "1; DELETE FROM tasks", "<script>alert(1)</script>", "<svg onload=alert(1)>",
        "javascript:alert(1)", "{{7*7}}", "${jndi:ldap://x}", "%s%s%s%n", "\r\nX-Injected: 1", "automatic1111", "titlecard", "published",
        "01a200f548c1781291f60471390fd8db", new string('f', 32), new string('a', 501), new string('z', 5000),
    ];

    [Fact]
    public async Task Random_and_adversarial_requests_never_fail_the_server_and_4xx_change_nothing()
    {
        var seed = Environment.GetEnvironmentVariable("PROOFSHEET_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var count = Environment.GetEnvironmentVariable("PROOFSHEET_LONG") == "1" ? 3000 : 300;
        output.WriteLine($"seed {seed}, {count} requests");
        var random = new Random(seed);

        await using var app = await TestApp.StartAsync(database);
        using var client = app.Api();
        var task = await app.CreateTaskAsync("Write about fuzzing", 2);
        var taskId = task.GetProperty("id").GetString()!;
        var ready = await app.WaitForStatusAsync(taskId, "awaiting_approval");
        var imageId = ready.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("image_id").GetString()!;
        var slug = ready.GetProperty("slug").GetString()!;
        var canary = Path.Combine(Path.GetTempPath(), Marker + "-canary-" + database.Provider);
        await File.WriteAllTextAsync(canary, "canary");

        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Method: m, Pattern: e.RoutePattern.RawText!)))
            .Where(r => !r.Pattern.EndsWith("/events", StringComparison.Ordinal)) // a stream that stays open by design
            .ToList();
        Assert.True(routes.Count >= 19, $"only {routes.Count} routes");

        // %00 in a path is refused by Kestrel before routing (Reliability/SecurityTests proves it on real Kestrel);
        // the test host cannot even carry it, so NUL bytes go in queries and bodies here.
        var ids = new[] { taskId, imageId, slug, canary, "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2e%2e%2f%2e%2e%2f" + Marker,
            Uri.EscapeDataString(canary), "' OR 1=1 --", "%3Cscript%3E", "%F0%9F%A7%81", "%ED%A0%80", new string('0', 32), new string('x', 300), "%C0%AE%C0%AE" };
        var before = await HostileInputTests.SnapshotAsync(app);
        var tally = new Dictionary<int, int>();
        for (var i = 0; i < count; i++)
        {
            var (method, pattern) = routes[random.Next(routes.Count)];
            var path = "/" + pattern.Trim('/')
                .Replace("{id}", Pick(random, ids), StringComparison.Ordinal)
                .Replace("{slug}", Pick(random, ids), StringComparison.Ordinal);
            if (random.Next(3) == 0)
            {
                path += "?" + string.Join("&", Enumerable.Range(0, random.Next(1, 4)).Select(_ =>
                    Pick(random, ["status", "limit", "cursor", "task_id", "source", "q"]) + "=" + Uri.EscapeDataString(RandomString(random))));
            }
            var body = method is "POST" or "PATCH" or "PUT" ? RandomBody(random, taskId, imageId) : null;
            using var request = new HttpRequestMessage(new HttpMethod(method), path)
            {
                Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
            };
            var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            tally[status] = tally.GetValueOrDefault(status) + 1;
            var label = $"#{i} (seed {seed}) {method} {Clip(path)} {Clip(body ?? "")}";
            Assert.True(status < 500, $"{label} answered {status}: {await response.Content.ReadAsStringAsync()}");
            if (status >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                var after = await HostileInputTests.SnapshotAsync(app);
                Assert.True(before == after, $"{label} answered {status} but changed the data");
            }
            else
            {
                await QuiesceAsync(app);
                before = await HostileInputTests.SnapshotAsync(app);
            }
        }
        output.WriteLine(string.Join(", ", tally.OrderBy(t => t.Key).Select(t => $"{t.Key}×{t.Value}")));

        Assert.Equal("canary", await File.ReadAllTextAsync(canary));
        File.Delete(canary);
        // Nothing named after the hostile paths appeared anywhere the app could have been tricked into writing.
        var strays = Directory.EnumerateFileSystemEntries(Path.GetTempPath(), "*" + Marker + "*", SearchOption.TopDirectoryOnly)
            .Concat(Directory.EnumerateFileSystemEntries(app.Folder, "*" + Marker + "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains("-canary-", StringComparison.Ordinal)) // the canaries of this and the other database's run
            .ToList();
        Assert.Empty(strays);
        Assert.All(Directory.GetFiles(app.Folder, "*", SearchOption.AllDirectories), f =>
            Assert.True(f.StartsWith(Path.Combine(app.Folder, "data"), StringComparison.Ordinal) || f.StartsWith(app.PreviewDirectory, StringComparison.Ordinal), f));
        app.DeleteFolder();
    }

    /// <summary>
    /// Waits until the pipeline has nothing left to do, so that the next snapshot is stable: no task
    /// at work, and no published image whose preview is still to be removed (an approval answers
    /// once the post is live; its preview goes a moment later).
    /// </summary>
    private static async Task QuiesceAsync(TestApp app)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            await using (var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext())
            {
                if (!await db.Tasks.AnyAsync(t => WorkflowStatuses.Working.Contains(t.Status))
                    && !await db.Images.AnyAsync(i => i.Status == CandidateStatus.Published && !i.FileDeleted))
                {
                    return;
                }
            }
            Assert.True(DateTime.UtcNow < deadline, "the pipeline did not settle");
            await Task.Delay(20);
        }
    }

    private static string RandomBody(Random random, string taskId, string imageId)
    {
        switch (random.Next(12))
        {
            case 0:
                return Pick(random, ["", "{", "}", "[]", "null", "true", "\"str\"", "{\"topic\":", "{'topic': 'single'}", "{\"a\":1,}", "\u0000", "{\"topic\":\"\\ud800\"}", "{\"topic\":\"x\"} trailing"]);
            case 1:
                var depth = random.Next(60, 400);
                return new string('[', depth) + new string(']', depth);
            case 2:
                return "{\"topic\":" + new string('{', 100) + new string('}', 100) + "}";
        }
        var json = new StringBuilder("{");
        var fields = random.Next(0, 6);
        for (var f = 0; f < fields; f++)
        {
            if (f > 0)
            {
                json.Append(',');
            }
            json.Append(JsonSerializer.Serialize(Pick(random, Fields))).Append(':').Append(RandomValue(random, taskId, imageId, 0));
        }
        return json.Append('}').ToString();
    }

    private static string RandomValue(Random random, string taskId, string imageId, int depth) => random.Next(depth > 2 ? 8 : 11) switch
    {
        0 => "null",
        1 => random.Next(2) == 0 ? "true" : "false",
        2 => random.Next(-3, 12).ToString(CultureInfo.InvariantCulture),
        3 => Pick(random, ["-1", "0", "2147483648", "-9223372036854775809", "1e308", "1.5", "NaN", "\"3\"", "99999999999999999999"]),
        4 => JsonSerializer.Serialize(taskId),
        5 => JsonSerializer.Serialize(imageId),
        6 or 7 => Escape(RandomString(random)),
        8 => "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, taskId, imageId, depth + 1))) + "]",
        9 => "{\"" + Pick(random, Fields) + "\":" + RandomValue(random, taskId, imageId, depth + 1) + "}",
        _ => Escape(new string(Pick(random, ['x', '\u202e', '\ud83e']), random.Next(1000, 300_000))),
    };

    /// <summary>JSON string escaping that keeps lone surrogates as \u escapes (System.Text.Json would replace them).</summary>
    private static string Escape(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            if (c is '"' or '\\')
            {
                sb.Append('\\').Append(c);
            }
            else if (c < 0x20 || char.IsSurrogate(c) || c > 0x7e)
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.Append('"').ToString();
    }

    private static string RandomString(Random random) => random.Next(4) == 0
        ? Pick(random, Strings) + Pick(random, Strings)
        : Pick(random, Strings);

    private static T Pick<T>(Random random, T[] items) => items[random.Next(items.Length)];

    private static string Clip(string s) => s.Length <= 120 ? s : s[..120] + "…";
}

public sealed class SqliteFuzzTests(ITestOutputHelper output) : FuzzTests(new SqliteDatabase(), output);

public sealed class PostgresFuzzTests(ITestOutputHelper output) : FuzzTests(new PostgresDatabase(), output);
