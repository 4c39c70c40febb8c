using System.Diagnostics;

namespace Proofsheet.Bench;

/// <summary>
/// A throwaway PostgreSQL cluster, started the way the integration tests start theirs: initdb in a
/// temporary folder (as the postgres user when run as root), durability off, a free port.
/// </summary>
public sealed class Postgres : IAsyncDisposable
{
    private readonly Process _server;
    private readonly string _root;

    private Postgres(Process server, string root, string connectionString)
    {
        _server = server;
        _root = root;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public static async Task<Postgres> StartAsync(string database)
    {
        var bin = Environment.GetEnvironmentVariable("PROOFSHEET_PG_BIN")
            ?? (Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
                : null)
            ?? throw new InvalidOperationException("PostgreSQL's initdb was not found under /usr/lib/postgresql (bench/run.sh installs it).");
        var asRoot = Environment.UserName == "root";
        var root = Path.Combine(Path.GetTempPath(), "proofsheet-bench-pg-" + Guid.NewGuid().ToString("N")[..8]);
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(root);
        if (asRoot)
        {
            await RunAsync("chown", ["postgres", root]);
        }
        await RunAsync(asRoot, Path.Combine(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
        var port = AppProcess.FreePort();
        var start = Psi(asRoot, Path.Combine(bin, "postgres"),
            ["-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-k", root, "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=64MB"]);
        var server = Process.Start(start) ?? throw new InvalidOperationException("postgres did not start");
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await RunAsync(asRoot, Path.Combine(bin, "createdb"), ["-h", "127.0.0.1", "-p", portText, "-U", "postgres", database]);
                break;
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline && !server.HasExited)
            {
                await Task.Delay(200);
            }
        }
        return new Postgres(server, root, $"Host=127.0.0.1;Port={port};Username=postgres;Database={database}");
    }

    private static ProcessStartInfo Psi(bool asRoot, string program, string[] args)
    {
        var psi = new ProcessStartInfo(asRoot ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program })
            {
                psi.ArgumentList.Add(a);
            }
        }
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return psi;
    }

    private static Task RunAsync(bool asRoot, string program, string[] args) => RunAsync(Psi(asRoot, program, args));

    private static Task RunAsync(string program, string[] args) => RunAsync(Psi(false, program, args));

    private static async Task RunAsync(ProcessStartInfo psi)
    {
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_server.HasExited)
        {
            _server.Kill(entireProcessTree: true);
            await _server.WaitForExitAsync();
        }
        _server.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
