using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Proofsheet.IntegrationTests.Infrastructure;

/// <summary>A database server the tests can make fresh, empty databases on.</summary>
public abstract class TestDatabase
{
    public abstract string Provider { get; }

    /// <summary>A connection string for a new, empty database.</summary>
    public abstract Task<string> CreateAsync(string dataDirectory);
}

public sealed class SqliteDatabase : TestDatabase
{
    public override string Provider => "sqlite";

    public override Task<string> CreateAsync(string dataDirectory) =>
        Task.FromResult($"Data Source={Path.Combine(dataDirectory, "proofsheet.db")}");
}

/// <summary>
/// A real PostgreSQL server: the one named by <c>PROOFSHEET_TEST_POSTGRES</c> (a connection string
/// whose user may create databases), or else a throwaway cluster this process starts with
/// <c>initdb</c> in a temporary folder on a free port (as the <c>postgres</c> user when run as root).
/// </summary>
public sealed class PostgresDatabase : TestDatabase
{
    private static readonly Lazy<Task<string>> Server = new(StartServerAsync);
    private readonly string? _admin;

    public PostgresDatabase()
    {
    }

    /// <summary>Databases on this server instead of the shared one.</summary>
    public PostgresDatabase(string adminConnectionString) => _admin = adminConnectionString;

    public override string Provider => "postgres";

    public override async Task<string> CreateAsync(string dataDirectory)
    {
        var admin = _admin ?? await Server.Value;
        var name = "ps_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 60 }.ConnectionString;
    }

    private static async Task<string> StartServerAsync()
    {
        var existing = Environment.GetEnvironmentVariable("PROOFSHEET_TEST_POSTGRES");
        if (!string.IsNullOrWhiteSpace(existing))
        {
            return existing;
        }
        return (await PostgresCluster.StartAsync()).ConnectionString;
    }
}

/// <summary>
/// A throwaway PostgreSQL cluster: <c>initdb</c> in a temporary folder on a free port (as the
/// <c>postgres</c> user when run as root). A test that restarts the server makes one of its own,
/// so no other test sees the outage.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private const string DefaultBin = "/usr/lib/postgresql/15/bin";
    private readonly bool _asRoot = Environment.UserName == "root";
    private readonly string _bin = Environment.GetEnvironmentVariable("PROOFSHEET_PG_BIN") ?? FindBin();
    private readonly string _root = Path.Combine(Path.GetTempPath(), "proofsheet-pg-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _port = FreePort();
    private readonly string _settings;
    private Process? _server;

    private PostgresCluster(string[] settings) => _settings = string.Concat(settings.Select(s => $" -c {s}"));

    /// <summary>An admin connection string (database <c>postgres</c>).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres;Pooling=false;Timeout=5";

    /// <param name="settings">Extra <c>name=value</c> server settings, after the defaults.</param>
    public static async Task<PostgresCluster> StartAsync(params string[] settings)
    {
        var cluster = new PostgresCluster(settings);
        var data = Path.Combine(cluster._root, "data");
        Directory.CreateDirectory(cluster._root);
        if (cluster._asRoot)
        {
            await RunAsync("chown", $"postgres {cluster._root}");
        }
        var (file, prefix) = cluster.Wrap(Path.Combine(cluster._bin, "initdb"));
        await RunAsync(file, prefix + $"-D {data} -A trust -U postgres --no-sync -E UTF8 --locale=C");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Dispose();
        cluster.StartWatchdog(data);
        await cluster.StartServerAsync();
        return cluster;
    }

    /// <summary>
    /// The test host is not always let run its exit handlers (the runner may kill it), and a
    /// postmaster started through runuser outlives it. A small shell loop outlives it too, notices,
    /// and stops the cluster and removes its folder.
    /// </summary>
    private void StartWatchdog(string data)
    {
        var script = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; " +
                     $"pkill -KILL -f -- '[-]D {data} ' 2>/dev/null; sleep 1; rm -rf '{_root}'";
        using var watchdog = Process.Start(new ProcessStartInfo("setsid", ["bash", "-c", script]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("the cluster's watchdog did not start");
    }

    private async Task StartServerAsync()
    {
        // fsync and full page writes guard against an operating system crash, which no test makes:
        // off for speed. Commits stay synchronous: with synchronous_commit=off a commit is
        // acknowledged before its WAL leaves PostgreSQL's memory, so killing the server (as
        // DatabaseRestartTests does) lost tasks the app had already answered 202 for.
        var (file, prefix) = Wrap(Path.Combine(_bin, "postgres"));
        var start = new ProcessStartInfo(file,
            prefix + $"-D {Path.Combine(_root, "data")} -p {_port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off " +
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB" + _settings)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _server = Process.Start(start) ?? throw new InvalidOperationException("postgres did not start");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null && log.Count < 200)
            {
                log.Enqueue(e.Data);
            }
        };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString);
                await connection.OpenAsync();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline && !_server.HasExited)
            {
                await Task.Delay(200);
            }
            catch (Exception ex)
            {
                if (_server.HasExited)
                {
                    _server.WaitForExit(); // drains its output
                }
                throw new InvalidOperationException("postgres did not come up: " + string.Join("\n", log.TakeLast(10)), ex);
            }
        }
    }

    /// <summary>Kills the server (as a crash or an OOM kill would), waits, and starts it again on the same data and port.</summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        StopServer();
        await Task.Delay(downtime);
        await StartServerAsync();
    }

    private void StopServer()
    {
        if (_server is { HasExited: false })
        {
            // runuser passes SIGKILL to nobody: kill the whole tree so the postmaster itself dies.
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit(10_000);
        }
        _server?.Dispose();
        _server = null;
        // The postmaster's children may outlive it for a moment and keep the port and shared memory.
        var pid = Path.Combine(_root, "data", "postmaster.pid");
        for (var i = 0; i < 100 && IsPortOpen(); i++)
        {
            Thread.Sleep(100);
        }
        // Both lock files name the killed postmaster, which may linger as an unreaped zombie: a new
        // one would take it for a live server and refuse to start.
        foreach (var lockFile in new[] { pid, Path.Combine(_root, $".s.PGSQL.{_port}.lock") })
        {
            if (File.Exists(lockFile))
            {
                File.Delete(lockFile);
            }
        }
    }

    private bool IsPortOpen()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, _port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            StopServer();
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception)
        {
            // Best effort at process exit.
        }
    }

    private static string FindBin()
    {
        if (File.Exists(Path.Combine(DefaultBin, "initdb")))
        {
            return DefaultBin;
        }
        var found = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            : null;
        return found ?? throw new InvalidOperationException(
            "PostgreSQL's initdb was not found under /usr/lib/postgresql: install PostgreSQL, or set PROOFSHEET_TEST_POSTGRES to a server's connection string.");
    }

    private (string File, string Prefix) Wrap(string program) =>
        _asRoot ? ("runuser", $"-u postgres -- {program} ") : (program, "");

    private static async Task RunAsync(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
