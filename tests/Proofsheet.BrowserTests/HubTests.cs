using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

public sealed class HubTests : IClassFixture<Browser>
{
    private readonly Browser _browser;

    public HubTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
    }

    [Fact]
    public async Task A_wrong_password_is_refused()
    {
        var page = await _browser.NewPageAsync();
        var login = new LoginPage(page);
        await login.OpenAsync();
        await login.SubmitAsync("not the password");
        await Expect(login.Error).ToHaveTextAsync("That password is not right.");
        await Expect(page).ToHaveURLAsync(new Regex("/hub/login$"));
        await Browser.ScreenshotAsync(page, "10-login-refused");
        var tasks = await page.APIRequest.GetAsync("/hub/tasks", new() { MaxRedirects = 0 });
        Assert.Equal(302, tasks.Status);
    }

    [Fact]
    public async Task Every_hub_page_sends_a_logged_out_visitor_to_the_login()
    {
        // A task and an image exist, so pages that need one are asked for a real one.
        var (taskId, imageId) = await CreateReviewedTaskAsync("Write about rye bread");
        var page = await _browser.NewPageAsync();
        var routes = _browser.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/hub", StringComparison.Ordinal) && !e.RoutePattern.RawText.StartsWith("/hub/login", StringComparison.Ordinal)
                && !e.RoutePattern.RawText.StartsWith("/hub/invite", StringComparison.Ordinal))
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains("GET") == true)
            .Select(e => e.RoutePattern.RawText!.Replace("/images/{id}", $"/images/{imageId}", StringComparison.Ordinal).Replace("{id}", taskId, StringComparison.Ordinal))
            .Distinct()
            .ToList();
        Assert.Contains("/hub/tasks", routes);
        Assert.Contains($"/hub/tasks/{taskId}", routes);
        Assert.True(routes.Count >= 9, string.Join(", ", routes));
        foreach (var route in routes)
        {
            var response = await page.APIRequest.GetAsync(route, new() { MaxRedirects = 0 });
            Assert.True(response.Status == 302, $"{route} answered {response.Status}");
            Assert.Contains("/hub/login", response.Headers["location"], StringComparison.Ordinal);
        }
        // And in the browser, the login comes back to the page asked for.
        await page.GotoAsync($"/hub/tasks/{taskId}");
        await Expect(page).ToHaveURLAsync(new Regex("/hub/login"));
        await new LoginPage(page).SubmitAsync(HubApp.Password);
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{taskId}$"));
        var posts = await page.APIRequest.PostAsync($"/hub/tasks/{taskId}/retry", new() { MaxRedirects = 0 });
        Assert.Equal(400, posts.Status); // logged in, but without the form's antiforgery token
    }

    [Fact]
    public async Task Rejecting_with_a_new_prompt_adds_a_round_and_keeps_the_first()
    {
        var page = await _browser.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about sourdough starters", variations: 2);
        await task.WaitForStatusAsync("awaiting_approval");
        await Expect(task.Thumbnails).ToHaveCountAsync(2);
        var before = await task.ImageIdsAsync();

        await task.RejectAsync("Too plain", newPrompt: "a bubbling jar of sourdough starter on a sunny windowsill");
        await Expect(page).ToHaveURLAsync(new Regex($"/hub/tasks/{task.Id}$"));
        await task.WaitForStatusAsync("awaiting_approval");
        await Expect(task.Thumbnails).ToHaveCountAsync(4);
        var after = await task.ImageIdsAsync();
        Assert.Equal(before, after.Intersect(before)); // round 1 is still there
        await Expect(page.Locator("#candidates .prompt").First).ToContainTextAsync("bubbling jar of sourdough"); // round 2 comes first
        await Expect(page.Locator(".history")).ToContainTextAsync("Too plain");
        await Browser.ScreenshotAsync(page, "11-task-after-reject");

        // Rejecting needs a reason: the browser holds the form back, and the server refuses one without it.
        await page.Locator("details.reject summary").ClickAsync();
        Assert.True(await page.GetByLabel("Reason (required)").EvaluateAsync<bool>("el => el.required"));
    }

    [Fact]
    public async Task Script_in_the_markdown_is_shown_as_text_in_the_hub_and_on_the_public_page()
    {
        var page = await _browser.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about safe kitchens", variations: 1);
        await task.WaitForStatusAsync("awaiting_approval");
        const string hostile = "Intro\n\n<script>window.__pwned = 1</script>\n\n[click](javascript:window.__pwned=2)";
        await task.SaveEditsAsync(title: "Safe Kitchens", content: hostile);

        await Expect(task.DraftPreview).ToContainTextAsync("<script>window.__pwned = 1</script>");
        Assert.Equal(0, await task.DraftPreview.Locator("script").CountAsync());
        Assert.Equal("#", await task.DraftPreview.GetByRole(AriaRole.Link, new() { Name = "click" }).GetAttributeAsync("href"));
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));
        await Browser.ScreenshotAsync(page, "12-hub-script-as-text");

        await page.Locator("#candidates input[type=radio]").First.CheckAsync();
        await task.ApproveAsync();
        var post = new PublicPostPage(page);
        await post.OpenAsync("safe-kitchens");
        await Expect(post.Body).ToContainTextAsync("<script>window.__pwned = 1</script>");
        Assert.Equal(0, await post.Body.Locator("script").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));
        await Browser.ScreenshotAsync(page, "13-public-script-as-text");
    }

    [Fact]
    public async Task Gallery_posts_and_health_pages_show_what_is_there_with_secrets_masked()
    {
        await CreateReviewedTaskAsync("Write about apple pie");
        var page = await _browser.NewPageAsync();
        await new LoginPage(page).LogInAsync(HubApp.Password);

        await page.GotoAsync("/hub/gallery?q=apple");
        await Expect(page.Locator(".gallery-item").First).ToBeVisibleAsync();
        foreach (var image in await page.Locator(".gallery-item img").AllAsync())
        {
            Assert.False(string.IsNullOrWhiteSpace(await image.GetAttributeAsync("alt")));
        }
        await Browser.ScreenshotAsync(page, "14-gallery");
        await page.GotoAsync("/hub/gallery?q=no-such-prompt-anywhere");
        await Expect(page.Locator(".gallery-item")).ToHaveCountAsync(0);

        await page.GotoAsync("/hub/health");
        await Expect(page.Locator("body")).ToContainTextAsync("database");
        await Expect(page.Locator("body")).ToContainTextAsync("Auth:AdminPassword");
        await Expect(page.Locator("section[aria-labelledby=previews]")).ToContainTextAsync("Preview store");
        await Expect(page.Locator("section[aria-labelledby=previews]")).ToContainTextAsync("in a folder on this server (local)");
        await Expect(page.Locator("body")).ToContainTextAsync("storage:previews");
        var html = await page.ContentAsync();
        Assert.DoesNotContain(HubApp.Password, html, StringComparison.Ordinal);
        Assert.DoesNotContain("browser-test-key-0123456789", html, StringComparison.Ordinal);
        await Browser.ScreenshotAsync(page, "15-health");
        // A long folder or bucket name wraps instead of pushing the page sideways on a phone.
        await page.SetViewportSizeAsync(360, 800);
        await Browser.ScreenshotAsync(page, "15-health-360");
        var wide = await page.EvaluateAsync<string>("() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361).slice(0, 8).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).join(' ')");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= 360"), "the health page scrolls sideways at 360 px: " + wide);
        await page.SetViewportSizeAsync(1280, 900);

        await page.GotoAsync("/hub/queue");
        await Expect(page.Locator(".task-row").First).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "16-queue");
    }

    /// <summary>Makes a task through the API and waits until its images are ready for review.</summary>
    private async Task<(string TaskId, string ImageId)> CreateReviewedTaskAsync(string topic)
    {
        using var client = new HttpClient { BaseAddress = new Uri(_browser.App.BaseUrl) };
        client.DefaultRequestHeaders.Add("X-Api-Key", "browser-test-key-0123456789");
        var created = await client.PostAsync("/api/tasks", new StringContent($"{{\"topic\":\"{topic}\",\"num_variations\":1}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.Accepted, created.StatusCode);
        var id = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        for (var i = 0; i < 600; i++)
        {
            var task = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync($"/api/tasks/{id}")).RootElement;
            if (task.GetProperty("status").GetString() == "awaiting_approval")
            {
                return (id, task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("image_id").GetString()!);
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Task {id} did not reach awaiting_approval.");
    }
}
