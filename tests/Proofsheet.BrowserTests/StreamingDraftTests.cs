using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>The draft arrives in the Hub in pieces while an OpenAI-compatible writer streams it (issue 13, item 7).</summary>
public sealed class StreamingDraftTests : StreamingDraftTestsBase
{
    protected override Dictionary<string, string> Writer(StreamingWriterStandIn writer) => new()
    {
        ["Content:Provider"] = "openai",
        ["Content:OpenAI:BaseUrl"] = writer.BaseUrl,
        ["Content:OpenAI:Model"] = "llama3.1:8b",
        ["Content:OpenAI:Timeout"] = "00:02:00",
    };
}

/// <summary>The same with the Anthropic writer, which streams the article as a tool call's input.</summary>
public sealed class AnthropicStreamingDraftTests : StreamingDraftTestsBase
{
    protected override Dictionary<string, string> Writer(StreamingWriterStandIn writer) => new()
    {
        ["Content:Provider"] = "anthropic",
        ["Content:Anthropic:BaseUrl"] = writer.AnthropicBaseUrl,
        ["Content:Anthropic:ApiKey"] = "sk-ant-browser-test",
        ["Content:Anthropic:Model"] = "claude-sonnet-4-5",
        ["Content:Anthropic:Timeout"] = "00:02:00",
    };
}

public abstract class StreamingDraftTestsBase : IAsyncLifetime
{
    protected abstract Dictionary<string, string> Writer(StreamingWriterStandIn writer);

    private StreamingWriterStandIn _writer = default!;
    private HubApp _app = default!;
    private IPlaywright _playwright = default!;
    private IBrowser _browser = default!;

    public async Task InitializeAsync()
    {
        _writer = await StreamingWriterStandIn.StartAsync();
        _app = new HubApp(Writer(_writer));
        _app.Images.OpenFully();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Browser.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
    }

    [Fact]
    public async Task The_draft_shows_while_the_writer_is_still_streaming_it()
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _app.BaseUrl, ViewportSize = new ViewportSize { Width = 360, Height = 800 } });
        context.SetDefaultTimeout(20_000);
        Assertions.SetDefaultExpectTimeout(20_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) =>
        {
            // Any console error fails the test: the Hub's CSP no longer refuses htmx's indicator and the favicon exists.
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };

        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        var task = await tasks.CreatePostAsync("Write about rye bread", variations: 1);
        var draft = page.Locator("#draft-live .draft-text");

        // The first half is on the page while the writer holds back the second.
        await Expect(draft).ToContainTextAsync("This part arrives while the model is still writing.");
        await task.WaitForStatusAsync("writing");
        await Expect(draft).Not.ToContainTextAsync("The second half");
        await Expect(page.Locator("#draft-live")).ToContainTextAsync("Being written");
        // The streamed draft stays within 360 px (a long line wraps rather than pushing the page sideways).
        var right = await page.EvaluateAsync<double>("document.querySelector('#draft-live').getBoundingClientRect().right");
        var scroll = await page.EvaluateAsync<double>("document.querySelector('#draft-live .draft-text').scrollWidth - document.querySelector('#draft-live .draft-text').clientWidth");
        Assert.True(right <= 360, $"the streamed draft reaches {right} px");
        Assert.Equal(0, scroll);
        await Browser.ScreenshotAsync(page, this is AnthropicStreamingDraftTests ? "61-draft-streaming-anthropic-360" : "60-draft-streaming-360");

        _writer.GoOn.TrySetResult();
        await task.WaitForStatusAsync("awaiting_approval");
        await Expect(page.Locator("#draft-live")).ToHaveCountAsync(0);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    [Fact]
    public async Task A_page_opened_after_the_first_pieces_were_written_shows_the_draft_so_far()
    {
        // Found by a full-suite run: pieces streamed before a page subscribed were never sent again, so a page
        // that opened (or reloaded) late showed an empty box until the writer's next piece.
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _app.BaseUrl, ViewportSize = new ViewportSize { Width = 360, Height = 800 } });
        context.SetDefaultTimeout(20_000);
        Assertions.SetDefaultExpectTimeout(20_000);
        var page = await context.NewPageAsync();
        var tasks = await new LoginPage(page).LogInAsync(HubApp.Password);
        await tasks.CreatePostAsync("Write about spelt bread", variations: 1);
        // The first page seeing the first half is the proof that it was published before the second page subscribes.
        await Expect(page.Locator("#draft-live .draft-text")).ToContainTextAsync("This part arrives while the model is still writing.");

        var late = await context.NewPageAsync();
        await late.GotoAsync(page.Url);
        await Expect(late.Locator("#draft-live .draft-text")).ToContainTextAsync("This part arrives while the model is still writing.");
        await Expect(late.Locator("#draft-live .draft-text")).Not.ToContainTextAsync("The second half");

        _writer.GoOn.TrySetResult();
        await Expect(late.Locator("#draft-live")).ToHaveCountAsync(0);
    }

    public async Task DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
        await _app.DisposeAsync();
        await _writer.DisposeAsync();
    }
}
