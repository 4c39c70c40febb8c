using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>
/// A review link as its two people use it: an editor makes it on the Hub's task page and later
/// revokes another; someone with no account opens it on a phone, chooses by keyboard and approves.
/// </summary>
public sealed class ReviewLinkWalkTests : IClassFixture<Browser>, IDisposable
{
    private readonly Browser _browser;
    private readonly HubApi _api;

    public ReviewLinkWalkTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
        _api = new HubApi(browser.App);
    }

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task A_stranger_approves_through_a_link_once_and_a_revoked_link_shows_a_plain_page()
    {
        var task = await _api.CreateReviewedTaskAsync("Write about Quince Paste", variations: 3);
        var id = task.GetProperty("id").GetString()!;

        // The editor makes the link on the task page; its address is shown once.
        var editor = await _browser.NewPageAsync();
        await new LoginPage(editor).LogInAsync(HubApp.Password);
        await new TaskPage(editor).OpenAsync(id);
        await editor.GetByLabel("Who is it for?").FillAsync("Chef Okafor");
        await editor.GetByLabel("Valid for (days)").FillAsync("2");
        await editor.GetByRole(AriaRole.Button, new() { Name = "Make a review link" }).ClickAsync();
        var shown = editor.GetByLabel("New review link (shown only now)");
        await Expect(shown).ToHaveValueAsync(new Regex("/review/[A-Za-z0-9_-]{43}$"));
        var url = await shown.InputValueAsync();
        await Expect(editor.Locator("#review-links tbody tr")).ToHaveCountAsync(1);
        await Expect(editor.Locator("#review-links tbody tr").First).ToContainTextAsync("Chef Okafor");
        await Browser.ScreenshotAsync(editor, "60-review-link-made");

        // The stranger: a fresh browser with no session, on a phone, keyboard only.
        var page = await _browser.NewPageAsync(360);
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        await page.AddInitScriptAsync("document.addEventListener('securitypolicyviolation', e => console.error('CSP refused ' + e.violatedDirective + ' ' + e.sourceFile))");
        await page.GotoAsync(url);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Quince Paste" })).ToBeVisibleAsync();
        await Expect(page.GetByText("Review requested: Chef Okafor")).ToBeVisibleAsync();
        await Expect(page.Locator(".candidate img")).ToHaveCountAsync(3);
        await Browser.WaitForImagesAsync(page, ".candidate img");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the review page scrolls sideways at 360 px");
        await Browser.ScreenshotAsync(page, "61-review-link-360px");
        var violations = await Axe.SeriousViolationsAsync(page);
        Assert.True(violations.Count == 0, string.Join("\n", violations));
        await page.ReloadAsync(); // axe's probes leave inline styles the CSP refuses; the walk goes on from a clean page
        errors.Clear();

        // Tab to the images, arrow to the second one, tab to Approve, Enter.
        var first = page.GetByRole(AriaRole.Radio, new() { Name = "Image 1" });
        for (var i = 0; i < 10 && !await first.EvaluateAsync<bool>("e => e === document.activeElement"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }
        await Expect(first).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("ArrowRight");
        await Expect(page.GetByRole(AriaRole.Radio, new() { Name = "Image 2" })).ToBeCheckedAsync();
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve with the chosen image" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Already approved" })).ToBeVisibleAsync();
        await Expect(page.GetByText("The post is published.")).ToBeVisibleAsync();
        await _api.WaitForStatusAsync(id, "published");
        var published = await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
        Assert.Equal(2, published.GetProperty("metadata").GetProperty("selected_image_index").GetInt32());
        await Browser.ScreenshotAsync(page, "62-review-link-approved-360px");

        // The same link later: already approved, nothing to press.
        await page.GotoAsync(url);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Already approved" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        Assert.Empty(errors);

        // The Hub shows the link used; the editor's history names it.
        await new TaskPage(editor).OpenAsync(id);
        await Expect(editor.Locator("#review-links tbody tr").First).ToContainTextAsync("used: approved");
        await Expect(editor.Locator(".history")).ToContainTextAsync("via review link (Chef Okafor)");

        // Another task's link, revoked from the Hub, opens a plain page with nothing of the task.
        var other = (await _api.CreateReviewedTaskAsync("Write about Medlar Jelly", variations: 2)).GetProperty("id").GetString()!;
        var made = await _api.SendAsync(HttpMethod.Post, $"/api/tasks/{other}/review-links", new { expires_in_hours = 24, label = "Gardener" });
        var otherUrl = made.GetProperty("url").GetString()!;
        await new TaskPage(editor).OpenAsync(other);
        await editor.GetByRole(AriaRole.Button, new() { Name = "Revoke the review link for Gardener" }).ClickAsync();
        await Expect(editor.Locator("#review-links tbody tr").First).ToContainTextAsync("revoked");
        var closed = await page.GotoAsync(otherUrl);
        Assert.Equal(404, closed!.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "This review link does not work" })).ToBeVisibleAsync();
        await Expect(page.GetByText("Medlar")).ToHaveCountAsync(0);
        await Expect(page.Locator("form")).ToHaveCountAsync(0);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await Browser.ScreenshotAsync(page, "63-review-link-revoked-360px");
        Assert.Empty(await Axe.SeriousViolationsAsync(page));
        Assert.Equal("awaiting_approval", (await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{other}")).GetProperty("status").GetString());
    }
}
