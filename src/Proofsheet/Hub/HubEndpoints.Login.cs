using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Proofsheet.Auth;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Tasks;


namespace Proofsheet.Hub;

/// <summary>Signing in and out of the Hub.</summary>
public static partial class HubEndpoints
{
    private static RazorComponentResult<LoginPage> LoginForm(HttpContext http, string? returnUrl, string? expired) =>
        Login(http, null, returnUrl, notice: expired is "1" or "true" ? "You were signed out — sign in again to go back to where you were." : null);

    private static RazorComponentResult<LoginPage> Login(HttpContext http, string? error, string? returnUrl, int status = 200, string? notice = null)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new RazorComponentResult<LoginPage>(new
        {
            Error = error,
            Notice = notice,
            ReturnUrl = SafeReturnUrl(returnUrl),
            CsrfField = tokens.FormFieldName,
            CsrfToken = tokens.RequestToken ?? "",
        }) { StatusCode = status };
    }

    /// <summary>Only a path inside the Hub: never another site, never a protocol-relative URL.</summary>
    internal static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is not null && returnUrl.StartsWith("/hub", StringComparison.Ordinal) && !returnUrl.Contains("//", StringComparison.Ordinal)
            && !returnUrl.Contains('\\', StringComparison.Ordinal) && returnUrl.Length < 500
            ? returnUrl
            : "/hub/tasks";

    private static async Task<IResult> LoginAsync(HttpContext http, IAntiforgery antiforgery, Proofsheet.People.PeopleStore people, LoginThrottle throttle)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return Login(http, "The form expired; please try again.", null, 400);
        }
        var form = await http.Request.ReadFormAsync();
        var returnUrl = form["returnUrl"].ToString();
        var client = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (await throttle.IsLockedOutAsync(client, http.RequestAborted))
        {
            return Login(http, "Too many failed attempts. Wait a few minutes and try again.", returnUrl, StatusCodes.Status429TooManyRequests);
        }
        var person = await people.VerifyAsync(form["email"].ToString(), form["password"].ToString(), http.RequestAborted);
        if (person is null)
        {
            await throttle.FailedAsync(client, http.RequestAborted);
            var message = string.IsNullOrWhiteSpace(form["email"]) ? "That password is not right." : "That email and password do not match.";
            return Login(http, message, returnUrl, StatusCodes.Status401Unauthorized);
        }
        var session = await people.StartSessionAsync(person.Id, http.RequestAborted);
        await http.SignInAsync(AuthExtensions.HubScheme, Proofsheet.People.PeopleStore.Principal(person, AuthExtensions.HubScheme, person.Name, session));
        return TypedResults.Redirect(SafeReturnUrl(returnUrl));
    }

    private static async Task<IResult> LogoutAsync(HttpContext http, IAntiforgery antiforgery, Proofsheet.People.PeopleStore people)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        // Ended in the database too: the cookie, if copied, opens nothing after this.
        await people.EndSessionAsync(Proofsheet.People.PersonClaims.SessionId(http.User), http.RequestAborted);
        await http.SignOutAsync(AuthExtensions.HubScheme);
        return TypedResults.Redirect("/hub/login");
    }
}
