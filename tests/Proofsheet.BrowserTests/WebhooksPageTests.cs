using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Proofsheet.BrowserTests.Infrastructure;
using Proofsheet.BrowserTests.Pages;
using Proofsheet.Data;
using Proofsheet.Webhooks;
using static Microsoft.Playwright.Assertions;

namespace Proofsheet.BrowserTests;

/// <summary>A notification that gave up is shown in the Hub and sent again with its button, on a phone-sized screen.</summary>
public sealed class WebhooksPageTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task A_dead_delivery_is_listed_and_redelivered_with_the_same_payload()
    {
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var receiver = await StartReceiverAsync(async request =>
        {
            using var reader = new StreamReader(request.Body);
            received.TrySetResult(await reader.ReadToEndAsync());
        });
        var dead = new WebhookDelivery
        {
            Id = Ids.New(), Url = receiver.Url + "/hook?token=kept-out-of-the-page", Event = WebhookOutbox.PostPublished,
            Payload = """{"event":"post.published","note":"from the browser test"}""", Attempts = 15,
            LastError = "The receiver answered 503 Service Unavailable", CreatedAt = DateTime.UtcNow.AddDays(-2),
        };
        var delivered = new WebhookDelivery
        {
            Id = Ids.New(), Url = receiver.Url + "/hook", Event = WebhookOutbox.PostPublished, Payload = "{}", Attempts = 1,
            DeliveredAt = DateTime.UtcNow.AddDays(-1), CreatedAt = DateTime.UtcNow.AddDays(-1),
        };
        await using (var db = await browser.App.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            db.WebhookDeliveries.AddRange(dead, delivered);
            await db.SaveChangesAsync();
        }

        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                errors.Add($"{response.Status} {response.Url}");
            }
        };
        await page.SetViewportSizeAsync(360, 800);
        await new LoginPage(page).LogInAsync(HubApp.Password);
        await page.GotoAsync("/hub/health");
        await page.GetByRole(AriaRole.Link, new() { Name = "Notifications to webhook receivers" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/hub/webhooks$"));
        var item = page.Locator(".webhook");
        await Expect(item).ToHaveCountAsync(1);
        await Expect(item).ToContainTextAsync("The receiver answered 503");
        await Expect(item).Not.ToContainTextAsync("kept-out-of-the-page"); // a receiver's URL may carry a token
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"), "the page scrolls sideways at 360 px");
        await Browser.ScreenshotAsync(page, "20-webhooks-dead-360");

        // Keyboard: the button is reachable and works with Enter.
        await item.GetByRole(AriaRole.Button, new() { Name = "Redeliver" }).FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator(".notice")).ToHaveTextAsync("The notification is queued and goes out now.");
        Assert.Equal(dead.Payload, await received.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        await Browser.ScreenshotAsync(page, "21-webhooks-redelivered-360");
        await page.SetViewportSizeAsync(1280, 900);
        await Browser.ScreenshotAsync(page, "22-webhooks-1280");

        // A post without the form's antiforgery token is refused.
        var refused = await page.APIRequest.PostAsync($"/hub/webhooks/{delivered.Id}/redeliver", new() { MaxRedirects = 0 });
        Assert.Equal(400, refused.Status);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    private static async Task<Receiver> StartReceiverAsync(Func<HttpRequest, Task> onPost)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            await onPost(request);
            return Results.Ok();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Receiver(app, address.TrimEnd('/'));
    }

    private sealed record Receiver(WebApplication App, string Url) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
