using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests.Pages;

/// <summary>The focal-point control in the task page's large view (Hub/FocusPicker.razor).</summary>
public sealed class FocusPicker(IPage page)
{
    public ILocator Dialog => page.Locator("#zoom-dialog");
    public ILocator Image => page.Locator("#zoom-image");
    public ILocator Marker => page.Locator("#focus-marker");
    public ILocator Status => page.Locator("#focus-status");

    public ILocator Cell(string name) => page.Locator("#focus-form").GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    /// <summary>Opens the large view of candidate <paramref name="number"/> and waits for its picture.</summary>
    public async Task OpenAsync(int number)
    {
        // The live stream's first message redraws the candidates and the dialog: open it after that, not before.
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-live", "connected");
        await page.GetByRole(AriaRole.Button, new() { Name = $"View image {number} larger" }).ClickAsync();
        await Expect(Dialog).ToBeVisibleAsync();
        await Infrastructure.Browser.WaitForImagesAsync(page, "#zoom-image");
    }

    /// <summary>Clicks the picture at the given fractions of its width and height, and waits for the point to be saved.</summary>
    public async Task ClickPointAsync(double x, double y)
    {
        var box = await Image.BoundingBoxAsync() ?? throw new InvalidOperationException("the large view shows no picture");
        await page.RunAndWaitForResponseAsync(
            () => Image.ClickAsync(new() { Position = new Position { X = (float)(box.Width * x), Y = (float)(box.Height * y) } }),
            r => r.Url.EndsWith("/focus", StringComparison.Ordinal));
    }

    /// <summary>By keyboard: moves the focus to one of the nine buttons and presses Enter.</summary>
    public async Task ChooseWithKeyboardAsync(string name)
    {
        await Cell(name).FocusAsync();
        await page.RunAndWaitForResponseAsync(() => page.Keyboard.PressAsync("Enter"), r => r.Url.EndsWith("/focus", StringComparison.Ordinal));
    }
}
