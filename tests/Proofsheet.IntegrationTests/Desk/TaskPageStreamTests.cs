using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Desk;

/// <summary>
/// On connecting, a task page's event stream used to tell the page to fetch its sheet (the draft and its edit
/// form) again, every time: the fetch replaced the form under a reviewer who had just started typing
/// (DeskTests failed once so, with the title typed into the old field and the new one's text behind it).
/// Now the page says which sheet it shows, and the stream asks for a new one only when the task's differs.
/// </summary>
public sealed partial class TaskPageStreamTests
{
    [Fact]
    public async Task The_stream_asks_for_the_sheet_on_connect_only_when_the_page_shows_an_older_one()
    {
        const string password = "the stream admin's password";
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Auth:AdminPassword"] = password });
        using var admin = await Infrastructure.Team.AdminAsync(app, password);
        var id = (await app.CreateTaskAsync("Write about steady forms", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var stream = WebUtility.HtmlDecode(StreamUrl().Match(await admin.Hub.GetStringAsync($"/hub/tasks/{id}")).Groups["url"].Value);
        Assert.StartsWith($"/hub/tasks/{id}/events?sheet=", stream, StringComparison.Ordinal);

        // The page's sheet is current: after the catch-up, the next event is the comment's, not "sheet".
        Assert.Equal(["changed", "history"], await EventsAfterConnectAsync(admin, app, id, stream));

        // The draft changed after the page was drawn: the catch-up asks for the sheet.
        Assert.Equal(HttpStatusCode.OK, (await admin.Api.PatchAsJsonAsync($"/api/tasks/{id}", new { title = "Steady Forms, Revised" })).StatusCode);
        Assert.Equal(["changed", "sheet", "history"], await EventsAfterConnectAsync(admin, app, id, stream));
        app.DeleteFolder();
    }

    /// <summary>Opens the stream and, once its catch-up has said "changed", posts a comment; returns the events from "changed" to the comment's.</summary>
    private static async Task<List<string>> EventsAfterConnectAsync(Member admin, TestApp app, string id, string url)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await admin.Hub.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, wait.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var lines = new StreamReader(await response.Content.ReadAsStreamAsync(wait.Token));
        var seen = new List<string>();
        while (await lines.ReadLineAsync(wait.Token) is { } line)
        {
            if (!line.StartsWith("event: ", StringComparison.Ordinal))
            {
                continue;
            }
            var name = line["event: ".Length..];
            if (name == "changed")
            {
                // The catch-up's "sheet", when sent, follows at once; the comment's event can only come after it.
                Assert.Equal(HttpStatusCode.Created, (await admin.Api.PostAsJsonAsync($"/api/tasks/{id}/comments", new { text = "Looking now" }, wait.Token)).StatusCode);
            }
            if (seen.Count > 0 || name == "changed")
            {
                seen.Add(name);
            }
            if (name == "history")
            {
                break;
            }
        }
        return seen;
    }

    [GeneratedRegex("sse-connect=\"(?<url>[^\"]+)\"")]
    private static partial Regex StreamUrl();
}
