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

    public override string Provider => "postgres";

    public override async Task<string> CreateAsync(string dataDirectory)
    {
        var admin = await Server.Value;
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
        return await Cluster.StartAsync();
    }

    private static class Cluster
    {
        private const string DefaultBin = "/usr/lib/postgresql/15/bin";
        private static Process? _server;
        private static string? _root;

        public static async Task<string> StartAsync()
        {
            var bin = Environment.GetEnvironmentVariable("PROOFSHEET_PG_BIN") ?? FindBin();
            var asRoot = Environment.UserName == "root";
            _root = Path.Combine(Path.GetTempPath(), "proofsheet-pg-" + Guid.NewGuid().ToString("N")[..8]);
            var data = Path.Combine(_root, "data");
            Directory.CreateDirectory(_root);
            if (asRoot)
            {
                await RunAsync("chown", $"postgres {_root}");
            }
            await RunAsync(Wrap(asRoot, Path.Combine(bin, "initdb")).File,
                Wrap(asRoot, Path.Combine(bin, "initdb")).Prefix + $"-D {data} -A trust -U postgres --no-sync -E UTF8 --locale=C");

            var port = FreePort();
            var (file, prefix) = Wrap(asRoot, Path.Combine(bin, "postgres"));
            var start = new ProcessStartInfo(file,
                prefix + $"-D {data} -p {port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " +
                "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            _server = Process.Start(start) ?? throw new InvalidOperationException("postgres did not start");
            _server.OutputDataReceived += (_, _) => { };
            _server.ErrorDataReceived += (_, _) => { };
            _server.BeginOutputReadLine();
            _server.BeginErrorReadLine();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();

            var cs = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=false;Timeout=5";
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    await using var connection = new NpgsqlConnection(cs);
                    await connection.OpenAsync();
                    return cs;
                }
                catch (Exception) when (DateTime.UtcNow < deadline && !_server.HasExited)
                {
                    await Task.Delay(200);
                }
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

        private static (string File, string Prefix) Wrap(bool asRoot, string program) =>
            asRoot ? ("runuser", $"-u postgres -- {program} ") : (program, "");

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

        private static void Stop()
        {
            try
            {
                if (_server is { HasExited: false })
                {
                    _server.Kill(entireProcessTree: true);
                    _server.WaitForExit(5000);
                }
                if (_root is not null)
                {
                    Directory.Delete(_root, recursive: true);
                }
            }
            catch (Exception)
            {
                // Best effort at process exit.
            }
        }
    }
}
