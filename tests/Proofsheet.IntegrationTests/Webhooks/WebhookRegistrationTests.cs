using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Webhooks;

namespace Proofsheet.IntegrationTests.Webhooks;

public sealed class WebhookRegistrationTests
{
    private static WebApplication Build(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddData();
        builder.AddWebhooks();
        return builder.Build();
    }

    [Fact]
    public async Task Receivers_without_a_secret_fail_at_start()
    {
        var dir = Directory.CreateTempSubdirectory("proofsheet-wh-").FullName;
        try
        {
            await using var app = Build(new() { ["DataDirectory"] = dir, ["Webhooks:Urls"] = "https://example.com/hook" });

            var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

            Assert.Contains("Webhooks:Secret must be set", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_url_that_is_not_http_fails_at_start()
    {
        var dir = Directory.CreateTempSubdirectory("proofsheet-wh-").FullName;
        try
        {
            await using var app = Build(new() { ["DataDirectory"] = dir, ["Webhooks:Urls"] = "file:///etc/passwd", ["Webhooks:Secret"] = "s" });

            var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

            Assert.Contains("Webhooks:Urls", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task The_registered_outbox_signal_and_dispatcher_deliver_after_a_commit()
    {
        var received = new ConcurrentQueue<string>();
        await using var receiver = await StandInServer.StartAsync(app => app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            received.Enqueue(await reader.ReadToEndAsync());
            return Results.NoContent();
        }));
        var dir = Directory.CreateTempSubdirectory("proofsheet-wh-").FullName;
        try
        {
            await using (var app = Build(new()
                         {
                             ["DataDirectory"] = dir,
                             ["Webhooks:Urls"] = receiver.BaseUrl + "/hook",
                             ["Webhooks:Secret"] = "s3cret",
                         }))
            {
                await app.Services.MigrateDatabaseAsync();
                await app.StartAsync();

                // What the publish step does: add inside its transaction, save, then signal.
                await using (var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
                {
                    app.Services.GetRequiredService<WebhookOutbox>().Add(db, new WebhookPost("p", "s", "T", "https://blog/posts/s", null));
                    await db.SaveChangesAsync();
                }
                app.Services.GetRequiredService<WebhookSignal>().Notify();

                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (received.IsEmpty)
                {
                    Assert.True(DateTime.UtcNow < deadline, "The webhook was not delivered.");
                    await Task.Delay(50);
                }
                await app.StopAsync();
            }

            var body = Assert.Single(received);
            Assert.Contains("\"featured_image_url\":null", body, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
