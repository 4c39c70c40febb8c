using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Proofsheet.Bench;

public sealed record LoadResult(double RequestsPerSecond, double P99Ms, long Errors, string Tool);

/// <summary>
/// Closed-loop HTTP load at a fixed number of connections: wrk when it is installed (bench/run.sh
/// installs Debian's package), otherwise an in-process generator doing the same.
/// </summary>
public static partial class Load
{
    public static bool WrkAvailable { get; } = FindWrk() is not null;

    public static async Task<LoadResult> RunAsync(string url, int connections, TimeSpan duration)
    {
        return FindWrk() is { } wrk
            ? await RunWrkAsync(wrk, url, connections, duration)
            : await RunInProcessAsync(url, connections, duration);
    }

    private static string? FindWrk() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "wrk"))
            .FirstOrDefault(File.Exists);

    private static async Task<LoadResult> RunWrkAsync(string wrk, string url, int connections, TimeSpan duration)
    {
        var threads = Math.Min(Environment.ProcessorCount, connections);
        var psi = new ProcessStartInfo(wrk)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { $"-t{threads}", $"-c{connections}", $"-d{(int)duration.TotalSeconds}s", "--latency", url })
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk failed: {text}{await stderr}");
        }
        var rps = double.Parse(RpsLine().Match(text).Groups[1].Value, CultureInfo.InvariantCulture);
        var p99 = P99Line().Match(text);
        var p99Ms = Millis(double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture), p99.Groups[2].Value);
        var non2xx = Non2xx().Match(text) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var socketErrors = SocketErrors().Match(text) is { Success: true } s
            ? s.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture))
            : 0;
        return new LoadResult(rps, p99Ms, non2xx + socketErrors, "wrk");
    }

    private static double Millis(double value, string unit) => unit switch
    {
        "us" => value / 1000,
        "ms" => value,
        "s" => value * 1000,
        _ => value * 60_000,
    };

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RpsLine();

    [GeneratedRegex(@"99%\s+([\d.]+)(us|ms|s|m)")]
    private static partial Regex P99Line();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xx();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();

    /// <summary>The fallback: <paramref name="connections"/> loops, each one request at a time on its own connection.</summary>
    private static async Task<LoadResult> RunInProcessAsync(string url, int connections, TimeSpan duration)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
        var latencies = new List<double>[connections];
        long errors = 0;
        var stop = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, connections).Select(async i =>
        {
            var mine = latencies[i] = new List<double>(100_000);
            while (stop.Elapsed < duration)
            {
                var t = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.GetAsync(url, HttpCompletionOption.ResponseContentRead);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
                mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        }).ToList();
        await Task.WhenAll(workers);
        var elapsed = stop.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).ToList();
        return new LoadResult(all.Count / elapsed, Stats.Percentile(all, 0.99), errors, "in-process");
    }
}

public static class Stats
{
    public static double Median(IEnumerable<double> values) => Percentile(values.ToList(), 0.5);

    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.Order().ToArray();
        var rank = p * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
