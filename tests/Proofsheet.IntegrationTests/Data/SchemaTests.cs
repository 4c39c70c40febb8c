using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Data;

/// <summary>
/// The migrations are written by hand, so this proves them: a database built by the migrations
/// has exactly the tables, columns, types, nullability and indexes that EF builds from the model.
/// </summary>
public abstract class SchemaTests(TestDatabase database)
{
    [Fact]
    public async Task A_migrated_database_matches_the_model()
    {
        await using var migrated = await TestApp.StartAsync(database);

        // The model's own schema goes into a fresh database that no app runs against. (It used to
        // be an app's database, deleted and re-created under it: on SQLite EnsureDeleted removes
        // only the main file, and while the app's background services held connections their
        // write-ahead log stayed behind and was replayed into the new file, so once in a while
        // EnsureCreated met "table api_keys already exists".)
        var folder = Path.Combine(Path.GetTempPath(), "proofsheet-schema-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var connectionString = await database.CreateAsync(folder);
            await using (var db = ModelContext(connectionString))
            {
                Assert.True(await db.Database.EnsureCreatedAsync());
            }

            var expected = await DescribeAsync(() => ModelContext(connectionString));
            var actual = await DescribeAsync(() => CreateContext(migrated));
            Assert.NotEmpty(expected);
            Assert.Equal(expected, actual);

            await using var check = CreateContext(migrated);
            Assert.Empty(await check.Database.GetPendingMigrationsAsync());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
        migrated.DeleteFolder();
    }

    private AppDbContext ModelContext(string connectionString) => database.Provider == "sqlite"
        ? new SqliteAppDbContext(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite(connectionString).Options)
        : new PostgresAppDbContext(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql(connectionString).Options);

    private static AppDbContext CreateContext(TestApp app) =>
        app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();

    private async Task<List<string>> DescribeAsync(Func<AppDbContext> context)
    {
        await using var db = context();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var rows = new List<string>();
        foreach (var query in Queries(connection))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = query;
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : reader.GetValue(i).ToString())));
            }
        }
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    protected abstract IEnumerable<string> Queries(DbConnection connection);
}

public sealed class SqliteSchemaTests() : SchemaTests(new SqliteDatabase())
{
    protected override IEnumerable<string> Queries(DbConnection connection) =>
    [
        """
        SELECT m.name, p.name, p.type, p."notnull", p.pk
        FROM sqlite_master m JOIN pragma_table_info(m.name) p
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__EFMigrations%'
        """,
        """
        SELECT m.name, il.name, il."unique", group_concat(ii.name, ',')
        FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__EFMigrations%'
        GROUP BY m.name, il.name, il."unique"
        """,
        // AUTOINCREMENT and the other column constraints live only in the CREATE text.
        """
        SELECT name, instr(sql, 'AUTOINCREMENT') > 0 FROM sqlite_master
        WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__EFMigrations%'
        """,
    ];
}

public sealed class PostgresSchemaTests() : SchemaTests(new PostgresDatabase())
{
    protected override IEnumerable<string> Queries(DbConnection connection) =>
    [
        """
        SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, ''), is_identity, coalesce(identity_generation, '')
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> '__EFMigrationsHistory'
        """,
        """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> '__EFMigrationsHistory'
        """,
    ];
}
