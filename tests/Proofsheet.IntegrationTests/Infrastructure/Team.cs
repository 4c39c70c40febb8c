using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Auth;
using Proofsheet.People;

namespace Proofsheet.IntegrationTests.Infrastructure;

/// <summary>One person on a test app's team: joined through a real invitation, with a Hub session and an API key of their own.</summary>
public sealed record Member(Person Person, string Password, string ApiKey, HttpClient Hub, HttpClient Api) : IDisposable
{
    public void Dispose()
    {
        Hub.Dispose();
        Api.Dispose();
    }
}

public static partial class Team
{
    /// <summary>Invites, accepts, signs in and makes a key, as the app's own services do for the Hub's pages.</summary>
    public static async Task<Member> JoinAsync(TestApp app, string name, string email, string role)
    {
        var people = app.Services.GetRequiredService<PeopleStore>();
        var admin = (await people.ListAsync(CancellationToken.None)).First(p => p.Role == Roles.Admin);
        var (token, problem) = await people.InviteAsync(name, email, role, admin.Id, CancellationToken.None);
        Assert.True(token is not null, problem);
        var password = $"{name} has a long password";
        var (person, failure) = await people.AcceptAsync(token, password, CancellationToken.None);
        Assert.True(person is not null, failure);
        return await SignInAsync(app, person!, email, password);
    }

    /// <summary>The first admin (Auth:AdminPassword), with a key of their own.</summary>
    public static async Task<Member> AdminAsync(TestApp app, string password)
    {
        var people = app.Services.GetRequiredService<PeopleStore>();
        var admin = (await people.ListAsync(CancellationToken.None)).First(p => p.Role == Roles.Admin);
        return await SignInAsync(app, admin, admin.Email, password);
    }

    private static async Task<Member> SignInAsync(TestApp app, Person person, string email, string password)
    {
        var hub = await HubAsync(app, email, password);
        var key = await app.Services.GetRequiredService<ApiKeyStore>().CreateAsync(person.Id, "tests", CancellationToken.None);
        var api = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return new Member(person, password, key, hub, api);
    }

    /// <summary>A Hub session: the login form's antiforgery token, then email and password.</summary>
    public static async Task<HttpClient> HubAsync(TestApp app, string email, string password)
    {
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var token = await CsrfAsync(client, "/hub/login");
        var login = await client.PostAsync("/hub/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [token.Name] = token.Value,
            ["email"] = email,
            ["password"] = password,
        }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return client;
    }

    /// <summary>The antiforgery field of a Hub page's form.</summary>
    public static async Task<(string Name, string Value)> CsrfAsync(HttpClient client, string page)
    {
        var html = await client.GetStringAsync(page);
        var match = CsrfField().Match(html);
        Assert.True(match.Success, $"{page} has a form with an antiforgery field");
        return (match.Groups["name"].Value, WebUtility.HtmlDecode(match.Groups["value"].Value));
    }

    /// <summary>Posts a Hub form with its antiforgery field.</summary>
    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string page, string action, Dictionary<string, string> fields)
    {
        var (name, value) = await CsrfAsync(client, page);
        fields[name] = value;
        return await client.PostAsync(action, new FormUrlEncodedContent(fields));
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]+)\" value=\"(?<value>[^\"]+)\"")]
    private static partial Regex CsrfField();
}
