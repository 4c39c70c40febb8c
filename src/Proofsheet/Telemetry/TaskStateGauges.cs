using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Telemetry;

/// <summary>
/// Gauges read from the database when /metrics is scraped: tasks by status and the webhook
/// backlog. The database is the truth every node shares, so each node reports the same numbers
/// (take max() across nodes, not sum()). Nothing runs between scrapes.
/// </summary>
public sealed class TaskStateGauges(IDbContextFactory<AppDbContext> dbs, IMeterFactory meters, ILogger<TaskStateGauges> logger)
{
    public void Register()
    {
        // A meter of this app's container (not the static one): its callbacks read this app's
        // database and end with it.
        var meter = meters.Create(ProofsheetTelemetry.Name);
        meter.CreateObservableGauge("proofsheet.tasks", TasksByStatus, "{task}", "Tasks in each status.");
        meter.CreateObservableGauge("proofsheet.webhooks.backlog", WebhookBacklog, "{delivery}",
            "Webhook deliveries not yet delivered: pending (will be tried) and dead (given up; redeliver from the Hub).");
    }

    private IEnumerable<Measurement<long>> TasksByStatus()
    {
        Dictionary<WorkflowStatus, int> counts;
        try
        {
            // The metrics callback is synchronous; a scrape is rare and this is one grouped count.
            using var db = dbs.CreateDbContext();
            counts = db.Tasks.AsNoTracking().GroupBy(t => t.Status).Select(g => new { g.Key, Count = g.Count() }).ToDictionary(g => g.Key, g => g.Count);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Counting tasks for /metrics failed");
            return [];
        }
        // Every status, zeros included, so a rate or an alert on a status that empties keeps working.
        return Enum.GetValues<WorkflowStatus>().Select(s =>
            new Measurement<long>(counts.GetValueOrDefault(s), new KeyValuePair<string, object?>("status", s.ToWire()))).ToList();
    }

    private IEnumerable<Measurement<long>> WebhookBacklog()
    {
        try
        {
            using var db = dbs.CreateDbContext();
            var pending = db.WebhookDeliveries.AsNoTracking().LongCount(d => d.DeliveredAt == null && d.NextAttemptAt != null);
            var dead = db.WebhookDeliveries.AsNoTracking().LongCount(d => d.DeliveredAt == null && d.NextAttemptAt == null);
            return
            [
                new Measurement<long>(pending, new KeyValuePair<string, object?>("state", "pending")),
                new Measurement<long>(dead, new KeyValuePair<string, object?>("state", "dead")),
            ];
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Counting webhook deliveries for /metrics failed");
            return [];
        }
    }
}
