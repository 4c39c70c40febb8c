using System.Net;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.HttpOverrides;
using Npgsql;
using Proofsheet.Data;

namespace Proofsheet.Cluster;

/// <summary>Trusted reverse proxies: only these may tell the app the client's address and scheme.</summary>
public sealed class ForwardedHeadersSettings
{
    public const string Section = "ForwardedHeaders";
    /// <summary>Comma-separated addresses of the proxies in front of the app (e.g. nginx's).</summary>
    public string? KnownProxies { get; set; }
    /// <summary>Comma-separated networks in CIDR form (e.g. <c>10.0.0.0/8</c>) whose proxies are trusted.</summary>
    public string? KnownNetworks { get; set; }
}

/// <summary>
/// What lets several nodes share one PostgreSQL: node identity and heartbeats, task leases, the
/// LISTEN/NOTIFY bus, shared rate counters and the Data Protection key ring in the database.
/// PostgreSQL is the coordinator (as in Solid Queue, Oban, GoodJob): no other server to run.
/// </summary>
public static class ClusterExtensions
{
    /// <summary>The PostgreSQL advisory lock key that serialises creating the first Data Protection key.</summary>
    private const long KeyRingLock = 0x50726f6f66_01;

    public static WebApplicationBuilder AddCluster(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSection<ClusterOptions>(ClusterOptions.Section);
        services.AddSection<ForwardedHeadersSettings>(ForwardedHeadersSettings.Section);
        services.AddSingleton<TaskLeases>();
        services.AddSingleton<RateCounters>();
        services.AddSingleton<ClusterMessageHandler>();
        services.AddSingleton<ClusterStatus>();
        services.AddHostedService<NodeHeartbeat>();

        var database = services.Select(d => d.ImplementationInstance).OfType<DataExtensions.DatabaseInfo>().Single();
        if (database.IsPostgres)
        {
            AddPostgresCoordination(services, database.ConnectionString!);
        }
        else
        {
            services.AddSingleton<IClusterBus, SingleNodeBus>();
        }

        // Hub cookies and antiforgery tokens made by one node must open on every other.
        services.AddDataProtection()
            .SetApplicationName("Proofsheet")
            .PersistKeysToDbContext<AppDbContext>();

        var proxies = builder.Configuration.GetSection(ForwardedHeadersSettings.Section).Get<ForwardedHeadersSettings>();
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // Nothing is trusted unless configured (the framework would trust loopback by default).
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var address in Split(proxies?.KnownProxies))
            {
                o.KnownProxies.Add(IPAddress.Parse(address));
            }
            foreach (var network in Split(proxies?.KnownNetworks))
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        return builder;
    }

    /// <summary>Must come first: everything after it sees the client's address and scheme.</summary>
    public static WebApplication UseCluster(this WebApplication app)
    {
        app.UseForwardedHeaders();
        return app;
    }

    // Apart from AddCluster so that an app on SQLite never loads Npgsql.
    private static void AddPostgresCoordination(IServiceCollection services, string connectionString)
    {
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.AddSingleton<PostgresBus>();
        services.AddSingleton<IClusterBus>(sp => sp.GetRequiredService<PostgresBus>());
        services.AddHostedService(sp => sp.GetRequiredService<PostgresBus>());
        // One job per GPU server across all nodes (AddImages keeps this over its in-process default).
        services.AddSingleton<Images.IServerSlots, PostgresServerSlots>();
    }

    /// <summary>
    /// Makes sure the shared key ring has a key before this node serves anyone. Nodes starting
    /// together take turns (an advisory lock), so they agree on one key instead of each making its own.
    /// </summary>
    public static async Task JoinClusterAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        var database = services.GetRequiredService<DataExtensions.DatabaseInfo>();
        var protector = services.GetRequiredService<IDataProtectionProvider>().CreateProtector("Proofsheet.KeyRing.Warmup");
        if (!database.IsPostgres)
        {
            protector.Protect("ready"u8.ToArray());
            return;
        }
        await MakeKeyRingTogetherAsync(services, protector, ct);
    }

    // Apart from JoinClusterAsync so that an app on SQLite never loads Npgsql.
    private static async Task MakeKeyRingTogetherAsync(IServiceProvider services, IDataProtector protector, CancellationToken ct)
    {
        await using var connection = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({KeyRingLock})", connection))
        {
            await take.ExecuteNonQueryAsync(ct);
        }
        try
        {
            protector.Protect("ready"u8.ToArray());
        }
        finally
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({KeyRingLock})", connection);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static string[] Split(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
