using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;

using Proofsheet.Telemetry;

namespace Proofsheet.Webhooks;

/// <summary>
/// Sends due outbox rows until each receiver answers 2xx, with exponential backoff between
/// attempts. Rows are claimed with a conditional update, so several app instances (or a restart
/// mid-send) never lose a delivery; a receiver may rarely see one twice and can tell by
/// <c>X-Proofsheet-Delivery</c>.
/// </summary>
public sealed class WebhookDispatcher(
    IDbContextFactory<AppDbContext> dbFactory,
    WebhookSignal signal,
    WebhookSender sender,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.Value.PollInterval;
            try
            {
                var nextDue = await DeliverDueAsync(stoppingToken);
                if (nextDue is { } due)
                {
                    var untilDue = due - time.GetUtcNow().UtcDateTime;
                    wait = untilDue < wait ? (untilDue > TimeSpan.Zero ? untilDue : TimeSpan.Zero) : wait;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database may be briefly unavailable; the rows are still there on the next pass.
                logger.LogError(ex, "Webhook dispatch pass failed; retrying in {Delay}", wait);
            }
            await signal.WaitAsync(wait, stoppingToken);
        }
    }

    /// <summary>Delivers everything due now; returns when the next not-yet-due attempt is, if any.</summary>
    internal async Task<DateTime?> DeliverDueAsync(CancellationToken ct)
    {
        var o = options.Value;
        while (true)
        {
            var now = time.GetUtcNow().UtcDateTime;
            List<WebhookDelivery> due;
            await using (var db = await dbFactory.CreateDbContextAsync(ct))
            {
                due = await db.WebhookDeliveries.AsNoTracking()
                    .Where(d => d.NextAttemptAt != null && d.NextAttemptAt <= now)
                    .OrderBy(d => d.NextAttemptAt)
                    .Take(o.MaxConcurrency * 4)
                    .ToListAsync(ct);
                if (due.Count == 0)
                {
                    return await db.WebhookDeliveries.AsNoTracking().Where(d => d.NextAttemptAt != null)
                        .OrderBy(d => d.NextAttemptAt).Select(d => d.NextAttemptAt).FirstOrDefaultAsync(ct);
                }
            }
            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = o.MaxConcurrency, CancellationToken = ct },
                async (delivery, token) => await DeliverAsync(delivery, token));
        }
    }

    private async Task DeliverAsync(WebhookDelivery delivery, CancellationToken ct)
    {
        var o = options.Value;
        var now = time.GetUtcNow().UtcDateTime;
        // The lease: while it runs, no other dispatcher picks the row; if this process dies, the row is due again after it.
        var leaseUntil = now + o.Timeout + TimeSpan.FromMinutes(1);
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var claimed = await db.WebhookDeliveries
                .Where(d => d.Id == delivery.Id && d.DeliveredAt == null && d.NextAttemptAt != null && d.NextAttemptAt <= now)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, leaseUntil), ct);
            if (claimed == 0)
            {
                return;
            }
        }

        // Its own trace: a delivery runs after the step that wrote it committed, often on another node.
        System.Diagnostics.Activity.Current = null;
        string? error;
        using (var activity = ProofsheetTelemetry.Source.StartActivity($"webhook {delivery.Event}"))
        {
            activity?.SetTag("proofsheet.webhook.delivery_id", delivery.Id);
            activity?.SetTag("proofsheet.webhook.attempt", delivery.Attempts + 1);
            error = await sender.SendAsync(delivery, ct);
            if (error is not null)
            {
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error);
            }
        }
        var attempts = delivery.Attempts + 1;
        var finished = time.GetUtcNow().UtcDateTime;
        await using (var db = await dbFactory.CreateDbContextAsync(CancellationToken.None))
        {
            var row = db.WebhookDeliveries.Where(d => d.Id == delivery.Id);
            if (error is null)
            {
                // Not cancellable: the receiver has the event, and forgetting that would send it again.
                await row.ExecuteUpdateAsync(s => s
                    .SetProperty(d => d.Attempts, attempts)
                    .SetProperty(d => d.DeliveredAt, finished)
                    .SetProperty(d => d.NextAttemptAt, (DateTime?)null), CancellationToken.None);
                logger.LogInformation("Webhook {DeliveryId} ({Event}) delivered to {Receiver} on attempt {Attempt}", delivery.Id, delivery.Event, Receiver(delivery.Url), attempts);
                return;
            }

            DateTime? next = attempts >= o.MaxAttempts ? null : finished + Backoff(attempts, o);
            await row.ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Attempts, attempts)
                .SetProperty(d => d.LastError, error)
                .SetProperty(d => d.NextAttemptAt, next), CancellationToken.None);
            if (next is null)
            {
                logger.LogError("Webhook {DeliveryId} ({Event}) to {Receiver} is dead after {Attempts} attempts: {Error}", delivery.Id, delivery.Event, Receiver(delivery.Url), attempts, error);
            }
            else
            {
                logger.LogWarning("Webhook {DeliveryId} ({Event}) to {Receiver} failed (attempt {Attempt}): {Error}; next attempt at {NextAttemptAt}", delivery.Id, delivery.Event, Receiver(delivery.Url), attempts, error, next);
            }
        }
    }

    /// <summary>Only the receiver's origin: webhook URLs often carry a token in their path or query (Slack, Discord, Zapier).</summary>
    internal static string Receiver(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Authority) + "/…" : "(invalid URL)";

    /// <summary>Base × 2^(attempt−1), capped, with ±20% jitter so receivers that come back are not hit all at once.</summary>
    internal static TimeSpan Backoff(int attempt, WebhookOptions o)
    {
        var exponential = o.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(exponential, o.RetryMaxDelay.TotalMilliseconds);
#pragma warning disable CA5394 // jitter, not security
        var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
#pragma warning restore CA5394
        return TimeSpan.FromMilliseconds(Math.Min(capped * jitter, o.RetryMaxDelay.TotalMilliseconds));
    }
}
