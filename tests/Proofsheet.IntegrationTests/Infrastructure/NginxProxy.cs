using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Proofsheet.IntegrationTests.Infrastructure;

/// <summary>
/// Debian's nginx running the project's own deploy/nginx.conf, with only the node addresses, the
/// TLS port, a throwaway self-signed certificate and its log and pid files replaced: what the
/// deployment guide tells an operator to run is what the multi-node test goes through.
/// </summary>
public sealed partial class NginxProxy : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _folder;

    private NginxProxy(Process process, string folder, int port)
    {
        _process = process;
        _folder = folder;
        BaseUrl = $"https://localhost:{port}";
    }

    public string BaseUrl { get; }

    public string ErrorLog => File.Exists(Path.Combine(_folder, "error.log")) ? File.ReadAllText(Path.Combine(_folder, "error.log")) : "";

    public static async Task<NginxProxy> StartAsync(IEnumerable<string> nodeBaseUrls)
    {
        var nginx = File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : throw new InvalidOperationException("nginx is not installed; ./test.sh installs Debian's nginx.");
        var folder = Directory.CreateTempSubdirectory("proofsheet-nginx-").FullName;
        var cert = Path.Combine(folder, "cert.pem");
        var key = Path.Combine(folder, "key.pem");
        await RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert);

        var port = FreePort();
        var conf = await File.ReadAllTextAsync(Path.Combine(TestPaths.RepositoryRoot(), "deploy", "nginx.conf"));
        var servers = string.Join("\n", nodeBaseUrls.Select(u => $"        server {new Uri(u).Authority} max_fails=1 fail_timeout=5s;"));
        conf = UpstreamServers().Replace(conf, servers + "\n", 1);
        conf = conf.Replace("pid /run/nginx-proofsheet.pid;", $"pid {folder}/nginx.pid;", StringComparison.Ordinal)
            .Replace("/var/log/nginx/proofsheet-error.log", $"{folder}/error.log", StringComparison.Ordinal)
            .Replace("/var/log/nginx/proofsheet-access.log", $"{folder}/access.log", StringComparison.Ordinal)
            .Replace("/etc/ssl/certs/blog.example.com.pem", cert, StringComparison.Ordinal)
            .Replace("/etc/ssl/private/blog.example.com.key", key, StringComparison.Ordinal)
            .Replace("listen 443 ssl;", $"listen 127.0.0.1:{port} ssl;", StringComparison.Ordinal)
            .Replace("listen 80;", $"listen 127.0.0.1:{FreePort()};", StringComparison.Ordinal)
            .Replace("server_name blog.example.com;", "server_name localhost;", StringComparison.Ordinal);
        var path = Path.Combine(folder, "nginx.conf");
        await File.WriteAllTextAsync(path, conf);

        var start = new ProcessStartInfo(nginx) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-p", folder, "-c", path, "-e", Path.Combine(folder, "error.log"), "-g", "daemon off;" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start");
        var proxy = new NginxProxy(process, folder, port);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}\n{proxy.ErrorLog}");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return proxy;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A client for the proxy that accepts its throwaway certificate and keeps cookies.</summary>
    public HttpClient Client(CookieContainer? cookies = null) => new(new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
        CookieContainer = cookies ?? new CookieContainer(),
        AllowAutoRedirect = false,
    })
    { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(100) };

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} failed: {await error}");
        }
    }

    [GeneratedRegex(@"(?m)^\s*server 127\.0\.0\.1:500\d[^\n]*\n(\s*server 127\.0\.0\.1:500\d[^\n]*\n)*")]
    private static partial Regex UpstreamServers();
}
