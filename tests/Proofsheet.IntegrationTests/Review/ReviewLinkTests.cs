using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Review;

/// <summary>
/// Review links (docs/workflow.md, "Review links"): made over the API, used with no account, once;
/// an expired or revoked link, and any link on any other route, grants nothing.
/// </summary>
public abstract partial class ReviewLinkTests(TestDatabase database)
{
    private Task<TestApp> StartAsync(FakeTimeProvider clock) =>
        TestApp.StartAsync(database, services: s => s.AddSingleton<TimeProvider>(clock));

    private static async Task<(string Id, List<JsonElement> Images)> AwaitingTaskAsync(TestApp app, string topic)
    {
        var id = (await app.CreateTaskAsync(topic, 2)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        return (id, task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList());
    }

    private static async Task<(string Url, string Token, JsonElement Body)> MakeLinkAsync(TestApp app, string taskId, string label, int hours = 72)
    {
        using var api = app.Api();
        var response = await api.PostAsJsonAsync($"/api/tasks/{taskId}/review-links", new { expires_in_hours = hours, label });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var url = body.GetProperty("url").GetString()!;
        return (url, url[(url.LastIndexOf('/') + 1)..], body);
    }

    /// <summary>A browser without any Hub session or key: cookies kept (the form's antiforgery cookie), redirects not followed.</summary>
    private static HttpClient Stranger(TestApp app) => app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    private static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string page, string action, Dictionary<string, string> fields) =>
        await client.PostAsync(page + "/" + action, new FormUrlEncodedContent(await FormAsync(client, page, fields)));

    /// <summary>Opens the page, as a person does before pressing anything: the fields with its form token.</summary>
    private static async Task<Dictionary<string, string>> FormAsync(HttpClient client, string page, Dictionary<string, string> fields)
    {
        var html = await client.GetStringAsync(page);
        var csrf = CsrfInput().Match(html);
        Assert.True(csrf.Success, "the page has no form token");
        fields[csrf.Groups[1].Value] = WebUtility.HtmlDecode(csrf.Groups[2].Value);
        return fields;
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfInput();

    [Fact]
    public async Task A_link_lets_a_stranger_choose_and_approve_once_and_keeps_only_a_hash()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        var (id, images) = await AwaitingTaskAsync(app, "Write about Sourdough Starters");
        var (other, otherImages) = await AwaitingTaskAsync(app, "Write about Rye Bread");
        var (url, token, body) = await MakeLinkAsync(app, id, "Dr. Rivera");
        Assert.Matches("^http://[^/]+/review/[A-Za-z0-9_-]{43}$", url);
        Assert.Equal(clock.GetUtcNow().UtcDateTime.AddHours(72), body.GetProperty("expires_at").GetDateTime().ToUniversalTime(), TimeSpan.FromSeconds(1));

        // Only the token's SHA-256 is stored.
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            var row = await db.ReviewLinks.SingleAsync();
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token))), row.TokenHash);
            Assert.DoesNotContain(token, JsonSerializer.Serialize(row), StringComparison.Ordinal);
        }

        using var stranger = Stranger(app);
        var page = new Uri(url).AbsolutePath;
        var html = WebUtility.HtmlDecode(await stranger.GetStringAsync(page));
        Assert.Contains("Sourdough Starters", html, StringComparison.Ordinal);
        Assert.Contains("Dr. Rivera", html, StringComparison.Ordinal);
        foreach (var image in images)
        {
            var thumb = await stranger.GetAsync($"{page}/images/{image.GetProperty("image_id").GetString()}/thumb");
            Assert.Equal(HttpStatusCode.OK, thumb.StatusCode);
            Assert.Equal("image/webp", thumb.Content.Headers.ContentType!.MediaType);
        }
        // Another task's image, through this task's link: nothing.
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"{page}/images/{otherImages[0].GetProperty("image_id").GetString()}/thumb")).StatusCode);
        // The Hub's own image route wants a session.
        Assert.NotEqual(HttpStatusCode.OK, (await stranger.GetAsync($"/hub/images/{images[0].GetProperty("image_id").GetString()}/thumb")).StatusCode);

        // A form without its token changes nothing.
        var forged = await stranger.PostAsync(page + "/approve", new FormUrlEncodedContent(new Dictionary<string, string> { ["image_id"] = images[1].GetProperty("image_id").GetString()! }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("awaiting_approval", (await app.GetTaskAsync(id)).GetProperty("status").GetString());

        var approved = await PostFormAsync(stranger, page, "approve", new() { ["image_id"] = images[1].GetProperty("image_id").GetString()! });
        Assert.Equal(HttpStatusCode.Redirect, approved.StatusCode);
        var task = await app.WaitForStatusAsync(id, "published");
        Assert.Equal(2, task.GetProperty("metadata").GetProperty("selected_image_index").GetInt32());
        using (var api = app.Api())
        {
            var history = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
            Assert.Contains(history.EnumerateArray(), e => e.GetProperty("kind").GetString() == "approved" && e.GetProperty("actor").GetString() == "via review link (Dr. Rivera)");
            var links = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/review-links");
            var link = Assert.Single(links.EnumerateArray());
            Assert.Equal(("used", "approved"), (link.GetProperty("state").GetString(), link.GetProperty("decision").GetString()));
            Assert.False(link.TryGetProperty("url", out _));
        }

        // The same link again: already approved, and no second decision.
        html = WebUtility.HtmlDecode(await stranger.GetStringAsync(page));
        Assert.Contains("Already approved", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<form", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"{page}/images/{images[0].GetProperty("image_id").GetString()}/thumb")).StatusCode);
        Assert.Equal("awaiting_approval", (await app.GetTaskAsync(other)).GetProperty("status").GetString());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Expired_revoked_and_unknown_links_show_a_plain_page_and_grant_nothing()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        var (id, images) = await AwaitingTaskAsync(app, "Write about Pickled Onions");
        var (expiring, expiringToken, _) = await MakeLinkAsync(app, id, "short", hours: 1);
        var (revoking, revokingToken, made) = await MakeLinkAsync(app, id, "withdrawn");
        using var api = app.Api();
        var revoked = await api.DeleteAsync($"/api/tasks/{id}/review-links/{made.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal("revoked", (await revoked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        clock.Advance(TimeSpan.FromHours(1));

        using var stranger = Stranger(app);
        var fake = "A" + expiringToken[1..] == expiringToken ? "B" + expiringToken[1..] : "A" + expiringToken[1..];
        foreach (var path in new[] { new Uri(expiring).AbsolutePath, new Uri(revoking).AbsolutePath, $"/review/{fake}", "/review/short" })
        {
            var response = await stranger.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var html = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
            Assert.Contains("This review link does not work", html, StringComparison.Ordinal);
            Assert.DoesNotContain("Pickled Onions", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<form", html, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"{path}/images/{images[0].GetProperty("image_id").GetString()}/thumb")).StatusCode);
            var post = await stranger.PostAsync(path + "/approve", new FormUrlEncodedContent(new Dictionary<string, string> { ["image_id"] = images[0].GetProperty("image_id").GetString()! }));
            Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        }
        Assert.Equal("awaiting_approval", (await app.GetTaskAsync(id)).GetProperty("status").GetString());
        _ = revokingToken;
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_link_token_opens_no_other_route_of_the_app()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        var (id, images) = await AwaitingTaskAsync(app, "Write about Jam Jars");
        var (_, token, made) = await MakeLinkAsync(app, id, "route walker");
        var values = new Dictionary<string, string>
        {
            ["id"] = id, ["imageId"] = images[0].GetProperty("image_id").GetString()!, ["linkId"] = made.GetProperty("id").GetString()!,
            ["token"] = token, ["slug"] = "jam-jars", ["key"] = token, ["deliveryId"] = id,
        };

        // Every route that needs a key or a Hub session, from the app's own list, tried with the token every way a credential travels.
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IAuthorizeData>() is not null && e.Metadata.GetMetadata<IAllowAnonymous>() is null)
            .ToList();
        Assert.True(endpoints.Count > 40, $"only {endpoints.Count} protected routes found");
        var tried = 0;
        foreach (var endpoint in endpoints)
        {
            var path = "/" + string.Join('/', endpoint.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
            {
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart parameter => values.GetValueOrDefault(parameter.Name, id),
                _ => "",
            }))));
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                foreach (var way in new Action<HttpRequestMessage>[]
                         {
                             r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token),
                             r => r.Headers.Add("X-Api-Key", token),
                             r => r.Headers.Add("Cookie", $"token={token}; review={token}"),
                             r => r.RequestUri = new Uri(r.RequestUri!.OriginalString + "?token=" + token, UriKind.Relative),
                         })
                {
                    using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
                    using var request = new HttpRequestMessage(new HttpMethod(method), path);
                    if (method is "POST" or "PUT" or "PATCH")
                    {
                        request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                    }
                    way(request);
                    using var response = await client.SendAsync(request);
                    var status = (int)response.StatusCode;
                    var toLogin = response.Headers.Location?.OriginalString.Contains("/hub/login", StringComparison.Ordinal) == true;
                    Assert.True(status is 401 or 403 || toLogin, $"{method} {path} answered {status} to a review link's token");
                    tried++;
                }
            }
        }
        Assert.Equal("awaiting_approval", (await app.GetTaskAsync(id)).GetProperty("status").GetString());
        Assert.True(tried > 160);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Bad_requests_unknown_ids_wrong_states_and_two_uses_at_once()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(clock);
        using var api = app.Api();
        var (id, images) = await AwaitingTaskAsync(app, "Write about Honey Cakes");
        foreach (var bad in new object[] { new { expires_in_hours = 0 }, new { expires_in_hours = 721 }, new { label = "no hours" }, new { expires_in_hours = 2, label = new string('x', 81) }, new { expires_in_hours = 2, label = " " } })
        {
            var response = await api.PostAsJsonAsync($"/api/tasks/{id}/review-links", bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        }
        Assert.Empty((await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/review-links")).EnumerateArray());
        const string unknown = "0123456789abcdef0123456789abcdef";
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsJsonAsync($"/api/tasks/{unknown}/review-links", new { expires_in_hours = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsJsonAsync("/api/tasks/nope/review-links", new { expires_in_hours = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"/api/tasks/{unknown}/review-links")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.DeleteAsync($"/api/tasks/{id}/review-links/{unknown}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.DeleteAsync($"/api/tasks/{id}/review-links/nope")).StatusCode);

        // Two tabs press Approve at once with different images: one decision.
        var (url, _, made) = await MakeLinkAsync(app, id, "two tabs");
        var page = new Uri(url).AbsolutePath;
        using var first = Stranger(app);
        using var second = Stranger(app);
        // Both tabs have the page open before either presses (opening it inside the race let one tab's approval
        // finish before the other tab had loaded the page, which then showed "Already approved": failed once).
        var firstForm = await FormAsync(first, page, new() { ["image_id"] = images[0].GetProperty("image_id").GetString()! });
        var secondForm = await FormAsync(second, page, new() { ["image_id"] = images[1].GetProperty("image_id").GetString()! });
        var answers = await Task.WhenAll(
            first.PostAsync(page + "/approve", new FormUrlEncodedContent(firstForm)),
            second.PostAsync(page + "/approve", new FormUrlEncodedContent(secondForm)));
        Assert.Equal([HttpStatusCode.Redirect, HttpStatusCode.Conflict], answers.Select(a => a.StatusCode).Order());
        await app.WaitForStatusAsync(id, "published");
        var history = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        Assert.Single(history.EnumerateArray(), e => e.GetProperty("kind").GetString() == "approved");

        // Nothing left to review: no new link, and the used one stays used.
        Assert.Equal(HttpStatusCode.Conflict, (await api.PostAsJsonAsync($"/api/tasks/{id}/review-links", new { expires_in_hours = 2 })).StatusCode);
        var revoked = await api.DeleteAsync($"/api/tasks/{id}/review-links/{made.GetProperty("id").GetString()}");
        Assert.Equal("revoked", (await revoked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());

        // A rejection through a link ends the task, with the reason, in the link's name.
        var (rejectId, _) = await AwaitingTaskAsync(app, "Write about Fig Rolls");
        var (rejectUrl, _, _) = await MakeLinkAsync(app, rejectId, "editor friend");
        using var third = Stranger(app);
        var empty = await PostFormAsync(third, new Uri(rejectUrl).AbsolutePath, "reject", new() { ["reason"] = "  " });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        var rejected = await PostFormAsync(third, new Uri(rejectUrl).AbsolutePath, "reject", new() { ["reason"] = "The figs look like dates" });
        Assert.Equal(HttpStatusCode.Redirect, rejected.StatusCode);
        await app.WaitForStatusAsync(rejectId, "rejected");
        Assert.Contains("Already rejected", await third.GetStringAsync(new Uri(rejectUrl).AbsolutePath), StringComparison.Ordinal);
        var rejectHistory = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{rejectId}/history");
        Assert.Contains(rejectHistory.EnumerateArray(), e => e.GetProperty("kind").GetString() == "rejected"
            && e.GetProperty("actor").GetString() == "via review link (editor friend)" && e.GetProperty("detail").GetString() == "The figs look like dates");
        app.DeleteFolder();
    }
}

public sealed class SqliteReviewLinkTests() : ReviewLinkTests(new SqliteDatabase());

public sealed class PostgresReviewLinkTests() : ReviewLinkTests(new PostgresDatabase());
