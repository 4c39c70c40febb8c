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
        await using var created = await TestApp.StartAsync(database);
        await using (var db = CreateContext(created))
        {
            // Start from nothing, then let EF build the schema straight from the model.
            await db.Database.EnsureDeletedAsync();
            await db.Database.EnsureCreatedAsync();
        }

        var expected = await DescribeAsync(created);
        var actual = await DescribeAsync(migrated);
        Assert.NotEmpty(expected);
        Assert.Equal(expected, actual);

        await using var check = CreateContext(migrated);
        Assert.Empty(await check.Database.GetPendingMigrationsAsync());
        migrated.DeleteFolder();
        created.DeleteFolder();
    }

    private static AppDbContext CreateContext(TestApp app) =>
        app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();

    private async Task<List<string>> DescribeAsync(TestApp app)
    {
        await using var db = CreateContext(app);
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
