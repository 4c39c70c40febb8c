using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using Proofsheet.Images;
using Proofsheet.Testing;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>The Hub shows candidates as thumbnails, not as the 1.5 MB renders they are (issue 14).</summary>
public sealed class ImageWeightTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HubApp _app = default!;
    private IPlaywright _playwright = default!;
    private IBrowser _browser = default!;

    public async Task InitializeAsync()
    {
        // The renders are made before the app starts: the test's wait for the task then covers only the app's own work
        // (a full run on a loaded machine once spent the whole wait drawing the eight noise PNGs in the stand-in).
        var renders = await Task.Run(() => Enumerable.Range(1, 8).Select(i => Png.Render(1024, i)).ToArray());
        _app = new HubApp(new Dictionary<string, string> { ["Images:MaxVariations"] = "8" }, new SdxlSizedRenders(renders));
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Browser.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
    }

    [Fact]
    public async Task The_task_page_with_eight_sdxl_candidates_transfers_at_most_15_percent_of_their_bytes()
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _app.BaseUrl, ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(30_000);
        Assertions.SetDefaultExpectTimeout(30_000);
        var page = await context.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about sourdough", variations: 8);
        await task.WaitForStatusAsync("awaiting_approval");
        await Expect(task.Thumbnails).ToHaveCountAsync(8);

        using var api = new HttpClient { BaseAddress = new Uri(_app.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", "browser-test-key-0123456789");
        var meta = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{task.Id}");
        var originals = meta.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Sum(v => v.GetProperty("byte_size").GetInt64());
        Assert.True(originals is > 8 * 1_200_000 and < 8 * 3_000_000, $"the candidates are {originals} bytes, not the size of SDXL renders");

        // A fresh tab with an empty cache (same session) opens the task page; every response's body is counted.
        var fresh = await context.NewPageAsync();
        // Tall enough to show every candidate, so that every lazy image is fetched without scrolling (a scroll to the
        // end left candidates redrawn after it 3000 px above the view, never fetched).
        await fresh.SetViewportSizeAsync(1280, 2000);
        // Routing turns Playwright's HTTP cache off, so nothing the first tab loaded is reused.
        await fresh.RouteAsync("**/*", route => route.ContinueAsync());
        var responses = new List<IResponse>();
        fresh.Response += (_, r) => responses.Add(r);
        var errors = new List<string>();
        fresh.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };
        // Opened as the other tests open it: once the stream's first message has redrawn the candidates.
        await new TaskPage(fresh).OpenAsync(task.Id);
        await Expect(fresh.Locator("#candidates img")).ToHaveCountAsync(8);
        await Browser.WaitForImagesAsync(fresh, "#candidates img");

        long transferred = 0;
        // The page's live-update stream stays open (its sizes are known only when it ends); it carries only short events.
        foreach (var response in responses.ToList().Where(r => !r.Headers.GetValueOrDefault("content-type", "").StartsWith("text/event-stream", StringComparison.Ordinal)))
        {
            var sizes = await response.Request.SizesAsync();
            transferred += sizes.ResponseBodySize + sizes.ResponseHeadersSize;
        }
        var widths = await fresh.EvaluateAsync<int[]>("() => [...document.querySelectorAll('#candidates img')].map(i => i.naturalWidth)");
        Assert.All(widths, w => Assert.InRange(w, 1, 400));
        output.WriteLine($"task page: {transferred:N0} bytes transferred for {originals:N0} bytes of candidates ({100.0 * transferred / originals:0.0}%)");
        Assert.True(transferred <= originals * 15 / 100,
            $"the task page transferred {transferred:N0} bytes for {originals:N0} bytes of candidates ({100.0 * transferred / originals:0.0}%)");
        Assert.Contains(responses, r => r.Url.EndsWith("/thumb", StringComparison.Ordinal) && r.Headers["content-type"] == "image/webp");
        await Browser.ScreenshotAsync(fresh, "70-task-eight-thumbnails");

        // The larger view is at most 1600 px, not the original file.
        await fresh.Locator("#candidates .zoom").First.ClickAsync();
        await Expect(fresh.Locator("#zoom-dialog")).ToBeVisibleAsync();
        var large = await fresh.EvaluateAsync<string>("() => document.querySelector('#zoom-dialog img').getAttribute('src')");
        Assert.EndsWith("/large", large, StringComparison.Ordinal);
        await Browser.WaitForImagesAsync(fresh, "#zoom-dialog img");
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    public async Task DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
        await _app.DisposeAsync();
    }

    /// <summary>An image backend that returns SDXL-sized PNGs (1024², ~1.5 MB), as a GPU server would.</summary>
    private sealed class SdxlSizedRenders(byte[][] renders) : IImageGenerator
    {
        // Under the embedded default's name, so that the default chain uses it without a GPU server's configuration.
        public string Name => "titlecard";

        public Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<GeneratedImage>>(Enumerable.Range(request.FirstVariation, request.Count)
                .Select(i => new GeneratedImage(renders[(i - 1) % renders.Length], "image/png", 1024, 1024) { Seed = (ulong)i })
                .ToList());
    }
}
