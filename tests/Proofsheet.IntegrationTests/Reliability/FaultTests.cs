using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;
using Proofsheet.IntegrationTests.Writing;

namespace Proofsheet.IntegrationTests.Reliability;

/// <summary>
/// Faults injected through the stand-ins, seen from the workflow: each gives the task a clear
/// error, is retried where retrying is right, and loses nothing (the task finishes once the
/// service is back, or after POST /retry).
/// </summary>
public sealed class FaultTests
{
    public enum WriterFault { ServerError, RateLimitWithRetryAfter, RateLimitWithoutRetryAfter, DroppedConnection, TruncatedBody, MalformedBody, Slow }

    private static OpenAIStandIn.Reply Fault(WriterFault fault) => fault switch
    {
        WriterFault.ServerError => OpenAIStandIn.Error(500, "The server had an error while processing your request.", "server_error"),
        WriterFault.RateLimitWithRetryAfter => OpenAIStandIn.Error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded",
            new Dictionary<string, string> { ["retry-after"] = "1" }),
        WriterFault.RateLimitWithoutRetryAfter => OpenAIStandIn.Error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"),
        WriterFault.DroppedConnection => (context, _) =>
        {
            context.Abort();
            return Task.CompletedTask;
        },
        WriterFault.TruncatedBody => async (context, _) =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = 4000;
            await context.Response.WriteAsync("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"{\\\"title");
            await context.Response.Body.FlushAsync();
            context.Abort();
        },
        WriterFault.MalformedBody => async (context, _) =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("<html><body>502 Bad Gateway</body></html>");
        },
        WriterFault.Slow => OpenAIStandIn.Slow(TimeSpan.FromSeconds(30)),
        _ => throw new ArgumentOutOfRangeException(nameof(fault)),
    };

    private static Dictionary<string, string?> WriterSettings(OpenAIStandIn writer) => new()
    {
        ["Content:Provider"] = "openai",
        ["Content:OpenAI:BaseUrl"] = writer.BaseUrl,
        ["Content:OpenAI:ApiKey"] = "sk-test-4f9c2a7e1b3d",
        ["Content:OpenAI:Model"] = "gpt-4o-mini",
        ["Content:OpenAI:Timeout"] = "00:00:01",
        ["Content:OpenAI:MaxRetries"] = "1",
        ["Content:OpenAI:RetryBaseDelay"] = "00:00:00.050",
        ["Content:OpenAI:MaxRetryDelay"] = "00:00:01",
        ["Pipeline:MaxAttempts"] = "2",
    };

    [Theory]
    [InlineData(WriterFault.ServerError)]
    [InlineData(WriterFault.RateLimitWithRetryAfter)]
    [InlineData(WriterFault.RateLimitWithoutRetryAfter)]
    [InlineData(WriterFault.DroppedConnection)]
    [InlineData(WriterFault.TruncatedBody)]
    [InlineData(WriterFault.MalformedBody)]
    [InlineData(WriterFault.Slow)]
    public async Task A_failing_writer_fails_the_task_clearly_and_a_retry_finishes_it(WriterFault fault)
    {
        await using var writer = await OpenAIStandIn.StartAsync();
        writer.Default = Fault(fault);
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), WriterSettings(writer));
        var id = (await app.CreateTaskAsync("Write about faulty writers", 1)).GetProperty("id").GetString()!;

        var failed = await app.WaitForStatusAsync(id, "failed");
        var error = failed.GetProperty("error").GetString()!;
        Assert.StartsWith("Writing the draft failed:", error, StringComparison.Ordinal);
        // More than one request: the transient fault was retried before the task gave up.
        Assert.True(writer.RequestCount >= 2, $"{fault}: {writer.RequestCount} request(s)");

        writer.Default = null; // the service is back
        using var client = app.Api();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/retry", null)).StatusCode);
        var done = await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal("Baking Sourdough at Home", done.GetProperty("title").GetString());
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_transient_writer_fault_is_retried_and_the_task_goes_on_without_help()
    {
        await using var writer = await OpenAIStandIn.StartAsync();
        writer.Then(Fault(WriterFault.ServerError)).Then(Fault(WriterFault.RateLimitWithRetryAfter)).Then(Fault(WriterFault.DroppedConnection));
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), WriterSettings(writer));
        var id = (await app.CreateTaskAsync("Write about transient faults", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.True(writer.RequestCount >= 4);
        using var client = app.Api();
        var history = await client.GetStringAsync($"/api/tasks/{id}/history");
        Assert.Contains("attempt_failed", history, StringComparison.Ordinal);
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_rejected_writer_key_fails_at_once_without_retrying()
    {
        await using var writer = await OpenAIStandIn.StartAsync(acceptedKey: "sk-some-other-key");
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), WriterSettings(writer));
        var id = (await app.CreateTaskAsync("Write about wrong keys", 1)).GetProperty("id").GetString()!;
        var failed = await app.WaitForStatusAsync(id, "failed");
        Assert.Equal(1, writer.RequestCount);
        Assert.Contains("Writing the draft failed", failed.GetProperty("error").GetString()!, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-test-4f9c2a7e1b3d", failed.GetRawText(), StringComparison.Ordinal);
        app.DeleteFolder();
    }

    [Theory]
    [InlineData(A1111Mode.OutOfMemory)]
    [InlineData(A1111Mode.MalformedJson)]
    [InlineData(A1111Mode.NotAnImage)]
    [InlineData(A1111Mode.DropConnection)]
    public async Task A_failing_image_backend_fails_the_task_clearly_and_a_retry_finishes_it(A1111Mode mode)
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Mode = mode;
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:Automatic1111:ServerCooldown"] = "00:00:00",
            ["Images:Automatic1111:ProgressInterval"] = "00:00:00.050",
            ["Images:CircuitBreaker:FailureThreshold"] = "1000",
            ["Pipeline:MaxAttempts"] = "2",
        });
        var id = (await app.CreateTaskAsync("Write about failing GPUs", 2)).GetProperty("id").GetString()!;
        var failed = await app.WaitForStatusAsync(id, "failed");
        Assert.StartsWith("Generating images failed:", failed.GetProperty("error").GetString()!, StringComparison.Ordinal);
        Assert.True(a1111.Txt2ImgCalls >= 2, $"{mode}: {a1111.Txt2ImgCalls} call(s)");
        Assert.Empty(Directory.Exists(app.PreviewDirectory) ? Directory.GetFiles(app.PreviewDirectory) : []);

        a1111.Mode = A1111Mode.Ok;
        using var client = app.Api();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/retry", null)).StatusCode);
        var done = await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(2, done.GetProperty("metadata").GetProperty("image_variations").GetArrayLength());
        app.DeleteFolder();
    }

    [Fact]
    public async Task With_the_image_backend_slow_past_its_budget_the_chain_falls_back_and_nothing_is_lost()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromSeconds(30);
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:CircuitBreaker:BackendTimeout"] = "00:00:01",
        });
        var id = (await app.CreateTaskAsync("Write about slow GPUs", 2)).GetProperty("id").GetString()!;
        var done = await app.WaitForStatusAsync(id, "awaiting_approval");
        var variations = done.GetProperty("metadata").GetProperty("image_variations");
        Assert.Equal(2, variations.GetArrayLength());
        Assert.All(variations.EnumerateArray(), v => Assert.Equal("titlecard", v.GetProperty("source").GetString()));
        app.DeleteFolder();
    }

    [Theory]
    [InlineData(500)]
    [InlineData(429)]
    [InlineData(503)]
    public async Task A_failing_cdn_keeps_the_task_publishing_with_its_error_and_publishes_once_when_it_recovers(int status)
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        for (var i = 0; i < 6; i++)
        {
            cloudinary.FailuresToReturn.Enqueue(status);
        }
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), CloudinarySettings(cloudinary));
        var id = (await app.CreateTaskAsync("Write about flaky CDNs", 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var file = Path.Combine(app.PreviewDirectory, task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("filename").GetString()!);
        using var client = app.Api();
        await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });

        // While the CDN fails: still publishing, the error is shown, the preview is kept.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement current;
        while ((current = await app.GetTaskAsync(id)).GetProperty("status").GetString() == "publishing"
            && current.GetProperty("error").ValueKind == JsonValueKind.Null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        if (current.GetProperty("status").GetString() == "publishing")
        {
            Assert.StartsWith("Publishing failed:", current.GetProperty("error").GetString()!, StringComparison.Ordinal);
            Assert.True(File.Exists(file));
        }

        var published = await app.WaitForStatusAsync(id, "published");
        Assert.Equal(JsonValueKind.Null, published.GetProperty("error").ValueKind);
        // The image once, after six refusals; its social card and hero crops are Cloudinary's own crops of it, not uploads.
        Assert.Single(cloudinary.Assets);
        Assert.Equal(7, cloudinary.Requests);
        using var anonymous = app.CreateClient();
        var post = await anonymous.GetFromJsonAsync<JsonElement>($"/api/posts/{published.GetProperty("slug").GetString()}");
        Assert.StartsWith("https://res.cloudinary.com/", post.GetProperty("featured_image_url").GetString()!, StringComparison.Ordinal);
        Assert.False(File.Exists(file)); // cleaned up only after the upload was confirmed
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_cdn_slower_than_the_timeout_is_retried_and_publishes_once()
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        cloudinary.Delay = TimeSpan.FromSeconds(20);
        var settings = CloudinarySettings(cloudinary);
        settings["Publishing:Cloudinary:Timeout"] = "00:00:00.500";
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), settings);
        var id = (await app.CreateTaskAsync("Write about slow CDNs", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        using var client = app.Api();
        await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement current;
        while ((current = await app.GetTaskAsync(id)).GetProperty("error").ValueKind == JsonValueKind.Null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal("publishing", current.GetProperty("status").GetString());
        Assert.Contains("Publishing failed", current.GetProperty("error").GetString()!, StringComparison.Ordinal);
        cloudinary.Delay = TimeSpan.Zero;
        await app.WaitForStatusAsync(id, "published");
        Assert.Single(cloudinary.Assets); // the image once; its web copies are Cloudinary's crops of it
        app.DeleteFolder();
    }

    [Fact]
    public async Task An_unwritable_preview_folder_fails_the_task_clearly_and_a_retry_finishes_it_once_it_is_fixed()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Pipeline:MaxAttempts"] = "2" });
        // chmod does not stop root (CI runs as root): a plain file where the folder should be stops everyone.
        Directory.Delete(app.PreviewDirectory, recursive: true);
        await File.WriteAllTextAsync(app.PreviewDirectory, "not a folder");
        var id = (await app.CreateTaskAsync("Write about full disks", 2)).GetProperty("id").GetString()!;
        var failed = await app.WaitForStatusAsync(id, "failed");
        Assert.StartsWith("Generating images failed:", failed.GetProperty("error").GetString()!, StringComparison.Ordinal);
        using var client = app.Api();
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("storage:previews", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        File.Delete(app.PreviewDirectory);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/retry", null)).StatusCode);
        var done = await app.WaitForStatusAsync(id, "awaiting_approval");
        foreach (var variation in done.GetProperty("metadata").GetProperty("image_variations").EnumerateArray())
        {
            Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, variation.GetProperty("filename").GetString()!)));
        }
        app.DeleteFolder();
    }

    private static Dictionary<string, string?> CloudinarySettings(CloudinaryStandIn cloudinary) => new()
    {
        ["Publishing:Provider"] = "cloudinary",
        ["Publishing:Cloudinary:CloudName"] = CloudinaryStandIn.CloudName,
        ["Publishing:Cloudinary:ApiKey"] = CloudinaryStandIn.ApiKey,
        ["Publishing:Cloudinary:ApiSecret"] = CloudinaryStandIn.ApiSecret,
        ["Publishing:Cloudinary:BaseUrl"] = cloudinary.BaseUrl,
        ["Pipeline:ApproveWait"] = "00:00:00",
    };
}
