using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;
using Proofsheet.IntegrationTests.Writing;

namespace Proofsheet.IntegrationTests.Reliability;

public sealed partial class SecurityTests
{
    [Fact]
    public async Task Every_response_carries_the_security_headers_and_candidate_files_a_sandbox()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase());
        var id = (await app.CreateTaskAsync("Write about headers", 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var preview = task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("preview_url").GetString()!;
        using var client = app.Api();
        using var anonymous = app.CreateClient();

        var responses = new List<(string, HttpResponseMessage)>
        {
            ("GET /", await anonymous.GetAsync("/")),
            ("GET /health/live", await anonymous.GetAsync("/health/live")),
            ("GET /health/ready", await anonymous.GetAsync("/health/ready")),
            ("GET /openapi/v1.json", await anonymous.GetAsync("/openapi/v1.json")),
            ("GET /api/posts", await anonymous.GetAsync("/api/posts")),
            ("GET /api/tasks (401)", await anonymous.GetAsync("/api/tasks")),
            ("GET /api/tasks/{id}", await client.GetAsync($"/api/tasks/{id}")),
            ("GET /nothing (404)", await anonymous.GetAsync("/nothing-here")),
            ("POST /api/tasks (400)", await client.PostAsync("/api/tasks", new StringContent("{", Encoding.UTF8, "application/json"))),
            ("GET preview", await client.GetAsync(preview)),
        };
        foreach (var (label, response) in responses)
        {
            var csp = string.Join(";", response.Headers.TryGetValues("Content-Security-Policy", out var v) ? v : []);
            Assert.True(csp.Length > 0, $"{label}: no CSP");
            Assert.Equal("nosniff", Single(response, "X-Content-Type-Options"));
            Assert.Equal("no-referrer", Single(response, "Referrer-Policy"));
            if (label == "GET preview")
            {
                // The candidate's own policy: nothing loads, scripts never run (an SVG is a document).
                Assert.Contains("sandbox", csp, StringComparison.Ordinal);
                Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
                Assert.DoesNotContain("script-src", csp, StringComparison.Ordinal);
            }
            else
            {
                Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
                Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
                Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
                Assert.Equal("DENY", Single(response, "X-Frame-Options"));
            }
        }
        app.DeleteFolder();
    }

    private static string Single(HttpResponseMessage response, string header) =>
        response.Headers.TryGetValues(header, out var values) ? Assert.Single(values) : throw new Xunit.Sdk.XunitException($"no {header}");

    [Fact]
    public async Task Generation_is_rate_limited_per_key_with_a_429_problem_and_retry_after()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Auth:ApiKeys"] = TestApp.ApiKey + ",second-key-for-rate-limits",
            ["RateLimits:Generation:PermitLimit"] = "3",
            ["RateLimits:Generation:Window"] = "00:10:00",
        });
        using var client = app.Api();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/tasks", new { topic = $"Write about limits {i}" })).StatusCode);
        }
        var limited = await client.PostAsJsonAsync("/api/tasks", new { topic = "Write about one too many" });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero, "no Retry-After");
        Assert.Contains("try again in", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsJsonAsync("/api/media/generate-image", new { prompt = "a cat" })).StatusCode);

        // Reading is not limited, and another key has its own allowance.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/tasks")).StatusCode);
        using var other = app.CreateClient();
        other.DefaultRequestHeaders.Add("X-Api-Key", "second-key-for-rate-limits");
        Assert.Equal(HttpStatusCode.Accepted, (await other.PostAsJsonAsync("/api/tasks", new { topic = "Write about other keys" })).StatusCode);

        using var list = await client.GetFromJsonAsync<JsonDocument>("/api/tasks?limit=100");
        Assert.Equal(4, list!.RootElement.GetProperty("items").GetArrayLength()); // the refused request created nothing
        app.DeleteFolder();
    }

    /// <summary>Real Kestrel (the test host has no body limit): the size limit, and the generated key printed once and stored hashed.</summary>
    [Fact]
    public async Task Kestrel_refuses_oversized_bodies_and_a_generated_key_is_shown_once_and_stored_hashed()
    {
        var folder = Directory.CreateTempSubdirectory("proofsheet-sec-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Logging:LogLevel:Default"] = "Information",
        };
        try
        {
            string key;
            await using (var app = await AppProcess.StartAsync(settings))
            {
                key = GeneratedKey().Match(app.Output).Value;
                Assert.StartsWith("ps_", key, StringComparison.Ordinal);
                using var client = app.Client(key);
                var huge = "{\"topic\":\"" + new string('x', (int)Web.MaxRequestBodyBytes + 10) + "\"}";
                var response = await client.PostAsync("/api/tasks", new StringContent(huge, Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/tasks", new { topic = "Write about keys" })).StatusCode);
                // NUL bytes and encoded traversal in the path never reach a handler.
                foreach (var path in new[] { "/api/tasks/a%00b", "/api/media/images/%00/file", "/api/media/images/..%2F..%2Fetc%2Fpasswd/file", "/media/..%2F..%2Fproofsheet.db" })
                {
                    var refused = await client.GetAsync(path);
                    Assert.True((int)refused.StatusCode is 400 or 404, $"{path} answered {(int)refused.StatusCode}");
                }
            }

            var options = new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite($"Data Source={Path.Combine(folder, "data", "proofsheet.db")}").Options;
            await using (var db = new SqliteAppDbContext(options))
            {
                var stored = Assert.Single(await db.ApiKeys.AsNoTracking().ToListAsync());
                Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key))), stored.Hash);
            }
            var database = await File.ReadAllBytesAsync(Path.Combine(folder, "data", "proofsheet.db"));
            Assert.DoesNotContain(key, Encoding.UTF8.GetString(database), StringComparison.Ordinal);

            await using (var app = await AppProcess.StartAsync(settings))
            {
                Assert.DoesNotContain(key, app.Output, StringComparison.Ordinal);
                Assert.DoesNotMatch(GeneratedKey(), app.Output);
                using var client = app.Client(key);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/tasks")).StatusCode);
                using var near = app.Client(key[..^1] + (key[^1] == 'a' ? 'b' : 'a'));
                Assert.Equal(HttpStatusCode.Unauthorized, (await near.GetAsync("/api/tasks")).StatusCode);
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex(@"ps_[A-Za-z0-9_-]{20,}")]
    private static partial Regex GeneratedKey();

    [Fact]
    public async Task No_secret_reaches_a_log_line_an_exception_or_a_response_in_a_full_workflow_with_failures()
    {
        const string writerKey = "sk-test-4f9c2a7e1b3d";
        const string webhookSecret = "whsec-never-logged-8d1e";
        var secrets = new[] { TestApp.ApiKey, writerKey, PexelsStandIn.Key, CloudinaryStandIn.ApiSecret, webhookSecret };

        await using var writer = await OpenAIStandIn.StartAsync(writerKey);
        // The first answer echoes the key, as some services do: it must be redacted before it is stored or logged.
        writer.Then(OpenAIStandIn.Error(401, $"Incorrect API key provided: {writerKey}.", "invalid_request_error", "invalid_api_key"));
        await using var pexels = await PexelsStandIn.StartAsync();
        foreach (var query in new[] { "write about secrets", "secrets", "sourdough", "bread", "baking", "sourdough bread", "baking sourdough at home" })
        {
            pexels.Catalog[query] = [new(1, "A loaf"), new(2, "Flour"), new(3, "An oven")];
        }
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        cloudinary.FailuresToReturn.Enqueue(500);
        cloudinary.FailureMessage = $"Internal error for secret {CloudinaryStandIn.ApiSecret}";
        var hookCalls = 0;
        await using var receiver = await StandInServer.StartAsync(a => a.MapPost("/hook", () =>
            Interlocked.Increment(ref hookCalls) == 1 ? Results.Text($"boom {webhookSecret}", statusCode: 500) : Results.Ok()));

        var logs = new CapturingLoggerProvider();
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Trace",
            // ASP.NET Core's own lines too (Warning by default): every line of every category is searched.
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = writer.BaseUrl,
            ["Content:OpenAI:ApiKey"] = writerKey,
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
            ["Images:Providers"] = "pexels,titlecard",
            ["Images:Pexels:BaseUrl"] = pexels.BaseUrl,
            ["Images:Pexels:ApiKey"] = PexelsStandIn.Key,
            ["Publishing:Provider"] = "cloudinary",
            ["Publishing:Cloudinary:CloudName"] = CloudinaryStandIn.CloudName,
            ["Publishing:Cloudinary:ApiKey"] = CloudinaryStandIn.ApiKey,
            ["Publishing:Cloudinary:ApiSecret"] = CloudinaryStandIn.ApiSecret,
            ["Publishing:Cloudinary:BaseUrl"] = cloudinary.BaseUrl,
            ["Webhooks:Urls"] = receiver.BaseUrl + "/hook",
            ["Webhooks:Secret"] = webhookSecret,
        }, services => services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace)));

        var bodies = new List<string>();
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about secrets", 2)).GetProperty("id").GetString()!;
        bodies.Add((await app.WaitForStatusAsync(id, "failed")).GetRawText());
        bodies.Add(await (await client.PostAsync($"/api/tasks/{id}/retry", null)).Content.ReadAsStringAsync());
        await app.WaitForStatusAsync(id, "awaiting_approval");
        bodies.Add(await (await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).Content.ReadAsStringAsync());
        var published = await app.WaitForStatusAsync(id, "published");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref hookCalls) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.True(hookCalls >= 2, "the webhook was not retried");
        bodies.Add(published.GetRawText());
        foreach (var path in new[] { $"/api/tasks/{id}/history", "/api/tasks", "/api/media/images", "/api/posts", "/health/ready", "/health/live", "/openapi/v1.json", "/", "/hub", $"/posts/{published.GetProperty("slug").GetString()}" })
        {
            bodies.Add(await (await client.GetAsync(path)).Content.ReadAsStringAsync());
        }
        bodies.Add(await (await client.PostAsJsonAsync("/api/tasks", new { topic = 7 })).Content.ReadAsStringAsync());

        var lines = logs.Lines.ToList();
        Assert.True(lines.Count > 20, $"only {lines.Count} log lines were captured");
        Assert.Contains(lines, l => l.Contains("failed", StringComparison.OrdinalIgnoreCase)); // the failures were logged
        foreach (var secret in secrets)
        {
            foreach (var text in lines.Concat(bodies).Where(l => l.Contains(secret, StringComparison.Ordinal)))
            {
                Assert.Fail($"A secret ({secret[..4]}…) leaked: {Clip(text.Replace(secret, "<SECRET>", StringComparison.Ordinal))}");
            }
        }
        app.DeleteFolder();
    }

    private static string Clip(string s) => s.Length <= 1500 ? s : s[..1500];
}
