using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests.Pages;

public sealed class LoginPage(IPage page)
{
    public ILocator Error => page.Locator("#login-error");

    public async Task OpenAsync() => await page.GotoAsync("/hub/login");

    public async Task SubmitAsync(string password)
    {
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
    }

    public async Task<TasksPage> LogInAsync(string password)
    {
        await OpenAsync();
        await SubmitAsync(password);
        await Expect(page).ToHaveURLAsync(new Regex("/hub/tasks$"));
        return new TasksPage(page);
    }
}

public sealed class TasksPage(IPage page)
{
    public async Task<TaskPage> CreatePostAsync(string topic, int variations)
    {
        await page.GetByLabel("Topic").FillAsync(topic);
        await page.GetByLabel("Images to choose from").FillAsync(variations.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByRole(AriaRole.Button, new() { Name = "Write the draft" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/hub/tasks/[0-9a-z]+$"));
        return new TaskPage(page);
    }
}

public sealed class TaskPage(IPage page)
{
    public IPage Page => page;
    public string Id => new Uri(page.Url).AbsolutePath.Split('/').Last();
    public ILocator Status => page.Locator("#live .live-head .badge");
    public ILocator Progress => page.Locator("#progress progress");
    public ILocator ProgressText => page.Locator("#progress .step");
    public ILocator LivePreview => page.Locator("#live-preview .live-preview img");
    public ILocator Thumbnails => page.Locator("#candidates .candidate img");
    public ILocator Radios => page.GetByRole(AriaRole.Radio);
    public ILocator DraftPreview => page.Locator("#draft-preview");
    public ILocator Title => page.Locator("#task-title");

    public async Task WaitForStatusAsync(string status) =>
        await Expect(Status).ToHaveAttributeAsync("data-status", status, new() { Timeout = 30_000 });

    /// <summary>Puts the focus on the first candidate's radio and moves to the next with the arrow key.</summary>
    public async Task SelectNextWithKeyboardAsync()
    {
        await Radios.First.FocusAsync();
        await page.RunAndWaitForResponseAsync(() => page.Keyboard.PressAsync("ArrowRight"), r => r.Url.EndsWith("/select", StringComparison.Ordinal));
    }

    public async Task SaveEditsAsync(string? title = null, string? content = null)
    {
        if (title is not null)
        {
            await page.GetByLabel("Title", new() { Exact = true }).FillAsync(title);
        }
        if (content is not null)
        {
            await page.GetByLabel("Content (markdown)").FillAsync(content);
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.Locator(".notice")).ToHaveTextAsync("Saved.");
    }

    public async Task ApproveAsync()
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve & Publish" }).ClickAsync();
        await WaitForStatusAsync("published");
    }

    public async Task RejectAsync(string reason, string? newPrompt)
    {
        await page.Locator("details.reject summary").ClickAsync();
        await page.GetByLabel("Reason (required)").FillAsync(reason);
        if (newPrompt is not null)
        {
            await page.GetByLabel("New image prompt", new() { Exact = false }).FillAsync(newPrompt);
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Reject", Exact = true }).ClickAsync();
    }

    public ILocator TitleField => page.GetByLabel("Title", new() { Exact = true });
    public ILocator ExcerptField => page.GetByLabel("Excerpt", new() { Exact = true });
    public ILocator Error => page.Locator("#action-error");
    public ILocator SessionNotice => page.Locator("#session-notice");
    public ILocator History => page.Locator(".history");

    /// <summary>Opens the task page and waits until its live updates are connected.</summary>
    public async Task OpenAsync(string id)
    {
        await page.GotoAsync($"/hub/tasks/{id}");
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-live", "connected");
    }

    /// <summary>Types into the draft without saving it.</summary>
    public async Task TypeDraftAsync(string? title = null, string? excerpt = null)
    {
        if (title is not null)
        {
            await TitleField.FillAsync(title);
        }
        if (excerpt is not null)
        {
            await ExcerptField.FillAsync(excerpt);
        }
    }

    public async Task ChooseAsync(int number)
    {
        await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Radio, new() { Name = $"Image {number}", Exact = true }).CheckAsync(),
            r => r.Url.EndsWith("/select", StringComparison.Ordinal));
    }

    public ILocator Candidate(int number) => page.Locator($"#candidates .candidate[data-index='{number}']");
    public ILocator ZoomDialog => page.Locator("#zoom-dialog");
    public ILocator CompareDialog => page.Locator("#compare-dialog");
    public ILocator RoundHeadings => page.Locator("#candidates .round-head");

    /// <summary>Presses a key with the focus on the page body (no field), as a reviewer would between actions.</summary>
    public async Task PressKeyAsync(string key) => await page.Keyboard.PressAsync(key);

    public async Task RejectForNewRoundAsync(string reason)
    {
        await page.Locator("details.reject summary").ClickAsync();
        await page.GetByLabel("Reason (required)").FillAsync(reason);
        await page.Locator("#reject-regenerate").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Reject", Exact = true }).ClickAsync();
    }

    public async Task PressApproveAsync() => await page.GetByRole(AriaRole.Button, new() { Name = "Approve & Publish" }).ClickAsync();

    public async Task<IReadOnlyList<string>> ImageIdsAsync() =>
        await page.Locator("#candidates .candidate").EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.imageId)");
}

public sealed class PublicPostPage(IPage page)
{
    public ILocator Title => page.Locator("#post-title");
    public ILocator FeaturedImage => page.Locator("#featured-image");
    public ILocator Body => page.Locator("#post-body");

    public async Task OpenAsync(string slug) => await page.GotoAsync($"/posts/{slug}");
}
