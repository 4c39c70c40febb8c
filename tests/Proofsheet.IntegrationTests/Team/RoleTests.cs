using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.People;

namespace Proofsheet.IntegrationTests.Team;

/// <summary>
/// The role table, route by route, from the app's own route list. A route the table below does not
/// name fails the test: whoever adds a route says here who may use it (docs/team.md has the table).
/// </summary>
public sealed class RoleTests : IAsyncLifetime
{
    private const string AdminPassword = "the first admin's password";
    private const string NoSuchId = "01a200f548c1781291f60471390fd8db";

    /// <summary>Who may use each route. Anyone: no sign-in; Member: every role; Assigned: editors, admins, and a
    /// reviewer only on a task assigned to them; Editor: editors and admins; Admin: admins only.</summary>
    private static readonly Dictionary<string, Access> Table = new(StringComparer.Ordinal)
    {
        // The public site, published posts, health, the API description.
        ["GET /"] = Access.Anyone,
        ["GET /posts/{slug}"] = Access.Anyone,
        ["GET /feed.xml"] = Access.Anyone,
        ["GET /sitemap.xml"] = Access.Anyone,
        ["GET /robots.txt"] = Access.Anyone,
        ["GET /favicon.ico"] = Access.Anyone,
        ["GET /api/posts"] = Access.Anyone,
        ["GET /api/posts/{slug}"] = Access.Anyone,
        ["GET /health/live"] = Access.Anyone,
        ["GET /health/ready"] = Access.Anyone,
        ["GET /openapi/{documentName}.json"] = Access.Anyone,
        ["GET /hub/login"] = Access.Anyone,
        ["POST /hub/login"] = Access.Anyone,
        ["GET /hub/invite/{token}"] = Access.Anyone,
        // A review link's page: the token is the only key, and it opens nothing else (ReviewLinkTests).
        ["GET /review/{token}"] = Access.Anyone,
        ["POST /review/{token}/approve"] = Access.Anyone,
        ["POST /review/{token}/reject"] = Access.Anyone,
        ["GET /review/{token}/approve"] = Access.Anyone,
        ["GET /review/{token}/reject"] = Access.Anyone,
        ["GET /review/{token}/images/{imageId}/thumb"] = Access.Anyone,
        ["POST /hub/invite/{token}"] = Access.Anyone,
        // Any signed-in person: reading, comments, stars, their own account.
        ["GET /metrics"] = Access.Member,
        ["GET /hub"] = Access.Member,
        ["POST /hub/logout"] = Access.Member,
        ["GET /hub/tasks"] = Access.Member,
        ["GET /hub/queue"] = Access.Member,
        ["GET /hub/queue/rows"] = Access.Member,
        ["GET /hub/tasks/{id}"] = Access.Member,
        ["GET /hub/tasks/{id}/live"] = Access.Member,
        ["GET /hub/tasks/{id}/sheet"] = Access.Member,
        ["GET /hub/tasks/{id}/events"] = Access.Member,
        ["GET /hub/tasks/{id}/edit"] = Access.Member,
        ["GET /hub/tasks/{id}/select"] = Access.Member,
        ["GET /hub/tasks/{id}/more"] = Access.Member,
        ["GET /hub/tasks/{id}/approve"] = Access.Member,
        ["GET /hub/tasks/{id}/reject"] = Access.Member,
        ["GET /hub/tasks/{id}/retry"] = Access.Member,
        ["GET /hub/tasks/{id}/cancel"] = Access.Member,
        ["GET /hub/tasks/{id}/unpublish"] = Access.Member,
        ["GET /hub/tasks/{id}/reopen"] = Access.Member,
        ["GET /hub/tasks/{id}/assign"] = Access.Member,
        ["GET /hub/tasks/{id}/comments"] = Access.Member,
        ["GET /hub/tasks/{id}/review-links"] = Access.Member,
        ["GET /hub/tasks/{id}/review-links/{linkId}/revoke"] = Access.Member,
        ["GET /hub/tasks/{id}/schedule"] = Access.Member,
        ["GET /hub/tasks/{id}/unschedule"] = Access.Member,
        ["POST /hub/tasks/{id}/comments"] = Access.Member,
        ["GET /hub/gallery"] = Access.Member,
        ["GET /hub/posts"] = Access.Member,
        ["GET /hub/images/{id}/file"] = Access.Member,
        ["GET /hub/images/{id}/thumb"] = Access.Member,
        ["GET /hub/images/{id}/large"] = Access.Member,
        ["POST /hub/images/{id}/rating"] = Access.Member,
        ["GET /hub/next"] = Access.Member,
        ["GET /hub/prev"] = Access.Member,
        ["GET /hub/account"] = Access.Member,
        ["POST /hub/account/password"] = Access.Member,
        ["POST /hub/account/notifications"] = Access.Member,
        ["POST /hub/account/keys"] = Access.Member,
        ["POST /hub/account/keys/{id}/revoke"] = Access.Member,
        ["POST /hub/account/sessions/revoke"] = Access.Member,
        ["GET /api/tasks"] = Access.Member,
        ["GET /api/tasks/{id}"] = Access.Member,
        ["GET /api/tasks/{id}/history"] = Access.Member,
        ["GET /api/tasks/{id}/events"] = Access.Member,
        ["POST /api/tasks/{id}/comments"] = Access.Member,
        ["GET /api/media/images"] = Access.Member,
        ["GET /api/media/images/{id}"] = Access.Member,
        ["GET /api/media/images/{id}/file"] = Access.Member,
        ["POST /api/media/images/{id}/rating"] = Access.Member,
        // Deciding: editors and admins, and the reviewer the task is assigned to.
        ["POST /hub/tasks/{id}/select"] = Access.Assigned,
        ["POST /hub/tasks/{id}/approve"] = Access.Assigned,
        ["POST /hub/tasks/{id}/reject"] = Access.Assigned,
        ["POST /api/tasks/{id}/select"] = Access.Assigned,
        ["POST /api/tasks/{id}/approve"] = Access.Assigned,
        ["POST /api/tasks/{id}/reject"] = Access.Assigned,
        // Making and changing: editors and admins.
        ["POST /hub/tasks"] = Access.Editor,
        ["POST /hub/tasks/{id}/edit"] = Access.Editor,
        ["POST /hub/tasks/{id}/more"] = Access.Editor,
        ["POST /hub/tasks/{id}/retry"] = Access.Editor,
        ["POST /hub/tasks/{id}/cancel"] = Access.Editor,
        // Review links hand approval to someone outside: editors make and revoke them; scheduling is editors' too.
        ["POST /hub/tasks/{id}/review-links"] = Access.Editor,
        ["POST /hub/tasks/{id}/review-links/{linkId}/revoke"] = Access.Editor,
        ["POST /hub/tasks/{id}/schedule"] = Access.Editor,
        ["POST /hub/tasks/{id}/unschedule"] = Access.Editor,
        ["POST /hub/images/{id}/focus"] = Access.Editor,
        ["POST /api/tasks/{id}/review-links"] = Access.Editor,
        ["GET /api/tasks/{id}/review-links"] = Access.Editor,
        ["DELETE /api/tasks/{id}/review-links/{linkId}"] = Access.Editor,
        ["PUT /api/tasks/{id}/schedule"] = Access.Editor,
        ["DELETE /api/tasks/{id}/schedule"] = Access.Editor,
        ["POST /hub/tasks/{id}/unpublish"] = Access.Editor,
        ["POST /hub/tasks/{id}/reopen"] = Access.Editor,
        ["POST /hub/tasks/{id}/assign"] = Access.Editor,
        ["POST /hub/images/{id}/trash"] = Access.Editor,
        ["POST /hub/images/{id}/restore"] = Access.Editor,
        ["POST /hub/images/{id}/more"] = Access.Editor,
        ["POST /hub/images/{id}/same-seed"] = Access.Editor,
        ["POST /hub/queue/bulk"] = Access.Editor,
        ["GET /hub/health"] = Access.Editor,
        ["POST /api/tasks"] = Access.Editor,
        ["PATCH /api/tasks/{id}"] = Access.Editor,
        ["POST /api/tasks/{id}/cancel"] = Access.Editor,
        ["POST /api/tasks/{id}/retry"] = Access.Editor,
        ["POST /api/tasks/{id}/unpublish"] = Access.Editor,
        ["POST /api/tasks/{id}/reopen"] = Access.Editor,
        ["POST /api/tasks/{id}/generate-more"] = Access.Editor,
        ["POST /api/tasks/{id}/assign"] = Access.Editor,
        ["POST /api/media/generate-image"] = Access.Editor,
        ["POST /api/media/generate-image-variations"] = Access.Editor,
        ["POST /api/media/approve-image"] = Access.Editor,
        ["DELETE /api/media/images/{id}"] = Access.Editor,
        ["PUT /api/media/images/{id}/focus"] = Access.Editor,
        ["POST /api/media/images/{id}/restore"] = Access.Editor,
        ["POST /api/media/images/{id}/more-like-this"] = Access.Editor,
        // People and settings: admins.
        ["GET /hub/people"] = Access.Admin,
        ["POST /hub/people/invite"] = Access.Admin,
        ["POST /hub/people/{id}/role"] = Access.Admin,
        ["POST /hub/people/{id}/access"] = Access.Admin,
        ["POST /hub/people/{id}/sessions/revoke"] = Access.Admin,
        ["GET /hub/webhooks"] = Access.Admin,
        ["POST /hub/webhooks/{id}/redeliver"] = Access.Admin,
    };

    private TestApp _app = null!;
    private Member _admin = null!;
    private Member _editor = null!;
    private Member _reviewer = null!;

    public async Task InitializeAsync()
    {
        _app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Auth:AdminPassword"] = AdminPassword });
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
        _app.DeleteFolder();
    }

    /// <summary>Every route the app maps: method and pattern, read from the app itself.</summary>
    private List<string> Routes() =>
        _app.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            // The files in wwwroot (MapStaticAssets: each file, its fingerprinted name and compressed copies) are
            // public by nature; StaticAssetTests holds them to that. Every other route is in the table.
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.StaticAssets.StaticAssetDescriptor>() is null)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => $"{m} {Pattern(e)}"))
            .Distinct()
            .ToList();

    private static string Pattern(RouteEndpoint e)
    {
        var raw = "/" + (e.RoutePattern.RawText ?? "").Trim('/');
        return raw;
    }

    [Fact]
    public void Every_route_is_in_the_role_table()
    {
        var routes = Routes();
        var unclassified = routes.Where(r => !Table.ContainsKey(r)).ToList();
        Assert.True(unclassified.Count == 0,
            $"Say who may use each new route in RoleTests.Table (and give it .Allow(Access.…) in the app): {string.Join(", ", unclassified)}");
        var gone = Table.Keys.Except(routes).ToList();
        Assert.True(gone.Count == 0, $"RoleTests.Table names routes the app no longer has: {string.Join(", ", gone)}");
    }

    [Fact]
    public async Task Each_role_may_use_exactly_what_the_table_says_on_every_hub_and_api_route()
    {
        var checkedRoutes = 0;
        foreach (var route in Routes().Where(Table.ContainsKey))
        {
            var level = Table[route];
            var (method, pattern) = (route[..route.IndexOf(' ', StringComparison.Ordinal)], route[(route.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
            var hub = pattern.StartsWith("/hub", StringComparison.Ordinal) || pattern == "/metrics";
            if (!hub && !pattern.StartsWith("/api", StringComparison.Ordinal))
            {
                continue; // the public site: no role involved
            }
            var path = pattern.Replace("{id}", NoSuchId, StringComparison.Ordinal).Replace("{slug}", "some-post", StringComparison.Ordinal)
                .Replace("{token}", "no-such-invitation", StringComparison.Ordinal);
            foreach (var (role, member) in new[] { (Roles.Admin, _admin), (Roles.Editor, _editor), (Roles.Reviewer, _reviewer) })
            {
                var client = hub ? member.Hub : member.Api;
                using var response = await client.SendAsync(Request(method, path, hub));
                var status = (int)response.StatusCode;
                var allowed = level == Access.Assigned ? role != Roles.Reviewer : AccessRules.Allows(level, role);
                if (allowed)
                {
                    Assert.True(status is not (401 or 403) && response.Headers.Location?.OriginalString.Contains("/hub/login", StringComparison.Ordinal) != true,
                        $"{role} should be able to use {route} but got {status} {response.Headers.Location}");
                }
                else
                {
                    Assert.True(status == 403, $"{role} must get 403 from {route} but got {status}");
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                }
            }
            if (level != Access.Anyone)
            {
                // No sign-in at all: 401 from the API, the login page from the Hub, never the route's work.
                using var anonymous = _app.CreateClient(new() { AllowAutoRedirect = false });
                using var response = await anonymous.SendAsync(Request(method, path, hub));
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized
                    || response.Headers.Location?.OriginalString.Contains("/hub/login", StringComparison.Ordinal) == true,
                    $"{route} without signing in answered {(int)response.StatusCode}");
            }
            checkedRoutes++;
        }
        Assert.True(checkedRoutes > 90, $"only {checkedRoutes} Hub and API routes were checked");
    }

    /// <summary>An empty form (Hub) or JSON body (API): enough to reach the route, never enough to change anything.</summary>
    private static HttpRequestMessage Request(string method, string path, bool hub) => new(new HttpMethod(method), path)
    {
        Content = method is "GET" or "DELETE" ? null
            : hub ? new FormUrlEncodedContent([])
            : new StringContent("{}", Encoding.UTF8, "application/json"),
    };
}
