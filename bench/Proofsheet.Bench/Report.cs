using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Proofsheet.Bench;

/// <summary>
/// Collects the figures and writes them into docs/benchmarks.md between the markers, leaving the
/// hand-written analysis around them as it is.
/// </summary>
public sealed class Report
{
    public const string Begin = "<!-- bench:begin (written by bench/run.sh; edits inside are overwritten) -->";
    public const string End = "<!-- bench:end -->";

    private readonly List<(string Measure, string Figure, string Target, bool? Met)> _rows = [];
    private readonly List<(string Title, StringBuilder Body)> _sections = [];

    /// <summary>A summary row; the one-minute load average when it was measured goes with it.</summary>
    public void Row(string measure, string figure, string target, bool? met) =>
        _rows.Add((measure, $"{figure} [load {Benchmarks.Load1()}]", target, met));

    public StringBuilder Section(string title)
    {
        var body = new StringBuilder();
        _sections.Add((title, body));
        return body;
    }

    public static string Ms(double ms) => ms.ToString(ms < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " ms";
    public static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " MB";
    public static string N(double value, string format = "0") => value.ToString(format, CultureInfo.InvariantCulture);

    public string Render(string command, TimeSpan took)
    {
        var md = new StringBuilder();
        md.AppendLine(Begin);
        md.AppendLine(CultureInfo.InvariantCulture, $"Run on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC in {took.TotalMinutes:0.0} min with `{command}`.");
        md.AppendLine();
        md.AppendLine("### Machine");
        md.AppendLine();
        foreach (var line in Machine())
        {
            md.AppendLine("- " + line);
        }
        md.AppendLine();
        md.AppendLine("### Summary");
        md.AppendLine();
        md.AppendLine("| measure | result (median) | target | met |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (var (measure, figure, target, met) in _rows)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {measure} | {figure} | {target} | {(met is null ? "n/a" : met.Value ? "yes" : "**no**")} |");
        }
        foreach (var (title, body) in _sections.OrderBy(s => s.Title, StringComparer.Ordinal))
        {
            md.AppendLine();
            md.AppendLine("### " + title);
            md.AppendLine();
            md.Append(body);
        }
        md.AppendLine(End);
        return md.ToString();
    }

    public static void Write(string path, string generated)
    {
        var existing = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n\n" + Begin + "\n" + End + "\n";
        var start = existing.IndexOf(Begin, StringComparison.Ordinal);
        var end = existing.IndexOf(End, StringComparison.Ordinal);
        var text = start >= 0 && end > start
            ? existing[..start] + generated + existing[(end + End.Length)..].TrimStart('\r', '\n').Insert(0, "\n")
            : existing.TrimEnd() + "\n\n" + generated;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, text);
    }

    private static IEnumerable<string> Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        yield return $"CPU: {cpu ?? RuntimeInformation.ProcessArchitecture.ToString()}; `nproc` = {Run("nproc") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)}";
        var free = Run("free", "-h");
        if (free is not null)
        {
            var mem = free.Split('\n').FirstOrDefault(l => l.StartsWith("Mem:", StringComparison.Ordinal));
            yield return $"Memory (`free -h`): {string.Join(' ', (mem ?? free).Split(' ', StringSplitOptions.RemoveEmptyEntries))} (total used free shared buff/cache available)";
        }
        yield return $"App: git commit {Run("git", "rev-parse", "--short=10", "HEAD") ?? "?"}{(string.IsNullOrEmpty(Run("git", "status", "--porcelain", "--untracked-files=no")) ? "" : " with uncommitted changes")} ({Run("git", "log", "-1", "--format=%cd", "--date=iso-strict") ?? "?"})";
        yield return $"OS: {RuntimeInformation.OSDescription}";
        yield return $".NET: runtime {RuntimeInformation.FrameworkDescription}, SDK {Run("dotnet", "--version") ?? "?"}";
        yield return $"Load generator: {(Load.WrkAvailable ? Run("sh", "-c", "wrk -v 2>&1 | head -1") ?? "wrk" : "in-process (wrk not installed)")}";
        yield return $"Load average at the end: {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?")} (the cores are shared with other work)";
    }

    private static string? Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }
            using var p = Process.Start(psi)!;
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? text.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
