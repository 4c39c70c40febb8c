using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>
/// The two orderings behind the walkthrough's one-time "stuck at 0 of 3": a live part fetched
/// before a newer progress tick but shown after it, and a tick published before the page's event
/// stream is connected. Both are forced here by holding a request, not by timing.
/// </summary>
public sealed class LiveProgressTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task A_live_part_fetched_before_a_progress_tick_does_not_draw_the_older_bar_over_it()
    {
        var page = await browser.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about proofing baskets", variations: 3);
        await task.WaitForStatusAsync("generating_images");
        await Expect(task.ProgressText).ToContainTextAsync("0 of 3");

        // The server renders the live part now (with "0 of 3"); the browser gets it only when released.
        var rendered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync($"**/hub/tasks/{task.Id}/live", async route =>
        {
            var response = await route.FetchAsync();
            rendered.TrySetResult();
            await release.Task;
            await route.FulfillAsync(new() { Response = response });
        });
        await page.EvaluateAsync("() => { window.__liveSwapped = new Promise(r => document.getElementById('live').addEventListener('htmx:afterSettle', r, { once: true })); }");
        // What the SSE extension does when a "changed" event arrives (a status change or a new image).
        await page.EvaluateAsync("() => htmx.trigger('#live', 'sse:changed')");
        await rendered.Task.WaitAsync(TimeSpan.FromSeconds(20));

        browser.App.Images.Allow(1);
        await Expect(task.ProgressText).ToContainTextAsync("1 of 3");
        release.SetResult();
        await page.EvaluateAsync("() => window.__liveSwapped");
        Assert.Contains("1 of 3", await task.ProgressText.TextContentAsync(), StringComparison.Ordinal);

        await page.UnrouteAllAsync(new() { Behavior = UnrouteBehavior.Wait });
        browser.App.Images.Allow(2);
        await task.WaitForStatusAsync("awaiting_approval");
        // Once the images are in, the bar goes away.
        await Expect(task.Progress).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Progress_made_before_the_event_stream_connects_is_shown_once_it_does()
    {
        var page = await browser.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about banneton flour", variations: 3);
        await task.WaitForStatusAsync("generating_images");
        await Expect(task.ProgressText).ToContainTextAsync("0 of 3");

        // The page is loaded again with its event stream held back, while an image is drawn.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync($"**/hub/tasks/{task.Id}/events", async route =>
        {
            await release.Task;
            await route.ContinueAsync();
        });
        await page.ReloadAsync(new() { WaitUntil = WaitUntilState.DOMContentLoaded });
        await Expect(task.ProgressText).ToContainTextAsync("0 of 3");
        var drawn = browser.App.Images.Drawn;
        browser.App.Images.Allow(1);
        await browser.App.Images.WaitForDrawnAsync(drawn + 1);
        release.SetResult();
        await Expect(task.ProgressText).ToContainTextAsync("1 of 3");

        await page.UnrouteAllAsync(new() { Behavior = UnrouteBehavior.Wait });
        browser.App.Images.Allow(2);
        await task.WaitForStatusAsync("awaiting_approval");
    }
}
