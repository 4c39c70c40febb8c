using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.IntegrationTests.Webhooks;

/// <summary>A fresh SQLite file built by the app's own migrations.</summary>
public sealed class SqliteTestDatabase : IDbContextFactory<AppDbContext>, IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("proofsheet-db-").FullName;
    private readonly DbContextOptions<SqliteAppDbContext> _options;

    private SqliteTestDatabase() =>
        _options = new DbContextOptionsBuilder<SqliteAppDbContext>()
            .UseSqlite($"Data Source={Path.Combine(_directory, "t.db")};Default Timeout=30")
            .Options;

    public static async Task<SqliteTestDatabase> CreateAsync()
    {
        var database = new SqliteTestDatabase();
        await using var db = database.CreateDbContext();
        await db.Database.MigrateAsync();
        return database;
    }

    public AppDbContext CreateDbContext() => new SqliteAppDbContext(_options);

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
