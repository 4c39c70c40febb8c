using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Auth;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.People;

namespace Proofsheet.IntegrationTests.Team;

/// <summary>
/// Two nodes on one PostgreSQL database: a session signed in on one node, revoked on the other, is
/// refused on both at once; a key made on one works on the other; a role changed on one applies on
/// the other from the next request. Nothing of it rests on a node's memory.
/// </summary>
public sealed class TeamAcrossNodesTests
{
    private const string AdminPassword = "correct horse battery";

    [Fact]
    public async Task Sessions_keys_and_roles_hold_on_every_node_at_once()
    {
        var settings = new Dictionary<string, string?> { ["Auth:AdminPassword"] = AdminPassword, ["Pipeline:LeaseDuration"] = "00:00:03" };
        await using var a = await TestApp.StartAsync(new PostgresDatabase(), settings);
        await using var b = await TestApp.StartAsync(new PostgresDatabase(), settings, sameDataAs: a);
        var people = a.Services.GetRequiredService<PeopleStore>();
        var admin = (await people.ListAsync(CancellationToken.None)).Single();
        var (token, _) = await people.InviteAsync("Edith Editor", "edith@example.com", Roles.Editor, admin.Id, CancellationToken.None);
        var (edith, _) = await b.Services.GetRequiredService<PeopleStore>().AcceptAsync(token, "edith's long password", CancellationToken.None);

        // Signed in on node A; the cookie opens node B too.
        var cookies = new Dictionary<string, string>();
        var (field, csrf) = await HiddenFieldAsync(a, cookies, "/hub/login");
        var login = await SendAsync(a, cookies, new HttpRequestMessage(HttpMethod.Post, "/hub/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { [field] = csrf, ["email"] = "edith@example.com", ["password"] = "edith's long password" }),
        });
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(b, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/tasks"))).StatusCode);

        // A key made on node B acts on node A with her role.
        var key = await b.Services.GetRequiredService<ApiKeyStore>().CreateAsync(edith!.Id, "script", CancellationToken.None);
        using var api = a.CreateClient(new() { AllowAutoRedirect = false });
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsJsonAsync("/api/tasks", new { topic = "Write about two nodes" })).StatusCode);

        // Her role lowered on node B: node A refuses her next creation.
        Assert.True(await b.Services.GetRequiredService<PeopleStore>().SetRoleAsync(edith.Id, Roles.Reviewer, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, (await api.PostAsJsonAsync("/api/tasks", new { topic = "Write about roles" })).StatusCode);

        // Signed out everywhere from node B: node A sends her cookie to the login page.
        Assert.Equal(1, await b.Services.GetRequiredService<PeopleStore>().RevokeSessionsAsync(edith.Id, null, CancellationToken.None));
        var refused = await SendAsync(a, cookies, new HttpRequestMessage(HttpMethod.Get, "/hub/tasks"));
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.Contains("/hub/login", refused.Headers.Location?.OriginalString, StringComparison.Ordinal);

        // Her key revoked on node A is refused by node B.
        var keys = await a.Services.GetRequiredService<ApiKeyStore>().ListAsync(edith.Id, false, CancellationToken.None);
        Assert.True(await a.Services.GetRequiredService<ApiKeyStore>().RevokeAsync(keys.Single().Id, edith.Id, false, CancellationToken.None));
        using var onB = b.CreateClient(new() { AllowAutoRedirect = false });
        onB.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await onB.GetAsync("/api/tasks")).StatusCode);
        a.DeleteFolder();
    }

    private static async Task<(string Name, string Value)> HiddenFieldAsync(TestApp node, Dictionary<string, string> cookies, string page)
    {
        var html = await (await SendAsync(node, cookies, new HttpRequestMessage(HttpMethod.Get, page))).Content.ReadAsStringAsync();
        var match = System.Text.RegularExpressions.Regex.Match(html, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\"");
        Assert.True(match.Success, "The page has no antiforgery field.");
        return (match.Groups[1].Value, WebUtility.HtmlDecode(match.Groups[2].Value));
    }

    private static async Task<HttpResponseMessage> SendAsync(TestApp node, Dictionary<string, string> cookies, HttpRequestMessage request)
    {
        using var client = node.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        if (cookies.Count > 0)
        {
            request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}")));
        }
        var response = await client.SendAsync(request);
        foreach (var header in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
        {
            var pair = header.Split(';')[0].Split('=', 2);
            cookies[pair[0]] = pair[1];
        }
        return response;
    }
}
