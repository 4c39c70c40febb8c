using System.Diagnostics;
using System.Globalization;
using Proofsheet.Bench;

// Usage: bench/run.sh [--out docs/benchmarks.md] [--only overhead,variations,read,memory,render,startup,hub,sse,nodes]
//        [--reps 3] [--duration 5] [--connections 64] [--read-paths /api/posts/{slug},/posts/{slug},/api/posts]
//        [--app path/to/Proofsheet] [--published path/to/published/Proofsheet]
var args_ = Args.Parse(args);
var root = FindRoot();
#if DEBUG
const string configuration = "Debug";
Console.WriteLine("warning: the harness was built in Debug, so it measures the Debug build of the app; use -c Release (bench/run.sh does).");
#else
const string configuration = "Release";
#endif
var appPath = args_.Get("app") ?? Path.Combine(root, "src", "Proofsheet", "bin", configuration, "net10.0", "Proofsheet");
if (!File.Exists(appPath))
{
    Console.Error.WriteLine($"The app is not built at {appPath}: run `dotnet build -c {configuration} src/Proofsheet` (bench/run.sh does).");
    return 2;
}
var options = new BenchOptions(
    appPath,
    int.Parse(args_.Get("reps") ?? "3", CultureInfo.InvariantCulture),
    TimeSpan.FromSeconds(int.Parse(args_.Get("duration") ?? "5", CultureInfo.InvariantCulture)),
    int.Parse(args_.Get("connections") ?? "64", CultureInfo.InvariantCulture),
    (args_.Get("read-paths") ?? "/api/posts/{slug},/posts/{slug},/api/posts").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
{
    PublishedPath = args_.Get("published") ?? Path.Combine(root, "bench", ".published", "Proofsheet"),
};
var only = (args_.Get("only") ?? "overhead,variations,read,memory,render,startup,hub,sse,nodes").Split(',', StringSplitOptions.TrimEntries).ToHashSet();
var output = args_.Get("out") ?? Path.Combine(root, "docs", "benchmarks.md");

var report = new Report();
var benchmarks = new Benchmarks(options, report);
var watch = Stopwatch.StartNew();
// Start-up and idle memory first, while the machine is quietest for this process.
if (only.Contains("startup"))
{
    await Guarded("StartupAsync", benchmarks.StartupAsync);
}
if (only.Contains("memory"))
{
    await Guarded("MemoryAsync", benchmarks.MemoryAsync);
}
if (only.Contains("render"))
{
    await Guarded("RenderMemoryAsync", benchmarks.RenderMemoryAsync);
}
if (only.Contains("overhead"))
{
    await Guarded("OverheadAsync", benchmarks.OverheadAsync);
}
if (only.Contains("variations"))
{
    await Guarded("VariationsAsync", benchmarks.VariationsAsync);
}
if (only.Contains("read"))
{
    await Guarded("ReadPathAsync", benchmarks.ReadPathAsync);
}
if (only.Contains("hub"))
{
    await Guarded("HubListAsync", benchmarks.HubListAsync);
}
if (only.Contains("sse"))
{
    await Guarded("SseFanOutAsync", benchmarks.SseFanOutAsync);
}
if (only.Contains("nodes"))
{
    await Guarded("NodesAsync", benchmarks.NodesAsync);
}

var command = "bench/run.sh" + (args.Length > 0 ? " " + string.Join(' ', args) : "");
var text = report.Render(command, watch.Elapsed);
Report.Write(output, text);
Console.WriteLine(text);
Console.WriteLine($"Written to {output}");
return 0;

// One benchmark that fails (a stand-in refused, the machine too slow) is reported, and the others' figures are still written.
async Task Guarded(string name, Func<Task> run)
{
    try
    {
        await run();
    }
    catch (Exception ex)
    {
        Console.Error.WriteLine($"{name} failed: {ex}");
        report.Row($"{name}: the benchmark failed", ex.GetType().Name + ": " + string.Concat(ex.Message.ReplaceLineEndings(" ").Take(240)), "runs", false);
    }
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Proofsheet.slnx")))
        {
            return dir.FullName;
        }
    }
    return Directory.GetCurrentDirectory();
}

internal sealed class Args(Dictionary<string, string> values)
{
    public string? Get(string name) => values.GetValueOrDefault(name);

    public static Args Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"Unexpected argument {args[i]}; options are --name value.");
            }
            values[args[i][2..]] = args[++i];
        }
        return new Args(values);
    }
}
