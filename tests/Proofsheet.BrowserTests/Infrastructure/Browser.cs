using Microsoft.Playwright;

namespace Proofsheet.BrowserTests.Infrastructure;

/// <summary>
/// Debian's Chromium driven by Playwright (Playwright's own browser download cannot work here).
/// One browser per test class; each test gets a fresh context (no shared cookies).
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Instance { get; private set; } = default!;

    public HubApp App { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: ./test.sh installs Debian's chromium package.");
        }
        App = new HubApp();
        _playwright = await Playwright.CreateAsync();
        Instance = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
    }

    /// <param name="timeZone">The reader's time zone (IANA), e.g. to see times shown in it; the machine's when null.</param>
    public async Task<IPage> NewPageAsync(int width = 1280, string? timeZone = null)
    {
        var context = await Instance.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = App.BaseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = width < 600 ? 740 : 900 },
            TimezoneId = timeZone,
            Locale = timeZone is null ? null : "en-US",
        });
        context.SetDefaultTimeout(20_000);
        // Assertions wait as long as actions do: on a loaded CI machine a live update can take seconds.
        Assertions.SetDefaultExpectTimeout(20_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        await Instance.CloseAsync();
        _playwright?.Dispose();
        await App.DisposeAsync();
    }

    /// <summary>Saves a full-page screenshot under test-artifacts/screenshots at the repository root.</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(RepositoryRoot(), "test-artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions
        {
            Path = Path.Combine(folder, name + ".png"),
            FullPage = true,
            // Hiding the caret puts an inline style on the focused field, which the app's CSP rightly refuses.
            Caret = ScreenshotCaret.Initial,
        });
    }

    /// <summary>
    /// Waits until every image matching <paramref name="selector"/> has loaded. Lazy images are not waited for by the
    /// load event, and one that never loads fails with the images that had not, not a bare timeout.
    /// </summary>
    public static async Task WaitForImagesAsync(IPage page, string selector)
    {
        try
        {
            await page.WaitForFunctionAsync("s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)", selector);
        }
        catch (TimeoutException)
        {
            var missing = await page.EvaluateAsync<string[]>(
                "s => [...document.querySelectorAll(s)].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => `${i.getAttribute('src')} (complete: ${i.complete}, ${Math.round(i.getBoundingClientRect().top)} px from the top of the view)`)",
                selector);
            throw new TimeoutException($"{missing.Length} image(s) at {selector} did not load: {string.Join("; ", missing)}");
        }
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Proofsheet.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? AppContext.BaseDirectory;
    }
}
