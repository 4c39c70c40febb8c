using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Proofsheet.Bench;

/// <summary>
/// The app as a real process (the Release build, as deployed), configured through environment
/// variables, reached over HTTP on a loopback port. Its output is drained, never shown.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    public const string Key = "ps_bench_0123456789abcdefghijklmnopqrstuvwxyz";

    private readonly Process _process;
    private readonly HttpClient _http;

    private AppProcess(Process process, string baseUrl, TimeSpan startedIn)
    {
        _process = process;
        BaseUrl = baseUrl;
        StartedIn = startedIn;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri(baseUrl),
            Timeout = TimeSpan.FromMinutes(5),
        };
        _http.DefaultRequestHeaders.Authorization = new("Bearer", Key);
    }

    public string BaseUrl { get; }
    public int Pid => _process.Id;
    /// <summary>Process start to the first 200 from <c>/health/ready</c>.</summary>
    public TimeSpan StartedIn { get; }
    public HttpClient Http => _http;

    /// <summary>Starts the app on a fresh port with <paramref name="dataDirectory"/> and the given settings, and waits until it is ready.</summary>
    public static async Task<AppProcess> StartAsync(string appPath, string dataDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var psi = appPath.EndsWith(".dll", StringComparison.Ordinal)
            ? new ProcessStartInfo("dotnet") { ArgumentList = { appPath } }
            : new ProcessStartInfo(appPath);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(baseUrl);
        psi.WorkingDirectory = Path.GetDirectoryName(appPath)!;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["DataDirectory"] = Path.Combine(dataDirectory, "data");
        psi.Environment["Storage__PreviewDirectory"] = Path.Combine(dataDirectory, "previews");
        psi.Environment["Auth__ApiKeys"] = Key;
        foreach (var (key, value) in settings)
        {
            psi.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var watch = Stopwatch.StartNew();
        var process = Process.Start(psi) ?? throw new InvalidOperationException("The app did not start.");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { if (output.Length < 20_000) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { lock (output) { if (output.Length < 20_000) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The app exited ({process.ExitCode}) before it was ready:\n{output}");
            }
            try
            {
                using var response = await probe.GetAsync(baseUrl + "/health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            // Refused while the app starts, or slow to answer on a loaded machine: ask again.
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
            if (watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"The app was not ready within 60 s:\n{output}");
            }
            await Task.Delay(5);
        }
        return new AppProcess(process, baseUrl, watch.Elapsed);
    }

    /// <summary>VmRSS and VmHWM from /proc, in bytes.</summary>
    public (long Rss, long Hwm) Memory() => ReadMemory(Pid);

    public static (long Rss, long Hwm) ReadMemory(int pid)
    {
        long rss = 0, hwm = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kb(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                hwm = Kb(line);
            }
        }
        return (rss, hwm);

        static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    public async Task<string> CreateTaskAsync(string topic, int variations)
    {
        using var response = await _http.PostAsJsonAsync("/api/tasks", new Dictionary<string, object> { ["topic"] = topic, ["num_variations"] = variations });
        response.EnsureSuccessStatusCode();
        var task = await response.Content.ReadFromJsonAsync<JsonObject>();
        return task!["id"]!.GetValue<string>();
    }

    /// <summary>Follows the task's server-sent events until it reaches <paramref name="status"/>; throws when it fails instead.</summary>
    public async Task WaitForStatusAsync(string taskId, string status)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/tasks/{taskId}/events");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? eventType = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                eventType = line[6..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal) && eventType == "status")
            {
                var data = JsonNode.Parse(line[5..])!;
                var now = data["status"]?.GetValue<string>();
                if (now == status)
                {
                    return;
                }
                if (now is "failed" or "rejected" or "cancelled")
                {
                    throw new InvalidOperationException($"Task {taskId} became {now}: {data["error"]}");
                }
            }
        }
        // The stream ends when the task needs a person or is done: read where it stopped.
        var task = await GetTaskAsync(taskId);
        var final = task["status"]!.GetValue<string>();
        if (final != status)
        {
            throw new InvalidOperationException($"Task {taskId} is {final}, not {status}: {task["error"]}");
        }
    }

    public async Task<JsonObject> GetTaskAsync(string taskId) =>
        (await _http.GetFromJsonAsync<JsonObject>($"/api/tasks/{taskId}"))!;

    public async Task<JsonObject> PostJsonAsync(string path, object body)
    {
        using var response = await _http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST {path} answered {(int)response.StatusCode}: {text}");
        }
        return JsonNode.Parse(text)!.AsObject();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
