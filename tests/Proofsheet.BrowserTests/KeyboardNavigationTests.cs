using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>
/// The keyboard walk the desk walk does not take (issue 11): j/k to the next and previous task in the
/// review queue, ←/→ to move the choice, r and g to open the reject and "generate more" forms, and none
/// of them while typing. Its own app, so the queue holds exactly these tasks.
/// </summary>
public sealed partial class KeyboardNavigationTests : IClassFixture<Browser>, IDisposable
{
    private readonly Browser _browser;
    private readonly HubApi _api;

    public KeyboardNavigationTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
        _api = new HubApi(browser.App);
    }

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task J_and_k_walk_the_review_queue_arrows_move_the_choice_and_r_and_g_open_their_forms()
    {
        // Made one after the other, so the queue (oldest first) is first, second, third.
        var ids = new List<string>();
        foreach (var topic in new[] { "Write about the first loaf", "Write about the second loaf", "Write about the third loaf" })
        {
            ids.Add((await _api.CreateReviewedTaskAsync(topic, variations: 3)).GetProperty("id").GetString()!);
        }
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = new TaskPage(page);
        await task.OpenAsync(ids[1]);
        await Expect(task.Thumbnails).ToHaveCountAsync(3);

        await task.PressKeyAsync("j");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{ids[2]}$"));
        await Expect(task.Thumbnails).ToHaveCountAsync(3);
        await task.PressKeyAsync("k");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{ids[1]}$"));
        await task.PressKeyAsync("k");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{ids[0]}$"));
        // Past the newest task, j goes to the queue.
        await task.OpenAsync(ids[2]);
        await task.PressKeyAsync("j");
        await Expect(page).ToHaveURLAsync(new Regex("/hub/queue$"));

        // Typing j or k in a field is text, not a move.
        await task.OpenAsync(ids[0]);
        await Expect(task.Thumbnails).ToHaveCountAsync(3);
        await task.TitleField.FocusAsync();
        await page.Keyboard.TypeAsync("jk");
        await Expect(task.TitleField).ToHaveValueAsync(new Regex("^jk"));
        Assert.EndsWith($"/hub/tasks/{ids[0]}", page.Url, StringComparison.Ordinal);
        await page.EvaluateAsync("() => document.activeElement.blur()");

        // → chooses the first image, → again the second, ← back to the first.
        await page.RunAndWaitForResponseAsync(() => task.PressKeyAsync("ArrowRight"), r => r.Url.EndsWith("/select", StringComparison.Ordinal));
        await Expect(page.GetByRole(AriaRole.Radio, new() { Name = "Image 1", Exact = true })).ToBeCheckedAsync();
        await page.EvaluateAsync("() => document.activeElement.blur()");
        await page.RunAndWaitForResponseAsync(() => task.PressKeyAsync("ArrowRight"), r => r.Url.EndsWith("/select", StringComparison.Ordinal));
        await Expect(page.GetByRole(AriaRole.Radio, new() { Name = "Image 2", Exact = true })).ToBeCheckedAsync();
        await page.EvaluateAsync("() => document.activeElement.blur()");
        await page.RunAndWaitForResponseAsync(() => task.PressKeyAsync("ArrowLeft"), r => r.Url.EndsWith("/select", StringComparison.Ordinal));
        await Expect(page.GetByRole(AriaRole.Radio, new() { Name = "Image 1", Exact = true })).ToBeCheckedAsync();
        await page.EvaluateAsync("() => document.activeElement.blur()");

        // r opens the reject form with the reason focused; what is typed there stays text.
        await task.PressKeyAsync("r");
        await Expect(page.Locator("details.reject")).ToHaveAttributeAsync("open", "");
        await Expect(page.Locator("#reject-feedback")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("jagged crust");
        await Expect(page.Locator("#reject-feedback")).ToHaveValueAsync("jagged crust");
        Assert.EndsWith($"/hub/tasks/{ids[0]}", page.Url, StringComparison.Ordinal);
        await page.EvaluateAsync("() => document.activeElement.blur()");

        // g opens "generate more" with its prompt focused.
        await task.PressKeyAsync("g");
        await Expect(page.Locator("details.more")).ToHaveAttributeAsync("open", "");
        await Expect(page.Locator("#more-prompt")).ToBeFocusedAsync();
        await Browser.ScreenshotAsync(page, "43-keys-r-g");
    }
}
