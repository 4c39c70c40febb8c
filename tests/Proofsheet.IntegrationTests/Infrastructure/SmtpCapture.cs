using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using MimeKit;

namespace Proofsheet.IntegrationTests.Infrastructure;

/// <summary>
/// A real SMTP server (the npm package smtp-server, pinned in tests/tools, run by
/// tests/tools/smtp-capture.js) on a free port. Each message it accepts arrives here as it comes,
/// parsed; <c>failFirst</c>/<c>failAll</c> make it answer "451 try again later" instead.
/// </summary>
public sealed class SmtpCapture : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<MimeMessage> _received = Channel.CreateUnbounded<MimeMessage>();
    private readonly Channel<string[]> _refused = Channel.CreateUnbounded<string[]>();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _errors = new();

    private SmtpCapture(Process process) => _process = process;

    public int Port { get; private set; }

    public static async Task<SmtpCapture> StartAsync(int failFirst = 0, bool failAll = false)
    {
        var script = Path.Combine(TestPaths.RepositoryRoot(), "tests", "tools", "smtp-capture.js");
        if (!File.Exists(Path.Combine(TestPaths.RepositoryRoot(), "tests", "tools", "node_modules", "smtp-server", "package.json")))
        {
            throw new InvalidOperationException("The email tests need smtp-server: run ./test.sh (it runs `npm ci --prefix tests/tools`) or that npm command yourself.");
        }
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        if (failFirst > 0)
        {
            start.ArgumentList.Add("--fail-first");
            start.ArgumentList.Add(failFirst.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (failAll)
        {
            start.ArgumentList.Add("--fail-all");
        }
        var capture = new SmtpCapture(Process.Start(start) ?? throw new InvalidOperationException("Could not start node."));
        capture._process.OutputDataReceived += (_, e) => capture.OnLine(e.Data);
        capture._process.ErrorDataReceived += (_, e) => { lock (capture._errors) { capture._errors.AppendLine(e.Data); } };
        capture._process.BeginOutputReadLine();
        capture._process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using (timeout.Token.Register(() => capture._port.TrySetException(new TimeoutException($"smtp-capture did not start: {capture._errors}"))))
        {
            capture.Port = await capture._port.Task;
        }
        return capture;
    }

    private void OnLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.TryGetProperty("listening", out var port))
        {
            _port.TrySetResult(port.GetInt32());
        }
        else if (root.TryGetProperty("refused", out var refused))
        {
            _refused.Writer.TryWrite(refused.EnumerateArray().Select(r => r.GetString()!).ToArray());
        }
        else
        {
            using var raw = new MemoryStream(Encoding.UTF8.GetBytes(root.GetProperty("raw").GetString()!));
            _received.Writer.TryWrite(MimeMessage.Load(raw));
        }
    }

    /// <summary>The settings that point the app at this server.</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["Email:Smtp:Host"] = "127.0.0.1",
        ["Email:Smtp:Port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Email:Smtp:Security"] = "none",
        ["Email:From"] = "Proofsheet <proofsheet@example.com>",
    };

    /// <summary>The next message the server accepted (waits for it).</summary>
    public async Task<MimeMessage> NextAsync(TimeSpan? limit = null)
    {
        using var timeout = new CancellationTokenSource(limit ?? TimeSpan.FromSeconds(60));
        return await _received.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>The recipients of the next message the server refused (waits for it).</summary>
    public async Task<string[]> NextRefusedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await _refused.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Messages accepted and not yet read.</summary>
    public List<MimeMessage> Pending()
    {
        var list = new List<MimeMessage>();
        while (_received.Reader.TryRead(out var m))
        {
            list.Add(m);
        }
        return list;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
