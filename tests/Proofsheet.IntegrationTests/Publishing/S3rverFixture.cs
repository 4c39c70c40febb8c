using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Proofsheet.IntegrationTests.Publishing;

/// <summary>
/// A real S3-compatible server (the npm package s3rver, pinned in tests/tools/package.json) on a
/// free loopback port with a fresh data directory. It checks AWS Signature V4 like S3 does.
/// </summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string Bucket = "proofsheet-media";
    // s3rver's built-in account.
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "proofsheet-s3rver-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly StringBuilder _output = new();
    private Process? _process;

    public string ServiceUrl { get; private set; } = "";
    public string PublicBaseUrl => $"{ServiceUrl}/{Bucket}";

    public async Task InitializeAsync()
    {
        var tools = Path.Combine(Infrastructure.TestPaths.RepositoryRoot(), "tests", "tools");
        var script = Path.Combine(tools, "node_modules", "s3rver", "bin", "s3rver.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException(
                $"The S3 tests need s3rver, which is not installed ({script} is missing). " +
                "Run the test command from the README (it runs `npm ci --prefix tests/tools` first), or run that npm command yourself.");
        }

        Directory.CreateDirectory(_directory);
        var port = FreePort();
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     script, "--directory", _directory, "--address", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--silent", "--no-vhost-buckets", "--configure-bucket", Bucket,
                 })
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        _process.OutputDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        ServiceUrl = $"http://127.0.0.1:{port}";

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"s3rver exited with code {_process.ExitCode}: {Output()}");
            }
            try
            {
                // Listing the bucket also proves --configure-bucket has created it.
                using var response = await http.GetAsync($"{ServiceUrl}/{Bucket}");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"s3rver did not answer on {ServiceUrl} within 60 s: {Output()}");
            }
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString().Trim();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
