using System.Net;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.Hub;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Tasks;

namespace Proofsheet.IntegrationTests.Desk;

/// <summary>
/// The review queue shows a page of tasks, oldest first, with a keyset cursor to the next page; each open
/// queue page polls its own page's rows (it used to render and poll up to 200 tasks, 440 KB a poll).
/// </summary>
public sealed partial class QueuePagingTests
{
    [Fact]
    public async Task The_queue_pages_oldest_first_with_a_cursor_and_each_page_polls_its_own_rows()
    {
        const string password = "the queue admin's password";
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Auth:AdminPassword"] = password });
        using var admin = await Infrastructure.Team.AdminAsync(app, password);
        var total = HubEndpoints.QueuePageSize + 2;
        var ids = new List<string>();
        for (var i = 0; i < total; i++)
        {
            ids.Add((await app.CreateTaskAsync($"Queue topic {i}", 1)).GetProperty("id").GetString()!);
        }
        foreach (var id in ids)
        {
            await app.WaitForStatusAsync(id, "awaiting_approval");
        }
        List<string> expected;
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            expected = (await db.Tasks.Where(t => t.Status == WorkflowStatus.AwaitingApproval).ToListAsync())
                .OrderBy(t => t.UpdatedAt).ThenBy(t => t.Id, StringComparer.Ordinal).Select(t => t.Id).ToList();
        }

        var first = await admin.Hub.GetStringAsync("/hub/queue");
        Assert.Equal(expected.Take(HubEndpoints.QueuePageSize), RowIds(first));
        Assert.Contains($"{total} waiting, {HubEndpoints.QueuePageSize} on this page", first, StringComparison.Ordinal);
        Assert.Contains($"data-count=\"{total}\"", first, StringComparison.Ordinal);
        Assert.DoesNotContain("Back to the oldest", first, StringComparison.Ordinal);
        var next = WebUtility.HtmlDecode(NextLink().Match(first).Groups["url"].Value);
        Assert.StartsWith("/hub/queue?cursor=", next, StringComparison.Ordinal);

        var second = await admin.Hub.GetStringAsync(next);
        Assert.Equal(expected.Skip(HubEndpoints.QueuePageSize), RowIds(second));
        Assert.Contains("Back to the oldest", second, StringComparison.Ordinal);
        Assert.DoesNotContain("Newer tasks", second, StringComparison.Ordinal);
        // The second page polls the second page.
        var poll = WebUtility.HtmlDecode(PollUrl().Match(second).Groups["url"].Value);
        Assert.Equal("/hub/queue/rows?" + next.Split('?')[1], poll);
        Assert.Equal(expected.Skip(HubEndpoints.QueuePageSize), RowIds(await admin.Hub.GetStringAsync(poll)));

        // A cursor that does not parse starts at the oldest again.
        Assert.Equal(expected.Take(HubEndpoints.QueuePageSize), RowIds(await admin.Hub.GetStringAsync("/hub/queue?cursor=not-a-cursor")));
        app.DeleteFolder();
    }

    private static List<string> RowIds(string html) => RowId().Matches(html).Select(m => m.Groups["id"].Value).ToList();

    [GeneratedRegex("class=\"queue-row task-row\" data-task-id=\"(?<id>[0-9a-f]+)\"")]
    private static partial Regex RowId();

    [GeneratedRegex("""<a href="(?<url>[^"]+)" role="button" class="secondary outline">Newer tasks</a>""")]
    private static partial Regex NextLink();

    [GeneratedRegex("id=\"queue-rows\" hx-get=\"(?<url>[^\"]+)\"")]
    private static partial Regex PollUrl();
}
