using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>Scheduling from the task page: the time is picked in the reader's zone and stored in UTC.</summary>
public sealed class ScheduleTests : IClassFixture<Browser>, IDisposable
{
    private readonly Browser _browser;
    private readonly HubApi _api;

    public ScheduleTests(Browser browser)
    {
        _browser = browser;
        browser.App.Images.OpenFully();
        _api = new HubApi(browser.App);
    }

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task A_reader_in_auckland_schedules_in_their_own_time_then_cancels_it()
    {
        var id = (await _api.CreateReviewedTaskAsync("Write about Pavlova", variations: 2)).GetProperty("id").GetString()!;
        // A reader thirteen hours ahead of UTC in January (daylight saving), on a phone.
        var context = await _browser.Instance.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = _browser.App.BaseUrl,
            TimezoneId = "Pacific/Auckland",
            ViewportSize = new ViewportSize { Width = 360, Height = 740 },
        });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = new TaskPage(page);
        await task.OpenAsync(id);
        await task.ChooseAsync(2);

        var next = DateTime.UtcNow.Year + 1;
        await page.GetByText("Schedule…").ClickAsync();
        await page.GetByLabel("Go live at (your time)").FillAsync($"{next}-01-15T09:30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve & schedule" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Scheduled" })).ToBeVisibleAsync();
        var scheduled = await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
        Assert.Equal("scheduled", scheduled.GetProperty("status").GetString());
        Assert.Equal(new DateTime(next, 1, 14, 20, 30, 0, DateTimeKind.Utc), scheduled.GetProperty("publish_at").GetDateTime().ToUniversalTime());
        // Shown in the reader's time (the exact moment, with the zone, on hover); the page carries the UTC moment.
        await Expect(page.Locator("#scheduled time")).ToContainTextAsync("9:30");
        await Expect(page.Locator("#scheduled time")).ToContainTextAsync("(your time)");
        await Expect(page.Locator("#scheduled time")).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("GMT\\+13"));
        Assert.Equal(new DateTime(next, 1, 14, 20, 30, 0, DateTimeKind.Utc),
            DateTime.Parse(await page.Locator("#scheduled time").GetAttributeAsync("datetime") ?? "", null, System.Globalization.DateTimeStyles.AdjustToUniversal));
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the scheduled task scrolls sideways at 360 px");
        await Browser.ScreenshotAsync(page, "64-scheduled-360px");
        Assert.Empty(await Axe.SeriousViolationsAsync(page));
        await task.OpenAsync(id); // a clean page after axe's probes, with its live updates connected

        // A time in the past is refused in words, and changes nothing.
        await page.GetByLabel("New time (your time)").FillAsync($"{next - 2}-01-15T09:30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Change the time" }).ClickAsync();
        await Expect(page.Locator("#action-error")).ToContainTextAsync("That time has passed");
        Assert.Equal(scheduled.GetProperty("publish_at").GetString(), (await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}")).GetProperty("publish_at").GetString());

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel the schedule" }).ClickAsync();
        await Expect(page.Locator("#live .badge").First).ToHaveTextAsync("awaiting approval");
        var back = await _api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
        Assert.Equal("awaiting_approval", back.GetProperty("status").GetString());
        Assert.Equal(2, back.GetProperty("metadata").GetProperty("selected_image_index").GetInt32());
        Assert.True(errors.All(e => e.Contains("status of 400", StringComparison.Ordinal)), string.Join("\n", errors));
        await context.CloseAsync();
    }
}
