using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Proofsheet.Data;

public static class DataExtensions
{
    /// <summary>The PostgreSQL advisory lock key that serialises migrations between nodes.</summary>
    internal const long MigrationLock = 0x50726f6f66_02;

    public static WebApplicationBuilder AddData(this WebApplicationBuilder builder)
    {
        var paths = new AppPaths(builder.Configuration);
        builder.Services.AddSingleton(paths);
        // Known before any database work: every task event records the node that wrote it.
        var node = new Cluster.NodeIdentity(builder.Configuration[$"{Cluster.ClusterOptions.Section}:NodeId"]);
        builder.Services.AddSingleton(node);

        var provider = (builder.Configuration["Database:Provider"] ?? "sqlite").Trim().ToLowerInvariant();
        var connectionString = builder.Configuration.GetConnectionString("Default");
        // One method per provider: a method's code loads what it names when it first runs, so an app on
        // SQLite never loads Npgsql's EF provider and an app on PostgreSQL never loads SQLite's.
        IDbContextFactory<AppDbContext> factory = provider switch
        {
            "sqlite" => SqliteFactory(SqliteConnectionString(connectionString, paths), node),
            "postgres" or "postgresql" => PostgresFactory(connectionString ?? throw new InvalidOperationException(
                "Database:Provider is postgres but ConnectionStrings:Default is not set."), node),
            _ => throw new InvalidOperationException($"Database:Provider '{provider}' is not one of sqlite, postgres."),
        };
        builder.Services.AddSingleton(factory);
        builder.Services.AddSingleton(new DatabaseInfo(provider is "postgres" or "postgresql", connectionString));
        if (provider == "sqlite")
        {
            // A factory, not an instance: the container disposes what it made, releasing the lock on stop.
            var sqlite = SqliteConnectionString(connectionString, paths);
            builder.Services.AddSingleton(_ => new SqliteSingleProcess(sqlite));
        }
        builder.Services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext());
        return builder;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ProviderContextFactory<SqliteAppDbContext> SqliteFactory(string connectionString, Cluster.NodeIdentity node) =>
        new ProviderContextFactory<SqliteAppDbContext>(
            new DbContextOptionsBuilder<SqliteAppDbContext>()
                .UseSqlite(connectionString)
                .AddInterceptors(new SqlitePragmas())
                .ReplaceService<Microsoft.EntityFrameworkCore.Migrations.IMigrationsAssembly, MigrationsInNamespace>()
                .Options,
            o => new SqliteAppDbContext(o) { NodeId = node.Id });

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ProviderContextFactory<PostgresAppDbContext> PostgresFactory(string connectionString, Cluster.NodeIdentity node) =>
        new ProviderContextFactory<PostgresAppDbContext>(
            new DbContextOptionsBuilder<PostgresAppDbContext>()
                .UseNpgsql(connectionString)
                .ReplaceService<Microsoft.EntityFrameworkCore.Migrations.IMigrationsAssembly, MigrationsInNamespace>()
                .Options,
            o => new PostgresAppDbContext(o) { NodeId = node.Id });

    internal static string SqliteConnectionString(string? configured, AppPaths paths)
    {
        var csb = new SqliteConnectionStringBuilder(configured ?? $"Data Source={Path.Combine(paths.DataDirectory, "proofsheet.db")}")
        {
            // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout: this is the busy timeout.
            DefaultTimeout = 30,
            Pooling = true,
        };
        if (!string.IsNullOrEmpty(csb.DataSource) && csb.DataSource != ":memory:")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(csb.DataSource))!);
        }
        return csb.ToString();
    }

    /// <summary>Applies the hand-written migrations of the configured provider.</summary>
    public static async Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        // Before anything touches the file: a second process on one SQLite database is refused here.
        services.GetService<SqliteSingleProcess>()?.Acquire();
        var database = services.GetRequiredService<DatabaseInfo>();
        await using var db = await services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync(ct);
        if (!database.IsPostgres)
        {
            await db.Database.MigrateAsync(ct);
            return;
        }
        await MigratePostgresAsync(db, database.ConnectionString!, ct);
    }

    // Apart from MigrateDatabaseAsync so that an app on SQLite never loads Npgsql.
    private static async Task MigratePostgresAsync(AppDbContext db, string connectionString, CancellationToken ct)
    {
        // Nodes started together would each apply the same migration: they take turns, and the
        // second finds nothing left to do.
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_lock({MigrationLock})", connection))
        {
            await take.ExecuteNonQueryAsync(ct);
        }
        try
        {
            await db.Database.MigrateAsync(ct);
        }
        finally
        {
            await using var release = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_unlock({MigrationLock})", connection);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>Which database the app runs on: PostgreSQL coordinates several nodes, SQLite serves one.</summary>
    public sealed record DatabaseInfo(bool IsPostgres, string? ConnectionString);

    private sealed class ProviderContextFactory<TContext>(DbContextOptions<TContext> options, Func<DbContextOptions<TContext>, TContext> create)
        : IDbContextFactory<AppDbContext>
        where TContext : AppDbContext
    {
        public AppDbContext CreateDbContext() => create(options);
    }
}
