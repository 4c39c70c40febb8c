using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Webhooks;

namespace Proofsheet.IntegrationTests.Webhooks;

public sealed class WebhookDispatcherTests : IAsyncLifetime
{
    private const string Secret = "whsec-test-0f3c9a";

    private SqliteTestDatabase _database = null!;
    private StandInServer _receiver = null!;
    private readonly ConcurrentQueue<Received> _received = new();
    private readonly ConcurrentQueue<int> _failuresToReturn = new();
    private TimeSpan _receiverDelay;
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    private sealed record Received(string Path, byte[] Body, string? Signature, string? Event, string? Delivery, string? ContentType);

    public async Task InitializeAsync()
    {
        _database = await SqliteTestDatabase.CreateAsync();
        _receiver = await StandInServer.StartAsync(app => app.MapPost("/hooks/{name}", async (string name, HttpRequest request, CancellationToken ct) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, ct);
            _received.Enqueue(new Received(name, body.ToArray(), request.Headers["X-Proofsheet-Signature"], request.Headers["X-Proofsheet-Event"],
                request.Headers["X-Proofsheet-Delivery"], request.ContentType));
            if (_receiverDelay > TimeSpan.Zero)
            {
                await Task.Delay(_receiverDelay, ct);
            }
            return _failuresToReturn.TryDequeue(out var status) ? Results.Text("receiver is down", statusCode: status) : Results.Ok();
        }));
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _receiver.DisposeAsync();
        await _database.DisposeAsync();
    }

    private WebhookOptions Options(params string[] receivers) => new()
    {
        Urls = string.Join(", ", receivers.Select(r => $"{_receiver.BaseUrl}/hooks/{r}")),
        Secret = Secret,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        PollInterval = TimeSpan.FromSeconds(30),
        Timeout = TimeSpan.FromSeconds(10),
    };

    private static readonly WebhookPost Post = new("post-1", "making-muffins", "Making Muffins", "https://blog.example.com/posts/making-muffins",
        "https://res.cloudinary.com/demo/image/upload/v1/making-muffins.png");

    /// <summary>Queues the event like the publisher does (outbox rows saved with the publish), then wakes the dispatcher.</summary>
    private async Task<(WebhookDispatcher Dispatcher, WebhookSignal Signal)> PublishAsync(WebhookOptions options)
    {
        var outbox = new WebhookOutbox(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System);
        await using (var db = _database.CreateDbContext())
        {
            outbox.Add(db, Post);
            await db.SaveChangesAsync();
        }
        var signal = new WebhookSignal();
        var dispatcher = new WebhookDispatcher(_database, signal, new WebhookSender(_http, Microsoft.Extensions.Options.Options.Create(options)),
            Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, NullLogger<WebhookDispatcher>.Instance);
        await dispatcher.StartAsync(CancellationToken.None);
        signal.Notify();
        return (dispatcher, signal);
    }

    private async Task<List<WebhookDelivery>> WaitForAsync(Func<List<WebhookDelivery>, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            await using var db = _database.CreateDbContext();
            var rows = await db.WebhookDeliveries.AsNoTracking().OrderBy(d => d.Url).ToListAsync();
            if (done(rows))
            {
                return rows;
            }
            Assert.True(DateTime.UtcNow < deadline, "The deliveries did not reach the expected state: " +
                string.Join("; ", rows.Select(r => $"{r.Url} attempts={r.Attempts} delivered={r.DeliveredAt} next={r.NextAttemptAt} error={r.LastError}")));
            await Task.Delay(50);
        }
    }

    private static void AssertSignedPostPublished(Received received, string deliveryId)
    {
        // Verified the way a receiver would: HMAC-SHA256 of the raw body bytes under the shared secret.
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), received.Body));
        Assert.Equal(expected, received.Signature);
        Assert.Equal("post.published", received.Event);
        Assert.Equal(deliveryId, received.Delivery);
        Assert.StartsWith("application/json", received.ContentType, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(received.Body);
        var root = json.RootElement;
        Assert.Equal("post.published", root.GetProperty("event").GetString());
        Assert.Equal(deliveryId, root.GetProperty("id").GetString());
        Assert.True(root.GetProperty("occurred_at").TryGetDateTime(out _));
        var post = root.GetProperty("post");
        Assert.Equal("post-1", post.GetProperty("id").GetString());
        Assert.Equal("making-muffins", post.GetProperty("slug").GetString());
        Assert.Equal("Making Muffins", post.GetProperty("title").GetString());
        Assert.Equal("https://blog.example.com/posts/making-muffins", post.GetProperty("url").GetString());
        Assert.Equal("https://res.cloudinary.com/demo/image/upload/v1/making-muffins.png", post.GetProperty("featured_image_url").GetString());
    }

    [Fact]
    public async Task A_receiver_gets_one_correctly_signed_post_published_event()
    {
        var (dispatcher, _) = await PublishAsync(Options("a"));

        var rows = await WaitForAsync(r => r.Count == 1 && r[0].DeliveredAt is not null);
        await dispatcher.StopAsync(CancellationToken.None);

        var row = rows[0];
        Assert.Equal(1, row.Attempts);
        Assert.Null(row.NextAttemptAt);
        Assert.Null(row.LastError);
        var received = Assert.Single(_received);
        Assert.Equal("a", received.Path);
        Assert.Equal(row.Payload, Encoding.UTF8.GetString(received.Body));
        AssertSignedPostPublished(received, row.Id);
    }

    [Fact]
    public async Task A_failing_receiver_is_retried_until_it_answers_2xx_and_then_left_alone()
    {
        _failuresToReturn.Enqueue(500);

        var (dispatcher, signal) = await PublishAsync(Options("flaky"));
        var rows = await WaitForAsync(r => r.Count == 1 && r[0].DeliveredAt is not null);
        // Wake it again: a delivered event is not sent twice.
        signal.Notify();
        await dispatcher.StopAsync(CancellationToken.None);

        var row = rows[0];
        Assert.Equal(2, row.Attempts);
        Assert.Null(row.NextAttemptAt);
        Assert.Contains("HTTP 500", row.LastError, StringComparison.Ordinal);
        Assert.Contains("receiver is down", row.LastError, StringComparison.Ordinal);
        Assert.Equal(2, _received.Count);
        // Every attempt carries the identical body and signature.
        Assert.Single(_received.Select(r => Convert.ToBase64String(r.Body)).Distinct());
        Assert.All(_received, r => AssertSignedPostPublished(r, row.Id));
    }

    [Fact]
    public async Task A_delivery_is_marked_dead_with_its_last_error_after_the_maximum_attempts()
    {
        for (var i = 0; i < 10; i++)
        {
            _failuresToReturn.Enqueue(503);
        }
        var options = Options("down");
        options.MaxAttempts = 3;

        var (dispatcher, _) = await PublishAsync(options);
        var rows = await WaitForAsync(r => r.Count == 1 && r[0].Attempts == 3 && r[0].NextAttemptAt is null);
        await dispatcher.StopAsync(CancellationToken.None);

        var row = rows[0];
        Assert.Null(row.DeliveredAt);
        Assert.Contains("HTTP 503", row.LastError, StringComparison.Ordinal);
        Assert.Equal(3, _received.Count);
    }

    [Fact]
    public async Task A_receiver_that_does_not_answer_in_time_is_recorded_as_a_timeout_and_retried()
    {
        _receiverDelay = TimeSpan.FromSeconds(20);
        var options = Options("slow");
        options.Timeout = TimeSpan.FromMilliseconds(300);
        options.RetryBaseDelay = TimeSpan.FromMinutes(10);
        options.RetryMaxDelay = TimeSpan.FromMinutes(10);

        var (dispatcher, _) = await PublishAsync(options);
        var rows = await WaitForAsync(r => r.Count == 1 && r[0].Attempts == 1);
        await dispatcher.StopAsync(CancellationToken.None);

        Assert.Null(rows[0].DeliveredAt);
        Assert.NotNull(rows[0].NextAttemptAt);
        Assert.StartsWith("No answer within", rows[0].LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_configured_url_gets_its_own_delivery()
    {
        var (dispatcher, _) = await PublishAsync(Options("one", "two"));

        var rows = await WaitForAsync(r => r.Count == 2 && r.All(d => d.DeliveredAt is not null));
        await dispatcher.StopAsync(CancellationToken.None);

        Assert.NotEqual(rows[0].Id, rows[1].Id);
        Assert.Equal(["one", "two"], _received.Select(r => r.Path).Order());
        foreach (var received in _received)
        {
            AssertSignedPostPublished(received, rows.Single(r => r.Url.EndsWith("/" + received.Path, StringComparison.Ordinal)).Id);
        }
    }

    [Fact]
    public async Task The_outbox_adds_rows_without_saving_and_nothing_without_receivers()
    {
        await using var db = _database.CreateDbContext();
        var configured = new WebhookOutbox(Microsoft.Extensions.Options.Options.Create(Options("x", "y")), TimeProvider.System);
        var unconfigured = new WebhookOutbox(Microsoft.Extensions.Options.Options.Create(new WebhookOptions()), TimeProvider.System);

        Assert.Equal(0, unconfigured.Add(db, Post));
        Assert.Equal(2, configured.Add(db, Post));

        Assert.Equal(2, db.ChangeTracker.Entries<WebhookDelivery>().Count(e => e.State == EntityState.Added));
        await using var other = _database.CreateDbContext();
        Assert.Equal(0, await other.WebhookDeliveries.CountAsync());
    }

    [Fact]
    public async Task The_migrations_create_the_outbox_table()
    {
        await using var db = _database.CreateDbContext();

        Assert.Contains("20261122000100_Webhooks", await db.Database.GetAppliedMigrationsAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
    }

    [Fact]
    public void Backoff_doubles_and_is_capped()
    {
        var options = new WebhookOptions { RetryBaseDelay = TimeSpan.FromSeconds(10), RetryMaxDelay = TimeSpan.FromMinutes(5) };

        Assert.InRange(WebhookDispatcher.Backoff(1, options), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(12));
        Assert.InRange(WebhookDispatcher.Backoff(3, options), TimeSpan.FromSeconds(32), TimeSpan.FromSeconds(48));
        Assert.InRange(WebhookDispatcher.Backoff(60, options), TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Logs_name_only_the_receivers_origin_because_webhook_urls_often_hold_tokens() =>
        Assert.Equal("https://hooks.slack.com/…", WebhookDispatcher.Receiver("https://hooks.slack.com/services/T000/B000/XXXXSECRET?token=abc"));
}
