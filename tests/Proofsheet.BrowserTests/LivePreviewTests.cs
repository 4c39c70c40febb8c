using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>
/// Live previews (issue 13, item 7): while the stand-in "denoises" (it sends a preview, then waits for
/// the test before finishing the image), the preview shows under the progress bar, each newer one
/// replaces it, and it goes once the images are in.
/// </summary>
public sealed class LivePreviewTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task The_image_being_denoised_shows_in_the_progress_area_and_is_replaced_by_the_next()
    {
        browser.App.Images.LivePreviews = true;
        var page = await browser.NewPageAsync(360);
        var errors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about crumb structure", variations: 2);
        await task.WaitForStatusAsync("generating_images");

        // Image 1 is taking shape: its preview is in the progress area, below the bar.
        await Expect(task.LivePreview).ToHaveAttributeAsync("src", "data:image/png;base64," + Convert.ToBase64String(SteppedTitleCards.PreviewOf(1)));
        await Expect(task.LivePreview).ToHaveAttributeAsync("alt", "The image being generated, still taking shape");
        await Expect(task.LivePreview).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "62-live-preview-360");
        // In the task's live part, right after the progress bar (the bar's text may still change height, so the order is checked, not pixels).
        Assert.True(await page.EvaluateAsync<bool>(
            "document.querySelector('#live #progress').nextElementSibling === document.querySelector('#live #live-preview')"));
        var preview = await task.LivePreview.BoundingBoxAsync();
        Assert.True(preview!.X + preview.Width <= 360, $"the preview reaches {preview.X + preview.Width} px");
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= innerWidth"));

        // Image 1 is done; image 2's preview replaces it.
        browser.App.Images.Allow(1);
        await Expect(task.LivePreview).ToHaveAttributeAsync("src", "data:image/png;base64," + Convert.ToBase64String(SteppedTitleCards.PreviewOf(2)));
        await Expect(task.LivePreview).ToHaveCountAsync(1);

        // A page opened now (mid-render) shows the latest preview at once.
        var late = await browser.NewPageAsync(1280);
        await new LoginPage(late).LogInAsync(HubApp.Password);
        await late.GotoAsync($"/hub/tasks/{task.Id}");
        await Expect(new TaskPage(late).LivePreview).ToHaveAttributeAsync("src", "data:image/png;base64," + Convert.ToBase64String(SteppedTitleCards.PreviewOf(2)));

        browser.App.Images.Allow(1);
        await task.WaitForStatusAsync("awaiting_approval");
        await Expect(task.LivePreview).ToHaveCountAsync(0);
        await Expect(task.Thumbnails).ToHaveCountAsync(2);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }
}
