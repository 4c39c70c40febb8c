using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>Working as a team in the Hub: times in the reader's zone, the comment thread, the account and team pages.</summary>
public sealed class TeamTests : IClassFixture<Browser>
{
    private readonly Browser _browser;

    public TeamTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
    }

    [Fact]
    public async Task Times_show_in_the_readers_time_zone_relative_when_recent_and_a_comment_stays_plain_text()
    {
        var page = await _browser.NewPageAsync(timeZone: "America/New_York");
        var errors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        // The task list: made just now, so "… ago" (or "now"), with the exact local moment on hover.
        var task = await tasks.CreatePostAsync("Write about time zones", variations: 1);
        await task.WaitForStatusAsync("awaiting_approval");

        var first = page.Locator(".history time.when").First;
        await Expect(first).ToHaveTextAsync(new Regex(@"^(now|\d+ sec\. ago|\d+ min\. ago)$"));
        // December in New York is EST: the hover text is the reader's own clock, not UTC.
        await Expect(first).ToHaveAttributeAsync("title", new Regex(@"\d{1,2}:\d{2}:\d{2}\s?[AP]M EST$"));
        var utc = DateTime.Parse(await first.GetAttributeAsync("datetime") ?? "", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);
        var newYork = TimeZoneInfo.ConvertTimeFromUtc(utc, TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));
        Assert.Contains(newYork.ToString("h:mm:ss tt", System.Globalization.CultureInfo.InvariantCulture), await first.GetAttributeAsync("title"), StringComparison.Ordinal);

        // A comment: markdown and HTML are shown as typed.
        const string comment = "**Nice** <img src=x onerror=window.__pwned=1> _really_";
        await page.GetByLabel("Comment", new() { Exact = true }).FillAsync(comment);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add comment" }).ClickAsync();
        await Expect(page.Locator(".comment-text").First).ToHaveTextAsync(comment);
        Assert.Equal(0, await page.Locator(".comments img").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));
        await Expect(page.Locator(".comment time.when").First).ToHaveTextAsync(new Regex(@"^(now|\d+ sec\. ago|\d+ min\. ago)$"));
        await Expect(page.Locator(".history")).ToContainTextAsync("comment");
        await Browser.ScreenshotAsync(page, "60-task-comments-local-time");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task The_admin_invites_someone_who_joins_through_the_link_and_changes_their_password()
    {
        var admin = await _browser.NewPageAsync(width: 360);
        var adminTasks = await new LoginPage(admin).LogInAsync(HubApp.Password);
        var task = await adminTasks.CreatePostAsync("Write about assigned reviews", variations: 1);
        await task.WaitForStatusAsync("awaiting_approval");
        var taskId = task.Id;
        await admin.GotoAsync("/hub/people");
        await admin.GetByLabel("Name").FillAsync("Rosa Reviewer");
        await admin.GetByLabel("Email").FillAsync("rosa@example.com");
        await admin.GetByLabel("Role").SelectOptionAsync("reviewer");
        await admin.GetByRole(AriaRole.Button, new() { Name = "Make an invitation link" }).ClickAsync();
        var link = await admin.Locator("#invite-url").InputValueAsync();
        Assert.Contains("/hub/invite/", link, StringComparison.Ordinal);
        await Expect(admin.Locator("section[aria-labelledby=invited-heading]")).ToContainTextAsync("Rosa Reviewer");
        var teamViolations = await Axe.SeriousViolationsAsync(admin);
        Assert.True(teamViolations.Count == 0, string.Join("; ", teamViolations));
        Assert.True(await admin.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await Browser.ScreenshotAsync(admin, "61-team-invite-360");

        var rosa = await _browser.NewPageAsync(width: 360);
        await rosa.GotoAsync(new Uri(link).PathAndQuery);
        await Expect(rosa.Locator("h1")).ToHaveTextAsync("Welcome, Rosa Reviewer");
        await rosa.GetByLabel("Password (at least").FillAsync("rosa's first password");
        await rosa.GetByLabel("Password again").FillAsync("rosa's first password");
        await rosa.GetByRole(AriaRole.Button, new() { Name = "Join" }).ClickAsync();
        await Expect(rosa).ToHaveURLAsync(new Regex("/hub/tasks$"));
        // A reviewer sees no Team, Health or new-task controls.
        await Expect(rosa.Locator("nav.container-fluid a[href='/hub/people']")).ToHaveCountAsync(0);
        await Expect(rosa.Locator("nav.container-fluid a[href='/hub/health']")).ToHaveCountAsync(0);

        await rosa.GotoAsync("/hub/account");
        await rosa.GetByLabel("Current password").FillAsync("rosa's first password");
        await rosa.GetByLabel("New password (at least").FillAsync("rosa's second password");
        await rosa.GetByLabel("New password again").FillAsync("rosa's second password");
        await rosa.GetByRole(AriaRole.Button, new() { Name = "Change password" }).ClickAsync();
        await Expect(rosa.Locator("p.notice")).ToContainTextAsync("Your password is changed");
        Assert.True(await rosa.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await Browser.ScreenshotAsync(rosa, "62-account-360");

        // Not assigned to her: she may look and comment, but sees no decision or edit controls.
        await rosa.GotoAsync($"/hub/tasks/{taskId}");
        await Expect(rosa.Locator("#not-yours")).ToBeVisibleAsync();
        await Expect(rosa.GetByRole(AriaRole.Button, new() { Name = "Approve & Publish" })).ToHaveCountAsync(0);
        await Expect(rosa.Locator("#edit-form")).ToHaveCountAsync(0);
        var violations = await Axe.SeriousViolationsAsync(rosa);
        Assert.True(violations.Count == 0, string.Join("; ", violations));
        await Browser.ScreenshotAsync(rosa, "63-task-not-assigned-reviewer-360");

        // The admin assigns it to her; now she chooses and approves it herself.
        await admin.GotoAsync($"/hub/tasks/{taskId}");
        await admin.GetByLabel("Ask someone to review it").SelectOptionAsync(new SelectOptionValue { Label = "Rosa Reviewer (reviewer)" });
        await admin.GetByRole(AriaRole.Button, new() { Name = "Assign" }).ClickAsync();
        await Expect(admin.Locator("#assignee")).ToContainTextAsync("Rosa Reviewer");
        await rosa.GotoAsync("/hub/queue?mine=1");
        await rosa.GetByRole(AriaRole.Link, new() { Name = "Assigned Reviews" }).Or(rosa.Locator($"a[href='/hub/tasks/{taskId}']")).First.ClickAsync();
        await rosa.Locator("#candidates input[type=radio]").First.CheckAsync();
        await rosa.GetByRole(AriaRole.Button, new() { Name = "Approve & Publish" }).ClickAsync();
        await Expect(rosa.Locator("#live .live-head .badge")).ToHaveTextAsync("published");
        await Expect(rosa.Locator(".history")).ToContainTextAsync("Rosa Reviewer");

        // The link was for one use.
        var again = await _browser.NewPageAsync();
        var response = await again.GotoAsync(new Uri(link).PathAndQuery);
        Assert.Equal(404, response!.Status);
        await Expect(again.Locator("h1")).ToHaveTextAsync("This invitation does not work");
    }
}
