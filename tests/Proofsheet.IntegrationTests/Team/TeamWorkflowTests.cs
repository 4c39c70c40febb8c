using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.People;

namespace Proofsheet.IntegrationTests.Team;

/// <summary>Three people on one task: who asked, who assigned, who commented and approved, each named in the history.</summary>
public sealed class TeamWorkflowTests : IAsyncLifetime
{
    private const string AdminPassword = "the first admin's password";
    private TestApp _app = null!;
    private Member _admin = null!;
    private Member _editor = null!;
    private Member _reviewer = null!;
    private StandInServer _receiver = null!;
    private readonly System.Threading.Channels.Channel<JsonElement> _webhooks = System.Threading.Channels.Channel.CreateUnbounded<JsonElement>();

    public async Task InitializeAsync()
    {
        _receiver = await StandInServer.StartAsync(app => app.MapPost("/hooks", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
        {
            _webhooks.Writer.TryWrite(await JsonSerializer.DeserializeAsync<JsonElement>(request.Body));
            return Microsoft.AspNetCore.Http.Results.Ok();
        }));
        _app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Auth:AdminPassword"] = AdminPassword,
            ["Webhooks:Urls"] = _receiver.BaseUrl + "/hooks",
            ["Webhooks:Secret"] = "a-webhook-secret-for-tests",
        });
        _admin = await Infrastructure.Team.AdminAsync(_app, AdminPassword);
        _editor = await Infrastructure.Team.JoinAsync(_app, "Edith Editor", "edith@example.com", Roles.Editor);
        _reviewer = await Infrastructure.Team.JoinAsync(_app, "Rita Reviewer", "rita@example.com", Roles.Reviewer);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        _editor.Dispose();
        _reviewer.Dispose();
        await _app.DisposeAsync();
        await _receiver.DisposeAsync();
        _app.DeleteFolder();
    }

    [Fact]
    public async Task History_of_a_task_walked_through_by_three_people_names_each_of_them()
    {
        // The editor asks for the post with her own API key.
        var created = await (await _editor.Api.PostAsJsonAsync("/api/tasks", new { topic = "Write about Team Work", num_variations = 2 }))
            .Content.ReadFromJsonAsync<JsonElement>(TestApp.Json);
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal(_editor.Person.Id, created.GetProperty("created_by").GetString());
        await _app.WaitForStatusAsync(id, "awaiting_approval");

        // Not assigned to the reviewer yet: she may read and comment, not decide (403, not 404).
        Assert.Equal(HttpStatusCode.OK, (await _reviewer.Api.GetAsync($"/api/tasks/{id}")).StatusCode);
        var refused = await _reviewer.Api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("assigned", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        var mine = await _reviewer.Api.GetFromJsonAsync<JsonElement>("/api/tasks?assigned=me");
        Assert.Empty(mine.GetProperty("items").EnumerateArray());

        // The admin assigns it to her in the Hub; it shows in her "assigned to me" queue.
        var assign = await Infrastructure.Team.PostFormAsync(_admin.Hub, $"/hub/tasks/{id}", $"/hub/tasks/{id}/assign",
            new() { ["person_id"] = _reviewer.Person.Id });
        Assert.Equal(HttpStatusCode.Redirect, assign.StatusCode);
        mine = await _reviewer.Api.GetFromJsonAsync<JsonElement>("/api/tasks?assigned=me");
        Assert.Equal(id, Assert.Single(mine.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        Assert.Contains($"/hub/tasks/{id}", await _reviewer.Hub.GetStringAsync("/hub/queue?mine=1"), StringComparison.Ordinal);
        Assert.DoesNotContain($"/hub/tasks/{id}", await _editor.Hub.GetStringAsync("/hub/queue?mine=1"), StringComparison.Ordinal);

        // She comments (markdown and HTML stay text) and approves in the Hub.
        var comment = "Looks good. **Bold** <script>alert(1)</script>";
        var commented = await Infrastructure.Team.PostFormAsync(_reviewer.Hub, $"/hub/tasks/{id}", $"/hub/tasks/{id}/comments", new() { ["text"] = comment });
        Assert.Equal(HttpStatusCode.Redirect, commented.StatusCode);
        var page = await _reviewer.Hub.GetStringAsync($"/hub/tasks/{id}");
        Assert.Contains("Looks good. **Bold** &lt;script&gt;alert(1)&lt;/script&gt;", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert(1)", page, StringComparison.Ordinal);
        var image = (await _app.GetTaskAsync(id)).GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("image_id").GetString()!;
        var approved = await Infrastructure.Team.PostFormAsync(_reviewer.Hub, $"/hub/tasks/{id}", $"/hub/tasks/{id}/approve", new() { ["image_id"] = image });
        Assert.Equal(HttpStatusCode.Redirect, approved.StatusCode);
        await _app.WaitForStatusAsync(id, "published");

        var history = await _admin.Api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history", TestApp.Json);
        var events = history.EnumerateArray()
            .Select(e => (Kind: e.GetProperty("kind").GetString(), Actor: e.GetProperty("actor").GetString(), Detail: e.GetProperty("detail").ToString())).ToList();
        Assert.Contains(events, e => e.Kind == "created" && e.Actor == "Edith Editor via API key (tests)");
        Assert.Contains(events, e => e.Kind == "assigned" && e.Actor == "Admin" && e.Detail == "Assigned to Rita Reviewer");
        Assert.Contains(events, e => e.Kind == "comment" && e.Actor == "Rita Reviewer" && e.Detail == comment);
        Assert.Contains(events, e => e.Kind == "approved" && e.Actor == "Rita Reviewer");
        Assert.DoesNotContain(events, e => e.Actor is "hub:admin" or "api");

        // The post.published webhook names who approved it.
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // The task.* events (awaiting approval) come first; the one that says who approved is the publish.
        var published = await _webhooks.Reader.ReadAsync(wait.Token);
        while (published.GetProperty("event").GetString() != "post.published")
        {
            published = await _webhooks.Reader.ReadAsync(wait.Token);
        }
        Assert.Equal("Rita Reviewer", published.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task A_revoked_session_or_removed_person_is_out_at_once_and_a_changed_password_signs_out_the_other_browsers()
    {
        Assert.Equal(HttpStatusCode.OK, (await _editor.Hub.GetAsync("/hub/tasks")).StatusCode);
        using var second = await Infrastructure.Team.HubAsync(_app, "edith@example.com", _editor.Password);

        // She changes her password in the first browser: the second is signed out, the first stays.
        var changed = await Infrastructure.Team.PostFormAsync(_editor.Hub, "/hub/account", "/hub/account/password", new()
        {
            ["current_password"] = _editor.Password, ["new_password"] = "a brand new password", ["confirm_password"] = "a brand new password",
        });
        Assert.Equal("/hub/account?done=password", changed.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await _editor.Hub.GetAsync("/hub/tasks")).StatusCode);
        Assert.Contains("/hub/login", (await second.GetAsync("/hub/tasks")).Headers.Location?.OriginalString, StringComparison.Ordinal);
        var people = _app.Services.GetRequiredService<PeopleStore>();
        Assert.Null(await people.VerifyAsync("edith@example.com", _editor.Password, CancellationToken.None));
        Assert.NotNull(await people.VerifyAsync("edith@example.com", "a brand new password", CancellationToken.None));

        // The admin signs her out everywhere: the session cookie opens nothing any more (checked in the database).
        var revoked = await Infrastructure.Team.PostFormAsync(_admin.Hub, "/hub/people", $"/hub/people/{_editor.Person.Id}/sessions/revoke", []);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Contains("/hub/login", (await _editor.Hub.GetAsync("/hub/tasks")).Headers.Location?.OriginalString, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _editor.Api.GetAsync("/api/tasks")).StatusCode);

        // Removing her access stops her API key too; giving it back restores the key.
        await Infrastructure.Team.PostFormAsync(_admin.Hub, "/hub/people", $"/hub/people/{_editor.Person.Id}/access", new() { ["access"] = "remove" });
        Assert.Equal(HttpStatusCode.Unauthorized, (await _editor.Api.GetAsync("/api/tasks")).StatusCode);
        Assert.Null(await people.VerifyAsync("edith@example.com", "a brand new password", CancellationToken.None));
        await Infrastructure.Team.PostFormAsync(_admin.Hub, "/hub/people", $"/hub/people/{_editor.Person.Id}/access", new() { ["access"] = "restore" });
        Assert.Equal(HttpStatusCode.OK, (await _editor.Api.GetAsync("/api/tasks")).StatusCode);

        // A role change applies from the next request: as a reviewer her key may no longer create tasks.
        await Infrastructure.Team.PostFormAsync(_admin.Hub, "/hub/people", $"/hub/people/{_editor.Person.Id}/role", new() { ["role"] = "reviewer" });
        Assert.Equal(HttpStatusCode.Forbidden, (await _editor.Api.PostAsJsonAsync("/api/tasks", new { topic = "Not any more" })).StatusCode);
    }

    [Fact]
    public async Task An_invitation_works_once_and_not_after_it_expires()
    {
        var made = await Infrastructure.Team.PostFormAsync(_admin.Hub, "/hub/people", "/hub/people/invite",
            new() { ["name"] = "Nina Newcomer", ["email"] = "nina@example.com", ["role"] = "reviewer" });
        var html = await made.Content.ReadAsStringAsync();
        var link = System.Text.RegularExpressions.Regex.Match(html, "value=\"(?<url>http[^\"]+/hub/invite/[^\"]+)\"").Groups["url"].Value;
        Assert.NotEmpty(link);
        var path = new Uri(link).AbsolutePath;

        using var browser = _app.CreateClient(new() { AllowAutoRedirect = false });
        Assert.Contains("Welcome, Nina Newcomer", await browser.GetStringAsync(path), StringComparison.Ordinal);
        var joined = await Infrastructure.Team.PostFormAsync(browser, path, path, new() { ["password"] = "nina's own password", ["confirm_password"] = "nina's own password" });
        Assert.Equal("/hub/tasks", joined.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/hub/tasks")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.GetAsync("/hub/people")).StatusCode);

        // Used: the link is a plain page that grants nothing.
        using var again = _app.CreateClient(new() { AllowAutoRedirect = false });
        var used = await again.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, used.StatusCode);
        Assert.Contains("expired or was used already", await used.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Expired: an invitation past its time does not open.
        var people = _app.Services.GetRequiredService<PeopleStore>();
        var (token, _) = await people.InviteAsync("Late Larry", "larry@example.com", "editor", _admin.Person.Id, CancellationToken.None);
        await using (var db = await _app.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<Proofsheet.Data.AppDbContext>>().CreateDbContextAsync())
        {
            var hash = PeopleStore.HashToken(token!);
            var expired = DateTime.UtcNow.AddMinutes(-1);
            await db.Invitations.Where(i => i.TokenHash == hash).ExecuteUpdateAsync(u => u.SetProperty(i => i.ExpiresAt, expired));
        }
        var (person, problem) = await people.AcceptAsync(token, "larry's password!", CancellationToken.None);
        Assert.Null(person);
        Assert.Contains("expired", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_task_page_offers_review_links_while_a_decision_is_open_and_keeps_showing_the_links_made()
    {
        var withLink = (await (await _editor.Api.PostAsJsonAsync("/api/tasks", new { topic = "Harbour lights", num_variations = 1 })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var without = (await (await _editor.Api.PostAsJsonAsync("/api/tasks", new { topic = "Quiet canals", num_variations = 1 })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await _app.WaitForStatusAsync(withLink, "awaiting_approval");
        await _app.WaitForStatusAsync(without, "awaiting_approval");
        var open = await _editor.Hub.GetStringAsync($"/hub/tasks/{without}");
        Assert.Contains("id=\"review-links-heading\"", open, StringComparison.Ordinal);
        Assert.Contains("review-link-form", open, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, (await _editor.Api.PostAsJsonAsync($"/api/tasks/{withLink}/review-links", new { expires_in_hours = 24, label = "Harbour master" })).StatusCode);

        // Both scheduled: no new link can be made. The one with a link still lists it; the other has no empty heading.
        var tomorrow = DateTimeOffset.UtcNow.AddDays(1).ToString("O");
        foreach (var id in new[] { withLink, without })
        {
            Assert.Equal(HttpStatusCode.OK, (await _editor.Api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1, publish_at = tomorrow })).StatusCode);
            await _app.WaitForStatusAsync(id, "scheduled");
        }
        var listed = await _editor.Hub.GetStringAsync($"/hub/tasks/{withLink}");
        Assert.Contains("Harbour master", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("review-link-form", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("review-links-heading", await _editor.Hub.GetStringAsync($"/hub/tasks/{without}"), StringComparison.Ordinal);
    }
}
