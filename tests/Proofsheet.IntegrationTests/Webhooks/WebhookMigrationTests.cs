using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Proofsheet.Data;

namespace Proofsheet.IntegrationTests.Webhooks;

/// <summary>The hand-written 0002 migrations say exactly what EF would create for the outbox in the model.</summary>
public sealed partial class WebhookMigrationTests
{
    [Fact]
    public void Sqlite_migration_matches_the_model()
    {
        using var db = new SqliteAppDbContext(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite("Data Source=:memory:").Options);
        AssertMatches(db.Database.GenerateCreateScript(), new Proofsheet.Data.Migrations.Sqlite.Webhooks());
    }

    [Fact]
    public void Postgres_migration_matches_the_model()
    {
        using var db = new PostgresAppDbContext(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql("Host=unused").Options);
        AssertMatches(db.Database.GenerateCreateScript(), new Proofsheet.Data.Migrations.Postgres.Webhooks());
    }

    private static void AssertMatches(string modelScript, Migration migration)
    {
        var expected = Statements(modelScript).Where(s => s.Contains("webhook_deliveries", StringComparison.Ordinal)).ToList();
        var actual = Statements(string.Join(";", migration.UpOperations.OfType<SqlOperation>().Select(o => o.Sql))).ToList();
        Assert.Equal(2, expected.Count);
        Assert.Equal(expected, actual);
    }

    private static IEnumerable<string> Statements(string sql) =>
        sql.Split(';').Select(s => Whitespace().Replace(s, " ").Trim()).Where(s => s.Length > 0 && !s.StartsWith("--", StringComparison.Ordinal));

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
