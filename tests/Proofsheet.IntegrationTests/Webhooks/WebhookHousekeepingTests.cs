using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Webhooks;

namespace Proofsheet.IntegrationTests.Webhooks;

/// <summary><c>Webhooks:RetentionDays</c>: delivered rows past it are deleted; younger ones, dead ones and queued ones stay.</summary>
public sealed class WebhookHousekeepingTests
{
    public static TheoryData<string> Providers => new() { "sqlite", "postgres" };

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Delivered_rows_past_the_retention_are_deleted_dead_ones_kept_and_redeliverable(string provider)
    {
        TestDatabase database = provider == "sqlite" ? new SqliteDatabase() : new PostgresDatabase();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?> { ["Webhooks:RetentionDays"] = "10" });
        var dbs = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        var now = DateTime.UtcNow;
        WebhookDelivery Row(string name, int ageDays, DateTime? delivered, DateTime? next) => new()
        {
            Id = Ids.New(), Url = $"https://receiver.example/{name}", Event = WebhookOutbox.PostPublished, Payload = "{}",
            Attempts = 1, CreatedAt = now.AddDays(-ageDays), DeliveredAt = delivered, NextAttemptAt = next,
            LastError = delivered is null && next is null ? "Receiver answered 500" : null,
        };
        var old = Row("old", 12, now.AddDays(-11), null);
        var recent = Row("recent", 12, now.AddDays(-9), null);
        var dead = Row("dead", 400, null, null);
        var queued = Row("queued", 400, null, now.AddMinutes(5));
        await using (var db = await dbs.CreateDbContextAsync())
        {
            db.WebhookDeliveries.AddRange(old, recent, dead, queued);
            await db.SaveChangesAsync();
        }

        // The hosted pass at start may run before or after the rows exist; either way this one ends the same.
        await app.Services.GetRequiredService<WebhookHousekeeping>().PruneDeliveredAsync(CancellationToken.None);

        await using (var db = await dbs.CreateDbContextAsync())
        {
            var left = await db.WebhookDeliveries.AsNoTracking().Select(d => d.Id).ToListAsync();
            Assert.Equal(new[] { recent.Id, dead.Id, queued.Id }.Order(), left.Order());
        }

        // Only a dead row can be queued again, once: with fresh attempts, due now.
        var housekeeping = app.Services.GetRequiredService<WebhookHousekeeping>();
        Assert.False(await housekeeping.RedeliverAsync(recent.Id, CancellationToken.None));
        Assert.False(await housekeeping.RedeliverAsync(queued.Id, CancellationToken.None));
        Assert.False(await housekeeping.RedeliverAsync(Ids.New(), CancellationToken.None));
        Assert.Equal([dead.Id], (await housekeeping.DeadAsync(10, CancellationToken.None)).Select(d => d.Id));
        Assert.True(await housekeeping.RedeliverAsync(dead.Id, CancellationToken.None));
        Assert.False(await housekeeping.RedeliverAsync(dead.Id, CancellationToken.None));
        Assert.Empty(await housekeeping.DeadAsync(10, CancellationToken.None));
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_retention_has_a_default_of_30_days_and_refuses_nonsense()
    {
        Assert.Equal(30, new WebhookOptions().RetentionDays);
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Webhooks:RetentionDays"] = "0" });
        });
        Assert.Contains("RetentionDays", failure.ToString(), StringComparison.Ordinal);
    }
}
