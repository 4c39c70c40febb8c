using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Proofsheet.Data;

public static class DataExtensions
{
    public static WebApplicationBuilder AddData(this WebApplicationBuilder builder)
    {
        var paths = new AppPaths(builder.Configuration);
        builder.Services.AddSingleton(paths);

        var provider = (builder.Configuration["Database:Provider"] ?? "sqlite").Trim().ToLowerInvariant();
        var connectionString = builder.Configuration.GetConnectionString("Default");
        IDbContextFactory<AppDbContext> factory = provider switch
        {
            "sqlite" => new ProviderContextFactory<SqliteAppDbContext>(
                new DbContextOptionsBuilder<SqliteAppDbContext>()
                    .UseSqlite(SqliteConnectionString(connectionString, paths))
                    .AddInterceptors(new SqlitePragmas())
                    .Options,
                o => new SqliteAppDbContext(o)),
            "postgres" or "postgresql" => new ProviderContextFactory<PostgresAppDbContext>(
                new DbContextOptionsBuilder<PostgresAppDbContext>()
                    .UseNpgsql(connectionString ?? throw new InvalidOperationException(
                        "Database:Provider is postgres but ConnectionStrings:Default is not set."))
                    .Options,
                o => new PostgresAppDbContext(o)),
            _ => throw new InvalidOperationException($"Database:Provider '{provider}' is not one of sqlite, postgres."),
        };
        builder.Services.AddSingleton(factory);
        builder.Services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext());
        return builder;
    }

    private static string SqliteConnectionString(string? configured, AppPaths paths)
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
        await using var db = await services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync(ct);
        await db.Database.MigrateAsync(ct);
    }

    private sealed class ProviderContextFactory<TContext>(DbContextOptions<TContext> options, Func<DbContextOptions<TContext>, TContext> create)
        : IDbContextFactory<AppDbContext>
        where TContext : AppDbContext
    {
        public AppDbContext CreateDbContext() => create(options);
    }
}
