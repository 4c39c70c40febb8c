using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Proofsheet.Auth;
using Proofsheet.People;
using Proofsheet.Publishing;

namespace Proofsheet.Hub;

/// <summary>
/// The team: admins invite people and manage their roles and access; everyone manages their own
/// account (password, email notifications, API keys, sessions); an invitation link lets a newcomer in.
/// </summary>
internal static class HubPeopleEndpoints
{
    public static IEndpointRouteBuilder MapInvitations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/hub/invite/{token}", InvitationAsync).AllowAnonymous().Allow(Access.Anyone).ExcludeFromDescription();
        app.MapPost("/hub/invite/{token}", AcceptAsync).AllowAnonymous().Allow(Access.Anyone).DisableAntiforgery().ExcludeFromDescription();
        return app;
    }

    public static RouteGroupBuilder MapHubPeople(this RouteGroupBuilder hub)
    {
        hub.MapGet("/people", (HttpContext http, PeopleStore people, CancellationToken ct) => PeopleAsync(http, people, null, null, 200, ct)).Allow(Access.Admin);
        hub.MapPost("/people/invite", InviteAsync).Allow(Access.Admin);
        hub.MapPost("/people/{id}/role", RoleAsync).Allow(Access.Admin);
        hub.MapPost("/people/{id}/access", AccessAsync).Allow(Access.Admin);
        hub.MapPost("/people/{id}/sessions/revoke", RevokeSessionsAsync).Allow(Access.Admin);

        hub.MapGet("/account", (HttpContext http, PeopleStore people, ApiKeyStore keys, string? done, CancellationToken ct) =>
            AccountAsync(http, people, keys, Notice(done), null, null, 200, ct)).Allow(Access.Member);
        hub.MapPost("/account/password", PasswordAsync).Allow(Access.Member);
        hub.MapPost("/account/notifications", NotificationsAsync).Allow(Access.Member);
        hub.MapPost("/account/keys", CreateKeyAsync).Allow(Access.Member);
        hub.MapPost("/account/keys/{id}/revoke", RevokeKeyAsync).Allow(Access.Member);
        hub.MapPost("/account/sessions/revoke", SignOutEverywhereAsync).Allow(Access.Member);
        return hub;
    }

    private static string? Notice(string? done) => done switch
    {
        "password" => "Your password is changed. Every other browser you were signed in on is signed out.",
        "notifications" => "Your email notifications are saved.",
        "key-revoked" => "The API key no longer works.",
        "sessions" => "Every other browser you were signed in on is signed out.",
        _ => null,
    };

    private static async Task<IResult> PeopleAsync(HttpContext http, PeopleStore people, string? notice, string? error, int status, CancellationToken ct, string? inviteUrl = null) =>
        new RazorComponentResult<PeoplePage>(new
        {
            Hub = HubContext.For(http, "people"),
            People = await people.ListAsync(ct),
            Invitations = await people.PendingInvitationsAsync(ct),
            Notice = notice,
            Error = error,
            InviteUrl = inviteUrl,
            Lifetime = PeopleStore.InvitationLifetime,
        }) { StatusCode = status };

    private static async Task<IResult> InviteAsync(HttpContext http, IAntiforgery antiforgery, PeopleStore people, PublicUrls urls, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var (token, problem) = await people.InviteAsync(form["name"], form["email"], form["role"], http.User.PersonId()!, ct);
        if (token is null)
        {
            return await PeopleAsync(http, people, null, problem, StatusCodes.Status400BadRequest, ct);
        }
        // Shown once, to the admin who made it; only its hash is kept.
        return await PeopleAsync(http, people, $"Send this link to {form["name"]}; it works once.", null, 200, ct, urls.Absolute($"/hub/invite/{token}"));
    }

    private static async Task<IResult> RoleAsync(string id, HttpContext http, IAntiforgery antiforgery, PeopleStore people, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var role = (await http.Request.ReadFormAsync(ct))["role"].ToString();
        if (!Roles.IsValid(role))
        {
            return await PeopleAsync(http, people, null, "Choose a role: admin, editor or reviewer.", StatusCodes.Status400BadRequest, ct);
        }
        if (id == http.User.PersonId())
        {
            // Someone must stay able to manage the team.
            return await PeopleAsync(http, people, null, "You cannot change your own role; ask another admin.", StatusCodes.Status409Conflict, ct);
        }
        return await people.SetRoleAsync(id, role, ct)
            ? await PeopleAsync(http, people, "The role is changed; it applies from their next click.", null, 200, ct)
            : await PeopleAsync(http, people, null, "That person is no longer on the team.", StatusCodes.Status404NotFound, ct);
    }

    private static async Task<IResult> AccessAsync(string id, HttpContext http, IAntiforgery antiforgery, PeopleStore people, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var remove = (await http.Request.ReadFormAsync(ct))["access"] == "remove";
        if (id == http.User.PersonId())
        {
            return await PeopleAsync(http, people, null, "You cannot remove your own access; ask another admin.", StatusCodes.Status409Conflict, ct);
        }
        return await people.SetDisabledAsync(id, remove, ct)
            ? await PeopleAsync(http, people, remove ? "Their access is removed: they are signed out and their API keys stop working." : "Their access is back.", null, 200, ct)
            : await PeopleAsync(http, people, null, "That person is no longer on the team.", StatusCodes.Status404NotFound, ct);
    }

    private static async Task<IResult> RevokeSessionsAsync(string id, HttpContext http, IAntiforgery antiforgery, PeopleStore people, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var ended = await people.RevokeSessionsAsync(id, http.User.SessionId(), ct);
        return await PeopleAsync(http, people, $"{ended} session{(ended == 1 ? "" : "s")} ended.", null, 200, ct);
    }

    private static async Task<IResult> AccountAsync(
        HttpContext http, PeopleStore people, ApiKeyStore keys, string? notice, string? error, string? newKey, int status, CancellationToken ct)
    {
        var me = http.User.PersonId()!;
        var person = (await people.ListAsync(ct)).Single(p => p.Id == me);
        return new RazorComponentResult<AccountPage>(new
        {
            Hub = HubContext.For(http, "account"),
            Person = person,
            Keys = await keys.ListAsync(me, OwnsUnowned(person, await people.ListAsync(ct)), ct),
            Notice = notice,
            Error = error,
            NewKey = newKey,
        }) { StatusCode = status };
    }

    /// <summary>Keys from before people (and the generated one) are the first admin's.</summary>
    private static bool OwnsUnowned(Person person, List<Person> everyone) =>
        everyone.Where(p => p.Role == Roles.Admin).OrderBy(p => p.Id, StringComparer.Ordinal).FirstOrDefault()?.Id == person.Id;

    private static async Task<IResult> PasswordAsync(HttpContext http, IAntiforgery antiforgery, PeopleStore people, ApiKeyStore keys, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        if (form["new_password"] != form["confirm_password"])
        {
            return await AccountAsync(http, people, keys, null, "The new password and its confirmation differ.", null, StatusCodes.Status400BadRequest, ct);
        }
        var problem = await people.ChangePasswordAsync(http.User.PersonId()!, form["current_password"], form["new_password"], http.User.SessionId(), ct);
        return problem is null
            ? TypedResults.Redirect("/hub/account?done=password")
            : await AccountAsync(http, people, keys, null, problem, null, StatusCodes.Status400BadRequest, ct);
    }

    private static async Task<IResult> NotificationsAsync(HttpContext http, IAntiforgery antiforgery, PeopleStore people, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        await people.SetNotifyAsync(http.User.PersonId()!, form["notify"] == "on", ct);
        return TypedResults.Redirect("/hub/account?done=notifications");
    }

    private static async Task<IResult> CreateKeyAsync(HttpContext http, IAntiforgery antiforgery, PeopleStore people, ApiKeyStore keys, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        var label = (await http.Request.ReadFormAsync(ct))["label"].ToString().Trim();
        if (label.Length is < 1 or > 60)
        {
            return await AccountAsync(http, people, keys, null, "Name the key (1 to 60 characters), e.g. the script that uses it.", null, StatusCodes.Status400BadRequest, ct);
        }
        var key = await keys.CreateAsync(http.User.PersonId()!, label, ct);
        // Shown once: only its hash is kept.
        return await AccountAsync(http, people, keys, "Copy the key now: it is shown only this once.", null, key, 200, ct);
    }

    private static async Task<IResult> RevokeKeyAsync(string id, HttpContext http, IAntiforgery antiforgery, PeopleStore people, ApiKeyStore keys, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var me = http.User.PersonId()!;
        var person = (await people.ListAsync(ct)).Single(p => p.Id == me);
        await keys.RevokeAsync(id, me, OwnsUnowned(person, await people.ListAsync(ct)), ct);
        return TypedResults.Redirect("/hub/account?done=key-revoked");
    }

    private static async Task<IResult> SignOutEverywhereAsync(HttpContext http, IAntiforgery antiforgery, PeopleStore people, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        await people.RevokeSessionsAsync(http.User.PersonId()!, http.User.SessionId(), ct);
        return TypedResults.Redirect("/hub/account?done=sessions");
    }

    private static async Task<IResult> InvitationAsync(string token, HttpContext http, PeopleStore people, CancellationToken ct) =>
        InvitePage(http, token, await people.OpenInvitationAsync(token, ct), null, 200);

    private static RazorComponentResult<InvitePage> InvitePage(HttpContext http, string token, Invitation? invitation, string? error, int status)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new RazorComponentResult<InvitePage>(new
        {
            Token = token,
            Invitation = invitation,
            Error = error,
            CsrfField = tokens.FormFieldName,
            CsrfToken = tokens.RequestToken ?? "",
        }) { StatusCode = invitation is null ? StatusCodes.Status404NotFound : status };
    }

    private static async Task<IResult> AcceptAsync(string token, HttpContext http, IAntiforgery antiforgery, PeopleStore people, CancellationToken ct)
    {
        var invitation = await people.OpenInvitationAsync(token, ct);
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return InvitePage(http, token, invitation, "The form expired; please try again.", StatusCodes.Status400BadRequest);
        }
        var form = await http.Request.ReadFormAsync(ct);
        if (form["password"] != form["confirm_password"])
        {
            return InvitePage(http, token, invitation, "The password and its confirmation differ.", StatusCodes.Status400BadRequest);
        }
        var (person, problem) = await people.AcceptAsync(token, form["password"], ct);
        if (person is null)
        {
            return InvitePage(http, token, invitation, problem, StatusCodes.Status400BadRequest);
        }
        var session = await people.StartSessionAsync(person.Id, ct);
        await http.SignInAsync(AuthExtensions.HubScheme, PeopleStore.Principal(person, AuthExtensions.HubScheme, person.Name, session));
        return TypedResults.Redirect("/hub/tasks");
    }
}
