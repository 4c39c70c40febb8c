using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.Cluster;

/// <summary>
/// Fixed-window counters kept in the database, so every node counts against the same number.
/// One statement (an upsert that returns the new count) makes a hit atomic on both databases.
/// </summary>
public sealed class RateCounters(IDbContextFactory<AppDbContext> dbs, TimeProvider time)
{
    public readonly record struct Window(int Count, TimeSpan Remaining);

    /// <summary>Counts one more in the current window and returns the count, this one included.</summary>
    public async Task<Window> HitAsync(string key, TimeSpan window, CancellationToken ct)
    {
        var (start, remaining) = Current(window);
        await using var db = await dbs.CreateDbContextAsync(ct);
        var count = await ScalarAsync(db,
            """
            INSERT INTO rate_counters ("Key", "WindowStart", "Count") VALUES (@key, @start, 1)
            ON CONFLICT ("Key") DO UPDATE SET
                "Count" = CASE WHEN rate_counters."WindowStart" = excluded."WindowStart" THEN rate_counters."Count" + 1 ELSE 1 END,
                "WindowStart" = excluded."WindowStart"
            RETURNING "Count"
            """, key, start, ct);
        return new Window(count, remaining);
    }

    /// <summary>The count so far in the current window, without adding to it.</summary>
    public async Task<Window> PeekAsync(string key, TimeSpan window, CancellationToken ct)
    {
        var (start, remaining) = Current(window);
        await using var db = await dbs.CreateDbContextAsync(ct);
        var count = await db.RateCounters.AsNoTracking()
            .Where(c => c.Key == key && c.WindowStart == start)
            .Select(c => c.Count)
            .FirstOrDefaultAsync(ct);
        return new Window(count, remaining);
    }

    /// <summary>Drops counters whose window ended long ago.</summary>
    public async Task PruneAsync(TimeSpan olderThan, CancellationToken ct)
    {
        var cutoff = time.GetUtcNow().ToUnixTimeSeconds() - (long)olderThan.TotalSeconds;
        await using var db = await dbs.CreateDbContextAsync(ct);
        await db.RateCounters.Where(c => c.WindowStart < cutoff).ExecuteDeleteAsync(ct);
    }

    private (long Start, TimeSpan Remaining) Current(TimeSpan window)
    {
        var seconds = Math.Max(1, (long)window.TotalSeconds);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var start = now / 1000 / seconds * seconds;
        return (start, TimeSpan.FromMilliseconds(((start + seconds) * 1000) - now));
    }

    private static async Task<int> ScalarAsync(AppDbContext db, string sql, string key, long start, CancellationToken ct)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            Add(command, "@key", key);
            Add(command, "@start", start);
            return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
