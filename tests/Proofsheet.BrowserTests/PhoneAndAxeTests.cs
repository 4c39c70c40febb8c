using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>Every Hub page and every public page: usable at 360 px, and no critical or serious axe-core violation.</summary>
public sealed class PhoneAndAxeTests : IClassFixture<Browser>, IDisposable
{
    private readonly Browser _browser;
    private readonly HubApi _api;

    public PhoneAndAxeTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
        _api = new HubApi(browser.App);
    }

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task Every_page_fits_360_px_keeps_the_action_bar_in_reach_and_has_no_serious_axe_violation()
    {
        var review = await _api.CreateReviewedTaskAsync("Write about walnut bread", variations: 3);
        var reviewId = review.GetProperty("id").GetString()!;
        var done = await _api.CreateReviewedTaskAsync("Write about fig jam with a rather long title that wraps on a phone", variations: 1);
        var doneId = done.GetProperty("id").GetString()!;
        await _api.SendAsync(HttpMethod.Post, $"/api/tasks/{doneId}/approve", new { index = 1 });
        var slug = (await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{doneId}")).GetProperty("slug").GetString()!;

        string[] hubPages =
        [
            "/hub/tasks", "/hub/tasks?status=awaiting_approval", "/hub/queue", $"/hub/tasks/{reviewId}#review", $"/hub/tasks/{doneId}#published",
            "/hub/gallery", "/hub/posts", "/hub/health", "/hub/tasks/0123456789abcdef0123456789abcdef#missing",
            "/hub/people", "/hub/account", "/hub/queue?mine=1",
        ];
        string[] publicPages = ["/", $"/posts/{slug}", "/posts/no-such-post"];
        var problems = new List<string>();
        foreach (var width in (int[])[360, 1280])
        {
            var page = await _browser.NewPageAsync(width);
            var errors = new List<string>();
            // axe-core leaves probes with inline styles that the app's CSP refuses (logged later, by htmx's page snapshot):
            // console errors are counted on a first visit of each page, axe runs on a second.
            var axeRan = false;
            page.Console += (_, message) =>
            {
                if (message.Type == "error" && !axeRan)
                {
                    errors.Add($"{message.Location}: {message.Text[..Math.Min(400, message.Text.Length)]}");
                }
            };
            // A refused inline style or script names its element in the console, so a failure says what to fix.
            await page.AddInitScriptAsync("document.addEventListener('securitypolicyviolation', e => console.error('CSP refused ' + e.violatedDirective + ' ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber + ' ' + (e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 200) : String(e.target))))");
            await page.GotoAsync("/hub/login");
            await CheckAsync(page, "/hub/login", width, problems);
            problems.AddRange((await Axe.SeriousViolationsAsync(page)).Select(v => $"/hub/login at {width}px: {v}"));
            await new LoginPage(page).SubmitAsync(HubApp.Password);
            await Expect(page).ToHaveURLAsync(new Regex("/hub/tasks$"));
            foreach (var path in hubPages.Concat(publicPages))
            {
                await page.GotoAsync(path);
                await CheckAsync(page, path, width, problems);
            }
            axeRan = true;
            foreach (var path in hubPages.Concat(publicPages))
            {
                await page.GotoAsync(path);
                problems.AddRange((await Axe.SeriousViolationsAsync(page)).Select(v => $"{path} at {width}px: {v}"));
            }
            problems.AddRange(errors.Where(e => !(e.Contains("status of 404", StringComparison.Ordinal) && (e.Contains("no-such-post", StringComparison.Ordinal) || e.Contains("0123456789abcdef", StringComparison.Ordinal)))).Select(e => $"{width}px console error: {e}"));

            // The task page's decision bar stays on screen while the reviewer reads down the page.
            // Measured once the live part has been redrawn by the stream's first message (a detached button measures 0 × 0).
            await new TaskPage(page).OpenAsync(reviewId);
            var approve = page.GetByRole(AriaRole.Button, new() { Name = "Approve & Publish" });
            await Expect(approve).ToBeVisibleAsync();
            foreach (var place in (string[])["top", "bottom"])
            {
                await page.EvaluateAsync(place == "top" ? "() => window.scrollTo(0, 0)" : "() => window.scrollTo(0, document.body.scrollHeight)");
                if (!await approve.EvaluateAsync<bool>("b => { const r = b.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight + 1 && r.height > 0; }"))
                {
                    problems.Add($"{width}px: Approve & Publish is off screen with the page scrolled to the {place}: " + await approve.EvaluateAsync<string>("b => JSON.stringify(b.getBoundingClientRect()) + ' of ' + window.innerHeight"));
                }
            }
            await Browser.ScreenshotAsync(page, $"30-task-{width}px-scrolled");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static async Task CheckAsync(IPage page, string path, int width, List<string> problems)
    {
        // The fragment names the page in the screenshot's file name (the task ids change every run).
        var name = Regex.Replace(Regex.Replace(path.Trim('/'), "[0-9a-f]{32}#?", "task-"), "[^a-z0-9]+", "-");
        await Browser.ScreenshotAsync(page, $"3{(width < 600 ? 1 : 2)}-{width}px-{(name.Length == 0 ? "home" : name[..Math.Min(40, name.Length)])}");
        if (width < 600)
        {
            var sizes = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
            var (scroll, inner) = (sizes[0], sizes[1]);
            if (scroll > inner)
            {
                var wide = await page.EvaluateAsync<string>(@"() => Array.from(document.querySelectorAll('body *'))
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 4)
                    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className).join(', ')");
                problems.Add($"{path} at {width}px: {scroll} px wide ({wide})");
            }
        }
    }
}
