using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Webhooks;

/// <summary>
/// The task and post events of docs/operations.md ("Webhooks"), each sent once, signed like
/// post.published, to a receiver that checks every signature.
/// </summary>
public sealed class WebhookEventTests
{
    private const string Secret = "event-test-secret";

    private sealed record Received(string Event, string Signature, byte[] Body)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    }

    private static async Task<(StandInServer Server, ConcurrentQueue<Received> Received)> ReceiverAsync()
    {
        var received = new ConcurrentQueue<Received>();
        var server = await StandInServer.StartAsync(app => app.MapPost("/hook", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            received.Enqueue(new Received(context.Request.Headers["X-Proofsheet-Event"].ToString(), context.Request.Headers["X-Proofsheet-Signature"].ToString(), buffer.ToArray()));
            return Results.NoContent();
        }));
        return (server, received);
    }

    private static Dictionary<string, string?> Settings(StandInServer receiver) => new()
    {
        ["Webhooks:Urls"] = receiver.BaseUrl + "/hook",
        ["Webhooks:Secret"] = Secret,
        ["Webhooks:PollInterval"] = "00:00:00.200",
    };

    private static async Task<Received> WaitForAsync(ConcurrentQueue<Received> received, string eventName, string taskId)
    {
        Received? found = null;
        await TestApp.WaitUntilAsync(() => Task.FromResult((found = received.FirstOrDefault(r => r.Event == eventName && Encoding.UTF8.GetString(r.Body).Contains(taskId, StringComparison.Ordinal))) is not null));
        return found!;
    }

    [Fact]
    public async Task A_task_walk_sends_awaiting_scheduled_published_and_unpublished_events_once_each_signed()
    {
        var (receiver, received) = await ReceiverAsync();
        await using var _ = receiver;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), Settings(receiver), s => s.AddSingleton<TimeProvider>(clock));
        using var api = app.Api();
        var id = (await app.CreateTaskAsync("Write about Marmalade", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var awaiting = await WaitForAsync(received, "task.awaiting_approval", id);
        Assert.Equal("awaiting_approval", awaiting.Json.GetProperty("task").GetProperty("status").GetString());
        Assert.EndsWith($"/hub/tasks/{id}", awaiting.Json.GetProperty("task").GetProperty("url").GetString(), StringComparison.Ordinal);

        var publishAt = clock.GetUtcNow().AddMinutes(30);
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = publishAt.UtcDateTime.ToString("O") })).StatusCode);
        var scheduled = await WaitForAsync(received, "task.scheduled", id);
        Assert.Equal("scheduled", scheduled.Json.GetProperty("task").GetProperty("status").GetString());
        Assert.Equal(publishAt.UtcDateTime, scheduled.Json.GetProperty("task").GetProperty("publish_at").GetDateTime().ToUniversalTime());

        clock.Advance(TimeSpan.FromMinutes(30));
        await app.WaitForStatusAsync(id, "published");
        var published = await WaitForAsync(received, "post.published", "marmalade");
        Assert.Equal("marmalade", published.Json.GetProperty("post").GetProperty("slug").GetString());

        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync($"/api/tasks/{id}/unpublish", null)).StatusCode);
        var unpublished = await WaitForAsync(received, "post.unpublished", "marmalade");
        Assert.EndsWith("/posts/marmalade", unpublished.Json.GetProperty("post").GetProperty("url").GetString(), StringComparison.Ordinal);

        // Each once, each signed over its exact bytes, the body naming the same event as the header.
        Assert.Equal(["task.awaiting_approval", "task.scheduled", "post.published", "post.unpublished"], received.Select(r => r.Event));
        foreach (var r in received)
        {
            Assert.Equal("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), r.Body)), r.Signature);
            Assert.Equal(r.Event, r.Json.GetProperty("event").GetString());
        }
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_failed_task_sends_task_failed_with_its_error_and_a_filter_keeps_the_others_back()
    {
        var (receiver, received) = await ReceiverAsync();
        await using var _ = receiver;
        var settings = Settings(receiver);
        settings["Content:Provider"] = "openai";
        settings["Content:OpenAI:BaseUrl"] = DeadServer.Url() + "/v1";
        settings["Content:OpenAI:ApiKey"] = "sk-never-answers";
        settings["Content:OpenAI:Model"] = "llama3.1";
        settings["Pipeline:MaxAttempts"] = "1";
        settings["Webhooks:Events"] = "task.failed";
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), settings);
        var id = (await app.CreateTaskAsync("Write about Burnt Toast", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "failed");

        var failed = await WaitForAsync(received, "task.failed", id);
        var task = failed.Json.GetProperty("task");
        Assert.Equal("failed", task.GetProperty("status").GetString());
        Assert.StartsWith("Writing the draft failed", task.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), failed.Body)), failed.Signature);
        Assert.DoesNotContain("sk-never-answers", Encoding.UTF8.GetString(failed.Body), StringComparison.Ordinal);
        Assert.Equal(["task.failed"], received.Select(r => r.Event));
        app.DeleteFolder();
    }
}
