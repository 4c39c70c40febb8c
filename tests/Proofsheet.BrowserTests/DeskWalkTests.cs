using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>Choosing among many (issue 11): the keyboard, the larger view, compare, rounds, stars, fixing and taking back a live post, the queue.</summary>
public sealed class DeskWalkTests : IClassFixture<Browser>, IDisposable
{
    private readonly Browser _browser;
    private readonly HubApi _api;

    public DeskWalkTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
        _api = new HubApi(browser.App);
    }

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task Keyboard_walk_choose_with_2_view_larger_compare_3_and_approve_with_a_without_the_mouse()
    {
        var id = (await _api.CreateReviewedTaskAsync("Write about gooseberry pie", variations: 4)).GetProperty("id").GetString()!;
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = new TaskPage(page);
        await task.OpenAsync(id);
        await Expect(task.Thumbnails).ToHaveCountAsync(4);

        await task.PressKeyAsync("?");
        await Expect(page.Locator("#keys-dialog")).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "40-keys");
        await task.PressKeyAsync("Escape");
        await Expect(page.Locator("#keys-dialog")).ToBeHiddenAsync();

        // A key typed in a field is text, never a shortcut.
        await task.TitleField.FocusAsync();
        await page.Keyboard.TypeAsync("2a");
        await Expect(task.Radios.Nth(1)).Not.ToBeCheckedAsync();
        await task.TitleField.FillAsync("Gooseberry Pie");
        await page.Locator("#task-title").FocusAsync(new() { Timeout = 1000 }).ContinueWith(_ => Task.CompletedTask);
        await page.EvaluateAsync("() => document.activeElement.blur()");

        await page.RunAndWaitForResponseAsync(() => task.PressKeyAsync("2"), r => r.Url.EndsWith("/select", StringComparison.Ordinal));
        await Expect(page.GetByRole(AriaRole.Radio, new() { Name = "Image 2", Exact = true })).ToBeCheckedAsync();

        // The larger view: number, position, previous/next with the arrow keys, "Choose this".
        await task.PressKeyAsync("Enter");
        await Expect(task.ZoomDialog).ToBeVisibleAsync();
        await Expect(page.Locator("#zoom-number")).ToHaveTextAsync("2");
        await task.PressKeyAsync("ArrowRight");
        await Expect(page.Locator("#zoom-number")).ToHaveTextAsync("3");
        await Expect(page.Locator("#zoom-position")).ToHaveTextAsync("3 of 4");
        await Browser.ScreenshotAsync(page, "41-larger-view");
        await task.PressKeyAsync("ArrowLeft");
        await Expect(page.Locator("#zoom-number")).ToHaveTextAsync("2");
        await page.Locator("#zoom-choose").FocusAsync();
        await task.PressKeyAsync("Enter");
        await Expect(task.ZoomDialog).ToBeHiddenAsync();

        // Compare three side by side (ticked with the space bar), then approve with "a".
        foreach (var n in (int[])[1, 2, 3])
        {
            await task.Candidate(n).Locator(".compare-box").FocusAsync();
            await task.PressKeyAsync("Space");
        }
        await page.EvaluateAsync("() => document.activeElement.blur()");
        await task.PressKeyAsync("c");
        await Expect(task.CompareDialog).ToBeVisibleAsync();
        await Expect(task.CompareDialog.Locator("figure")).ToHaveCountAsync(3);
        var widths = await task.CompareDialog.Locator("figure img").EvaluateAllAsync<double[]>("els => els.map(e => e.getBoundingClientRect().width)");
        Assert.All(widths, w => Assert.True(w > 250, $"each compared image is large ({w} px)"));
        await Browser.ScreenshotAsync(page, "42-compare-3");
        await task.PressKeyAsync("Escape");
        await Expect(task.CompareDialog).ToBeHiddenAsync();

        await task.PressKeyAsync("a");
        await task.WaitForStatusAsync("published");
        await Expect(task.Title).ToHaveTextAsync("Gooseberry Pie");
        await Expect(task.History).ToContainTextAsync("Image 2");
    }

    [Fact]
    public async Task Rounds_stars_fixing_a_live_post_unpublish_and_the_queue_as_a_desk()
    {
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);

        // The queue: a task that becomes ready appears without a reload, counted in the tab title.
        await page.GotoAsync("/hub/queue");
        var before = int.Parse(await page.Locator("#queue-count").GetAttributeAsync("data-count") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var queued = (await _api.CreateReviewedTaskAsync("Write about damson gin", variations: 2)).GetProperty("id").GetString()!;
        var row = page.Locator($".queue-row[data-task-id='{queued}']");
        await Expect(row).ToBeVisibleAsync();
        await Expect(page).ToHaveTitleAsync(new Regex($"^\\({before + 1}\\) Review queue"));
        await Expect(row.Locator(".queue-candidate")).ToHaveCountAsync(2);
        await Browser.ScreenshotAsync(page, "43-queue-desk");
        var other = (await _api.CreateReviewedTaskAsync("Write about sloe syrup", variations: 1)).GetProperty("id").GetString()!;
        await Expect(page.Locator($".queue-row[data-task-id='{other}']")).ToBeVisibleAsync();
        // Approve from the queue: it stays on the queue, and the row goes.
        await row.GetByRole(AriaRole.Radio, new() { Name = "Image 2" }).CheckAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Approve with the chosen image" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/hub/queue$"));
        await Expect(page.Locator($".queue-row[data-task-id='{queued}']")).ToHaveCountAsync(0);
        // Tick and cancel at once.
        await page.Locator($".queue-row[data-task-id='{other}'] .bulk-pick input").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel ticked" }).ClickAsync();
        await Expect(page.Locator($".queue-row[data-task-id='{other}']")).ToHaveCountAsync(0);
        Assert.Equal("cancelled", (await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{other}")).GetProperty("status").GetString());

        // Stars and the shortlist.
        var id = (await _api.CreateReviewedTaskAsync("Write about crab apple jelly", variations: 2)).GetProperty("id").GetString()!;
        var task = new TaskPage(page);
        await task.OpenAsync(id);
        await task.Candidate(1).GetByRole(AriaRole.Button, new() { Name = "5 stars for image 1" }).ClickAsync();
        await Expect(task.Candidate(1)).ToHaveAttributeAsync("data-stars", "5");
        await page.GetByLabel("Shortlisted only").CheckAsync();
        await Expect(task.Candidate(2)).ToBeHiddenAsync();
        await Expect(task.Candidate(1)).ToBeVisibleAsync();
        await page.GetByLabel("Shortlisted only").UncheckAsync();

        // Same seed: image 2 drawn again from its seed with an edited prompt.
        var seed = await task.Candidate(2).Locator(".meta dd").Nth(1).TextContentAsync();
        await task.Candidate(2).Locator(".same-seed summary").ClickAsync();
        await task.Candidate(2).Locator(".same-seed textarea").FillAsync("crab apple jelly glowing on a winter windowsill");
        await task.Candidate(2).GetByRole(AriaRole.Button, new() { Name = "Re-render with this seed" }).ClickAsync();
        await Expect(task.Candidate(3)).ToBeVisibleAsync();
        await Expect(task.Candidate(3).Locator(".meta dd").Nth(1)).ToHaveTextAsync(seed!);
        await Expect(task.Candidate(3).Locator(".prompt")).ToHaveTextAsync("crab apple jelly glowing on a winter windowsill");

        // Reject with feedback: round 2 arrives live, round 1 stays choosable, and a round-1 image is approved.
        await page.EvaluateAsync("() => window.__sameDocument = 7");
        await task.RejectForNewRoundAsync("too pale");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{id}$"));
        await Expect(task.RoundHeadings.First).ToHaveTextAsync("Round 2 (latest)");
        await Expect(task.Thumbnails).ToHaveCountAsync(5);
        await Expect(task.RoundHeadings.Nth(1)).ToHaveTextAsync("Round 1");
        await Browser.ScreenshotAsync(page, "44-rounds");
        await task.ChooseAsync(1);
        await task.PressApproveAsync();
        await task.WaitForStatusAsync("published");
        var published = await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
        Assert.Equal(1, published.GetProperty("metadata").GetProperty("selected_image_index").GetInt32());
        var slug = published.GetProperty("slug").GetString()!;

        // Fix the live post: a new address; the old one answers 301.
        await page.GetByLabel("Address", new() { Exact = false }).FillAsync("crab-apple-jelly-clear");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.Locator(".notice").First).ToHaveTextAsync("Saved.");
        var old = await page.APIRequest.GetAsync($"/posts/{slug}", new() { MaxRedirects = 0 });
        Assert.Equal(301, old.Status);
        Assert.Equal("/posts/crab-apple-jelly-clear", old.Headers["location"]);
        await page.GotoAsync($"/posts/{slug}");
        await Expect(page).ToHaveURLAsync(new Regex("/posts/crab-apple-jelly-clear$"));

        // Unpublish, then approve again.
        await task.OpenAsync(id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Unpublish (back to draft)" }).ClickAsync();
        await task.WaitForStatusAsync("awaiting_approval");
        Assert.Equal(404, (await page.APIRequest.GetAsync("/posts/crab-apple-jelly-clear")).Status);
        await task.PressApproveAsync();
        await task.WaitForStatusAsync("published");
        Assert.Equal(200, (await page.APIRequest.GetAsync("/posts/crab-apple-jelly-clear")).Status);
    }
}
