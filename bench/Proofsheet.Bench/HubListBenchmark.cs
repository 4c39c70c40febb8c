using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Proofsheet.Bench;

public sealed partial class Benchmarks
{
    private const int HubTasks = 10_000;
    private const string HubPassword = "bench-hub-password-0123456789";

    /// <summary>
    /// The Hub's task list and review queue with 10,000 tasks in the database (SQLite): half await
    /// approval, the rest are spread over the finished states. Tasks are written straight into the
    /// database with the app stopped (the sqlite3 command-line tool; bench/run.sh installs it), then a
    /// logged-in reviewer's page loads are timed one after the other.
    /// </summary>
    public async Task HubListAsync()
    {
        using var dir = new TempDir();
        var settings = new Dictionary<string, string> { ["Auth:AdminPassword"] = HubPassword };
        // Once to create the database, then the rows, then the app again.
        await (await StartAppAsync(dir, settings)).DisposeAsync();
        Seed(Path.Combine(dir.Path, "data", "proofsheet.db"));
        await using var app = await StartAppAsync(dir, settings);

        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(app.BaseUrl) };
        await LogInAsync(http);

        var firstPage = await http.GetStringAsync("/hub/tasks");
        var cursor = CursorLink().Match(firstPage) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : null;
        var pages = new List<(string Name, string Path)>
        {
            ("task list, first page", "/hub/tasks"),
            ("task list, next page (keyset cursor)", cursor is null ? "/hub/tasks" : "/hub/tasks?cursor=" + Uri.EscapeDataString(cursor)),
            ("task list, awaiting approval only", "/hub/tasks?status=awaiting_approval"),
            ("review queue", "/hub/queue"),
        };
        var section = report.Section("7. Hub lists with 10,000 tasks");
        section.AppendLine(CultureInfo.InvariantCulture, $"{HubTasks:N0} tasks written into a SQLite database ({HubTasks / 2:N0} awaiting approval with two candidates each, the rest published, failed, rejected or cancelled), then {Math.Max(200, o.Reps * 100)} page loads of each page one after the other by a logged-in reviewer (after 20 to warm up), each timed from request to the last byte. Release build, over HTTP.");
        section.AppendLine();
        section.AppendLine("| page | bytes | p50 | p99 | load avg |");
        section.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var (name, path) in pages)
        {
            Log($"hub lists: {name}");
            var times = new List<double>();
            long bytes = 0;
            for (var i = 0; i < 20 + Math.Max(200, o.Reps * 100); i++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(path);
                var body = await response.Content.ReadAsByteArrayAsync();
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}");
                }
                if (i >= 20)
                {
                    times.Add(elapsed);
                    bytes = body.Length;
                }
            }
            var p99 = Stats.Percentile(times, 0.99);
            section.AppendLine(CultureInfo.InvariantCulture, $"| {name} (`{path.Split('?')[0]}`) | {bytes:N0} | {Report.Ms(Stats.Median(times))} | {Report.Ms(p99)} | {Load1()} |");
            report.Row($"Hub with 10,000 tasks: {name}, p99", Report.Ms(p99), "< 50 ms", p99 < 50);
        }
    }

    private static async Task LogInAsync(HttpClient http)
    {
        var form = await http.GetStringAsync("/hub/login");
        var token = HiddenToken().Match(form);
        if (!token.Success)
        {
            throw new InvalidOperationException("The login page has no antiforgery field.");
        }
        using var response = await http.PostAsync("/hub/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [token.Groups[1].Value] = WebUtility.HtmlDecode(token.Groups[2].Value),
            ["password"] = HubPassword,
        }));
        if (response.StatusCode is not (HttpStatusCode.Redirect or HttpStatusCode.SeeOther or HttpStatusCode.Found))
        {
            throw new InvalidOperationException($"Logging in to the Hub answered {(int)response.StatusCode}.");
        }
    }

    /// <summary>Writes the tasks (and two candidates for each awaiting one) in one transaction with a recursive CTE.</summary>
    private static void Seed(string database)
    {
        var statuses = "CASE WHEN n % 2 = 0 THEN 'awaiting_approval' WHEN n % 8 = 1 THEN 'published' WHEN n % 8 = 3 THEN 'failed' WHEN n % 8 = 5 THEN 'rejected' ELSE 'cancelled' END";
        // Ids sort by creation like the app's UUIDv7 ones: a fixed prefix and the row number.
        var sql = $"""
            BEGIN;
            WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {HubTasks})
            INSERT INTO "tasks" ("Id", "Topic", "TargetWords", "NumVariations", "Status", "Attempts", "Title", "ImagesPending", "NextVariation", "CreatedAt", "UpdatedAt", "Version")
            SELECT printf('0190a000000070008000%012x', n), 'Benchmark topic ' || n, 800, 2, {statuses}, 0, 'Benchmark post ' || n, 0, 3,
                   strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || n || ' minutes'), strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || n || ' minutes'), 1
            FROM seq;
            WITH RECURSIVE seq(n) AS (SELECT 2 UNION ALL SELECT n + 2 FROM seq WHERE n < {HubTasks}), v(k) AS (SELECT 1 UNION ALL SELECT 2)
            INSERT INTO "image_candidates" ("Id", "TaskId", "Variation", "Prompt", "Source", "FileName", "ContentType", "Width", "Height", "ByteSize", "Sha256", "GeneratedAt", "GenerationSeconds", "Status", "FileDeleted")
            SELECT printf('0190b000000070008000%010x%02x', n, k), printf('0190a000000070008000%012x', n), k, 'a lighthouse', 'titlecard',
                   printf('titlecard_20260101_000000_0190a000000070008000%012x_var%d.png', n, k), 'image/png', 1200, 630, 1000, '00', strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || n || ' minutes'), 0.1, 'preview', 0
            FROM seq, v;
            COMMIT;
            """;
        var psi = new ProcessStartInfo("sqlite3") { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(database);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("sqlite3 did not start.");
        process.StandardInput.Write(sql);
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 || error.Length > 0)
        {
            throw new InvalidOperationException($"Seeding the tasks failed: {error}");
        }
    }

    [GeneratedRegex("""<input[^>]*name="([^"]*RequestVerificationToken[^"]*)"[^>]*value="([^"]*)""")]
    private static partial Regex HiddenToken();

    [GeneratedRegex("""[?&]cursor=([^"&]+)""")]
    private static partial Regex CursorLink();
}
