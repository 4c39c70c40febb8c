using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Telemetry;

/// <summary>Every log line written while a task's step runs carries the task's id as a structured value.</summary>
public sealed class LogScopeTests
{
    [Fact]
    public async Task Log_lines_of_a_task_s_work_carry_its_id()
    {
        var lines = new ConcurrentQueue<(string Category, string Message, string? TaskId)>();
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            // A GPU server that does not answer: the pipeline and the image chain log warnings while working on the task.
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = DeadServer.Url(),
        }, services => services.AddSingleton<ILoggerProvider>(new Capture(lines)));
        var id = (await app.CreateTaskAsync("Logging with scopes", variations: 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var work = lines.Where(l => l.Category.StartsWith("Proofsheet.Images", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(work);
        Assert.All(work, l => Assert.True(l.TaskId == id, $"{l.Category}: \"{l.Message}\" has task id {l.TaskId ?? "none"}"));
        app.DeleteFolder();
    }

    private sealed class Capture(ConcurrentQueue<(string, string, string?)> lines) : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);
        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;
        public void Dispose()
        {
        }

        private sealed class Logger(string category, Capture owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);
            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                string? taskId = null;
                owner._scopes.ForEachScope((scope, _) =>
                {
                    if (scope is IEnumerable<KeyValuePair<string, object?>> values && values.FirstOrDefault(v => v.Key == "TaskId").Value is string found)
                    {
                        taskId = found;
                    }
                }, (object?)null);
                owner.Lines.Enqueue((category, formatter(state, exception), taskId));
            }
        }

        private ConcurrentQueue<(string, string, string?)> Lines { get; } = lines;
    }
}
