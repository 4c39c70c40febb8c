using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>The reviewer sets the point every crop must keep on the large view: by clicking it, or by keyboard (issue 14).</summary>
public sealed class FocusPointTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task A_click_or_a_button_sets_the_focal_point_shown_on_the_large_view_at_360_px()
    {
        browser.App.Images.OpenFully();
        var page = await browser.NewPageAsync(width: 360);
        var errors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about harbour light", variations: 2);
        await task.WaitForStatusAsync("awaiting_approval");
        var picker = new FocusPicker(page);
        await picker.OpenAsync(2);
        await Expect(picker.Status).ToHaveTextAsync("No point chosen yet: the crops keep what looks most important.");
        await Expect(picker.Marker).ToBeHiddenAsync();

        // A click near the top right corner of the picture.
        await picker.ClickPointAsync(0.9, 0.1);
        await Expect(picker.Status).ToHaveTextAsync("Saved: every crop keeps the point 90% from the left and 10% from the top.");
        await Expect(picker.Marker).ToBeVisibleAsync();
        var (x, y) = await StoredFocusAsync(task.Id, index: 2);
        Assert.InRange(x!.Value, 0.87, 0.93);
        Assert.InRange(y!.Value, 0.07, 0.13);
        // The marker stands where the click was.
        var image = (await picker.Image.BoundingBoxAsync())!;
        var marker = (await picker.Marker.BoundingBoxAsync())!;
        Assert.InRange(marker.X + marker.Width / 2, image.X + image.Width * 0.87, image.X + image.Width * 0.93);
        Assert.InRange(marker.Y + marker.Height / 2, image.Y + image.Height * 0.07, image.Y + image.Height * 0.13);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"), "the page scrolls sideways at 360 px");
        Assert.Empty(await Axe.SeriousViolationsAsync(page));
        await ViewportShotAsync(page, "80-focus-point-clicked-360");

        // By keyboard: one of the nine buttons, pressed with Enter.
        await picker.ChooseWithKeyboardAsync("Bottom left");
        await Expect(picker.Status).ToHaveTextAsync("Saved: every crop keeps the point 15% from the left and 85% from the top.");
        await Expect(picker.Cell("Bottom left")).ToHaveAttributeAsync("aria-pressed", "true");
        Assert.Equal((0.15, 0.85), await StoredFocusAsync(task.Id, index: 2));

        // Shown again when the large view comes back to this image, and not on another.
        await page.Keyboard.PressAsync("ArrowRight");
        await Expect(page.Locator("#zoom-number")).ToHaveTextAsync("1");
        await Expect(picker.Marker).ToBeHiddenAsync();
        await page.Keyboard.PressAsync("ArrowLeft");
        await Expect(page.Locator("#zoom-number")).ToHaveTextAsync("2");
        await Expect(picker.Status).ToHaveTextAsync("Every crop keeps the point 15% from the left and 85% from the top (the cross on the image).");
        await Expect(picker.Marker).ToBeVisibleAsync();
        await ViewportShotAsync(page, "81-focus-point-keyboard-360");

        // And after a reload, from what the server stored.
        await page.ReloadAsync();
        await picker.OpenAsync(2);
        await Expect(picker.Status).ToHaveTextAsync("Every crop keeps the point 15% from the left and 85% from the top (the cross on the image).");

        await picker.Cell("Centre").ClickAsync();
        await page.RunAndWaitForResponseAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "No point: keep what looks most important" }).ClickAsync(),
            r => r.Url.EndsWith("/focus", StringComparison.Ordinal));
        await Expect(picker.Status).ToHaveTextAsync("Saved: no point chosen, the crops keep what looks most important.");
        Assert.Equal(((double?)null, (double?)null), await StoredFocusAsync(task.Id, index: 2));
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    /// <summary>What the reviewer sees: the dialog as it stands on the screen (a full-page shot cuts a modal).</summary>
    private static async Task ViewportShotAsync(IPage page, string name)
    {
        var folder = Path.Combine(Browser.RepositoryRoot(), "test-artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), Caret = ScreenshotCaret.Initial });
    }

    private async Task<(double? X, double? Y)> StoredFocusAsync(string taskId, int index)
    {
        using var api = new HttpClient { BaseAddress = new Uri(browser.App.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", "browser-test-key-0123456789");
        var meta = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{taskId}");
        var image = meta.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Single(v => v.GetProperty("index").GetInt32() == index);
        static double? Read(JsonElement e) => e.ValueKind == JsonValueKind.Number ? Math.Round(e.GetDouble(), 4) : null;
        return (Read(image.GetProperty("focus_x")), Read(image.GetProperty("focus_y")));
    }
}
