using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>A reviewer's day, end to end in Chromium: ask for a post, watch it arrive, choose, edit, approve, read it.</summary>
public sealed class ReviewWalkthroughTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task Create_watch_progress_select_with_the_keyboard_edit_approve_and_read_the_public_post()
    {
        var page = await browser.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        await Browser.ScreenshotAsync(page, "01-tasks-empty");

        var task = await tasks.CreatePostAsync("Write about making blueberry muffins", variations: 3);
        // A mark on the window: it survives only if the page is never reloaded.
        await page.EvaluateAsync("() => window.__sameDocument = 42");

        await task.WaitForStatusAsync("generating_images");
        await Expect(task.ProgressText).ToContainTextAsync("0 of 3");
        for (var done = 1; done <= 2; done++)
        {
            browser.App.Images.Allow(1);
            await Expect(task.Progress).ToHaveAttributeAsync("value", done.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Expect(task.ProgressText).ToContainTextAsync($"Generating images: {done} of 3");
        }
        await Browser.ScreenshotAsync(page, "02-task-generating");
        await Expect(task.Thumbnails).ToHaveCountAsync(0);
        // The last image completes the set: the three are saved and shown together.
        browser.App.Images.Allow(1);
        await Expect(task.Thumbnails).ToHaveCountAsync(3);
        await task.WaitForStatusAsync("awaiting_approval");
        // The draft and its edit form arrived live too.
        await Expect(page.GetByLabel("Title", new() { Exact = true })).ToBeVisibleAsync();
        await Expect(task.DraftPreview).ToContainTextAsync("blueberry muffins");
        Assert.Equal(42, await page.EvaluateAsync<int>("() => window.__sameDocument"));
        foreach (var thumbnail in await task.Thumbnails.AllAsync())
        {
            Assert.False(string.IsNullOrWhiteSpace(await thumbnail.GetAttributeAsync("alt")));
        }

        await task.SelectNextWithKeyboardAsync();
        await Expect(task.Radios.Nth(1)).ToBeCheckedAsync();
        var chosen = (await task.ImageIdsAsync())[1];

        await task.SaveEditsAsync(title: "Blueberry Muffins, Proofed");
        await Expect(task.Title).ToHaveTextAsync("Blueberry Muffins, Proofed");
        await Expect(task.Radios.Nth(1)).ToBeCheckedAsync(); // the choice was saved, not only shown
        await Browser.ScreenshotAsync(page, "03-task-review");

        // The larger view opens on click and closes again.
        await page.Locator("#candidates .zoom").Nth(1).ClickAsync();
        await Expect(page.Locator("#zoom-dialog")).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "04-task-zoom");
        await page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();

        var selectedBytes = await (await page.APIRequest.GetAsync($"/hub/images/{chosen}/file")).BodyAsync();
        await task.ApproveAsync();
        await Expect(page.Locator("#public-link")).ToBeVisibleAsync();
        var slug = (await page.Locator("#public-link").TextContentAsync())!.Split('/').Last();
        // The slug was reserved with the draft's first title; the post carries the edited one.

        var post = new PublicPostPage(page);
        await post.OpenAsync(slug);
        await Expect(post.Title).ToHaveTextAsync("Blueberry Muffins, Proofed");
        await Expect(post.FeaturedImage).ToHaveAttributeAsync("alt", new Regex(".+"));
        var src = await post.FeaturedImage.GetAttributeAsync("src");
        var publishedBytes = await (await page.APIRequest.GetAsync(src!)).BodyAsync();
        Assert.Equal(SHA256.HashData(selectedBytes), SHA256.HashData(publishedBytes));
        Assert.Equal("Blueberry Muffins, Proofed", await page.Locator("meta[property='og:title']").GetAttributeAsync("content"));
        // Link previews get the 1200×630 card made from the chosen image, not the image itself.
        Assert.EndsWith("-social.jpg", await page.Locator("meta[property='og:image']").GetAttributeAsync("content"), StringComparison.Ordinal);
        Assert.Equal("1200", await page.Locator("meta[property='og:image:width']").GetAttributeAsync("content"));
        Assert.Equal("summary_large_image", await page.Locator("meta[name='twitter:card']").GetAttributeAsync("content"));
        await Browser.ScreenshotAsync(page, "05-public-post");

        await page.GotoAsync("/");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Blueberry Muffins, Proofed" })).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "06-public-home");
        var feed = await page.APIRequest.GetAsync("/feed.xml");
        var rss = System.Xml.Linq.XDocument.Parse(await feed.TextAsync());
        Assert.Equal("2.0", rss.Root!.Attribute("version")!.Value);
        Assert.Contains(rss.Descendants("item"), i => i.Element("title")!.Value == "Blueberry Muffins, Proofed"
            && i.Element("link")!.Value.EndsWith($"/posts/{slug}", StringComparison.Ordinal));
        var sitemap = await (await page.APIRequest.GetAsync("/sitemap.xml")).TextAsync();
        Assert.Contains($"/posts/{slug}</loc>", sitemap, StringComparison.Ordinal);
    }
}
