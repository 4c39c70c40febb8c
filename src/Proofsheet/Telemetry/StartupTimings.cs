using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Proofsheet.Telemetry;

/// <summary>
/// Where start-up time goes: each step of Program.cs is marked as it ends, and one Information line
/// after the first answered request gives the milliseconds of each, from the process's start (the
/// runtime's own start, before Main) to that first answer. docs/benchmarks.md ("5. Start-up") reads
/// this line to explain the start-up figure; it costs a stopwatch and one flag check per request.
/// </summary>
public sealed class StartupTimings
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(string Phase, double Ms)> _phases = [];
    private TimeSpan _last;
    private int _reported;

    private StartupTimings(double beforeMainMs) => _phases.Add(("runtime", beforeMainMs));

    /// <summary>Starts the clock at the top of Main; the time the runtime took to get there is the first phase.</summary>
    public static StartupTimings Begin()
    {
        using var self = Process.GetCurrentProcess();
        var beforeMain = DateTime.Now - self.StartTime;
        return new StartupTimings(Math.Max(0, beforeMain.TotalMilliseconds));
    }

    /// <summary>Ends the phase called <paramref name="phase"/>: the time since the previous mark.</summary>
    public void Mark(string phase)
    {
        lock (_phases)
        {
            var now = _clock.Elapsed;
            _phases.Add((phase, (now - _last).TotalMilliseconds));
            _last = now;
        }
    }

    /// <summary>"runtime 120 ms, build 310 ms, …, total 1234 ms" (invariant culture, whole milliseconds).</summary>
    public string Describe()
    {
        var line = new StringBuilder();
        lock (_phases)
        {
            foreach (var (phase, ms) in _phases)
            {
                line.Append(CultureInfo.InvariantCulture, $"{phase} {ms:F0} ms, ");
            }
            line.Append(CultureInfo.InvariantCulture, $"total {_phases.Sum(p => p.Ms):F0} ms");
        }
        // What the time was spent on: CPU (all threads), methods the JIT compiled because no ReadyToRun
        // code could be used, and assemblies loaded.
        using var self = Process.GetCurrentProcess();
        line.Append(CultureInfo.InvariantCulture,
            $"; cpu {self.TotalProcessorTime.TotalMilliseconds:F0} ms, jit {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms, {AppDomain.CurrentDomain.GetAssemblies().Length} assemblies");
        return line.ToString();
    }

    /// <summary>
    /// Marks the host's own start: "host services" when the hosted services have been made and the
    /// options validated (StartingAsync), "hosted services" when each has started (Kestrel among them).
    /// </summary>
    public void WatchHost(WebApplicationBuilder builder) =>
        // First in the list, so that its StartingAsync runs before any other hosted service starts.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(new HostPhases(this)));

    private sealed class HostPhases(StartupTimings timings) : IHostedLifecycleService
    {
        public Task StartingAsync(CancellationToken cancellationToken)
        {
            timings.Mark("host services");
            return Task.CompletedTask;
        }

        public Task StartedAsync(CancellationToken cancellationToken)
        {
            timings.Mark("hosted services");
            return Task.CompletedTask;
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Put first in the pipeline: marks "started" when the host says so (ApplicationStarted) and
    /// "first request" when the first request has been answered, then logs the line.
    /// </summary>
    public void ReportAfterFirstRequest(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Proofsheet.Startup");
        app.Lifetime.ApplicationStarted.Register(() => Mark("started"));
        // After the first request this is one flag check and a direct call: no state machine per request.
        app.Use((context, next) => Volatile.Read(ref _reported) != 0 ? next(context) : FirstAsync(context, next));

        async Task FirstAsync(HttpContext context, RequestDelegate next)
        {
            await next(context);
            if (Interlocked.Exchange(ref _reported, 1) == 0)
            {
                Mark("first request");
                logger.LogInformation("Started and answered the first request ({Path}): {Timings}", context.Request.Path.Value, Describe());
            }
        }
    }
}
