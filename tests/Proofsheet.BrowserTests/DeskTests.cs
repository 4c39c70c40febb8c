using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>The reviewer's desk (issue 11): nothing typed is lost, the words, an ended session.</summary>
public sealed class DeskTests : IClassFixture<Browser>, IDisposable
{
    private readonly Browser _browser;
    private readonly HubApi _api;

    public DeskTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
        _api = new HubApi(browser.App);
    }

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task Unsaved_edits_ride_along_with_approve_a_stale_form_is_refused_and_no_action_address_stays()
    {
        var created = await _api.CreateReviewedTaskAsync("Write about lemon tarts", variations: 3);
        var id = created.GetProperty("id").GetString()!;
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = new TaskPage(page);
        await task.OpenAsync(id);

        // Approving with no image chosen: the page says what to do, in its own words.
        await task.PressApproveAsync();
        await Expect(task.Error).ToContainTextAsync("Choose an image first");
        await Expect(task.Error).Not.ToContainTextAsync("image_id");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{id}$"));

        // Someone else saves while the reviewer types: the save is refused and both versions are shown.
        await task.TypeDraftAsync(title: "Lemon tarts, my way");
        await _api.SendAsync(HttpMethod.Patch, $"/api/tasks/{id}", new { title = "Lemon tarts, their way" });
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(task.Error).ToContainTextAsync("Someone else saved this draft");
        await Expect(page.Locator("#yours .your-text").First).ToHaveValueAsync("Lemon tarts, my way");
        await Expect(page.Locator("#yours .saved-text").First).ToHaveTextAsync("Lemon tarts, their way");
        await Expect(task.TitleField).ToHaveValueAsync("Lemon tarts, their way");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{id}$"));
        await Browser.ScreenshotAsync(page, "20-stale-form-both-versions");
        // A reload is a plain GET of the task, never the action's address (and never a raw 405).
        var reloaded = await page.ReloadAsync();
        Assert.Equal(200, reloaded!.Status);
        await Expect(task.TitleField).ToHaveValueAsync("Lemon tarts, their way");
        var action = await page.GotoAsync($"/hub/tasks/{id}/approve");
        Assert.Equal(200, action!.Status);
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{id}$"));

        // Leaving with unsaved edits asks first.
        await task.TypeDraftAsync(excerpt: "Sharp, sweet, and short.");
        var asked = new TaskCompletionSource<string>();
        page.Dialog += async (_, dialog) =>
        {
            asked.TrySetResult(dialog.Type);
            await dialog.DismissAsync();
        };
        var click = page.GetByRole(AriaRole.Link, new() { Name = "Gallery" }).ClickAsync();
        Assert.Equal("beforeunload", await asked.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        await click;
        await Expect(task.ExcerptField).ToHaveValueAsync("Sharp, sweet, and short.");

        // Approve with a new title typed and not saved: the post goes out under the new title.
        await task.TypeDraftAsync(title: "Lemon Tarts, Sharp and Sweet");
        await task.ChooseAsync(2);
        await task.PressApproveAsync();
        await task.WaitForStatusAsync("published");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{id}$"));
        await Expect(task.Title).ToHaveTextAsync("Lemon Tarts, Sharp and Sweet");
        await Expect(task.History).ToContainTextAsync("Image 2");
        await Expect(task.History).Not.ToContainTextAsync("var2");
        await Browser.ScreenshotAsync(page, "21-approved-with-unsaved-edits");
        var slug = (await page.Locator("#public-link").TextContentAsync())!.Split('/').Last();
        var post = new PublicPostPage(page);
        await post.OpenAsync(slug);
        await Expect(post.Title).ToHaveTextAsync("Lemon Tarts, Sharp and Sweet");
        var published = await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
        Assert.Equal("Sharp, sweet, and short.", published.GetProperty("excerpt").GetString());
    }

    [Fact]
    public async Task An_ended_session_shows_a_notice_instead_of_a_nested_login_and_comes_back_to_the_task_with_the_text()
    {
        var created = await _api.CreateReviewedTaskAsync("Write about pear crumble", variations: 2);
        var id = created.GetProperty("id").GetString()!;
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = new TaskPage(page);
        await task.OpenAsync(id);
        await Expect(task.Thumbnails).ToHaveCountAsync(2);
        await task.TypeDraftAsync(title: "Pear Crumble for Cold Evenings");

        // Logged out in another tab; then a live update arrives.
        var other = await page.Context.NewPageAsync();
        await other.GotoAsync("/hub/tasks");
        await other.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();
        await Expect(other).ToHaveURLAsync(new Regex("/hub/login"));
        await _api.SendAsync(HttpMethod.Post, $"/api/tasks/{id}/generate-more", new { num_variations = 1 });

        await Expect(task.SessionNotice).ToBeVisibleAsync();
        await Expect(task.SessionNotice).ToContainTextAsync("signed out");
        Assert.Equal(0, await page.Locator("main input[type=password]").CountAsync());
        await Expect(task.Thumbnails).ToHaveCountAsync(2); // the candidates stay
        await Browser.ScreenshotAsync(page, "22-session-ended-notice");

        // A form post after the session ended: the login says why, and brings the reviewer back with the text.
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/hub/login"));
        await Expect(page.Locator("#login-notice")).ToContainTextAsync("signed out");
        await new LoginPage(page).SubmitAsync(HubApp.Password);
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{id}$"));
        await Expect(task.TitleField).ToHaveValueAsync("Pear Crumble for Cold Evenings");
        await Expect(page.Locator("#restored-notice")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task What_is_typed_in_the_reject_form_stays_when_new_images_redraw_the_page()
    {
        var id = (await _api.CreateReviewedTaskAsync("Write about quince jelly", variations: 2)).GetProperty("id").GetString()!;
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = new TaskPage(page);
        await task.OpenAsync(id);
        await Expect(task.Thumbnails).ToHaveCountAsync(2);
        await page.Locator("details.reject summary").ClickAsync();
        await page.Locator("#reject-feedback").FillAsync("Too dark; the jelly should glow.");
        await page.Locator("#reject-regenerate").CheckAsync();

        // Another round arrives while the reason is half written: the images are drawn again around it.
        await _api.SendAsync(HttpMethod.Post, $"/api/tasks/{id}/generate-more", new { num_variations = 1 });
        await Expect(task.Thumbnails).ToHaveCountAsync(3);
        await Expect(page.Locator("#reject-feedback")).ToBeVisibleAsync();
        await Expect(page.Locator("#reject-feedback")).ToHaveValueAsync("Too dark; the jelly should glow.");
        await Expect(page.Locator("#reject-regenerate")).ToBeCheckedAsync();
        await Browser.ScreenshotAsync(page, "23-reject-reason-kept-through-redraw");
    }
}
