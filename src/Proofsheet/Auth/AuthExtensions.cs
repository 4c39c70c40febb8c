using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Proofsheet.People;

namespace Proofsheet.Auth;

public static class AuthExtensions
{
    public const string ApiPolicy = "api";
    public const string ApiKeyScheme = "ApiKey";
    public const string HubPolicy = "hub";
    public const string HubScheme = "HubCookie";

    public static WebApplicationBuilder AddAuth(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton<AdminPassword>();
        builder.Services.AddSingleton<PeopleStore>();
        builder.Services.AddSingleton<IAuthorizationHandler, AccessHandler>();
        builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ForbiddenAsProblem>();
        builder.Services.AddAuthentication(ApiKeyScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyScheme, null)
            // The Hub is for people in a browser: a cookie session, never an API key.
            .AddCookie(HubScheme, o =>
            {
                o.LoginPath = "/hub/login";
                o.LogoutPath = "/hub/logout";
                o.AccessDeniedPath = "/hub/login";
                o.Cookie.Name = "proofsheet_hub";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.Events.OnValidatePrincipal = ValidateSessionAsync;
            });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicy, p => p.AddAuthenticationSchemes(ApiKeyScheme).RequireAuthenticatedUser().AddRequirements(new AccessRequirement()))
            .AddPolicy(HubPolicy, p => p.AddAuthenticationSchemes(HubScheme).RequireAuthenticatedUser().AddRequirements(new AccessRequirement()));
        return builder;
    }

    /// <summary>
    /// Every request checks its session in the database: a revoked session or a removed person is
    /// out at once on every node, and a changed role or name applies from the next request.
    /// </summary>
    private static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var people = context.HttpContext.RequestServices.GetRequiredService<PeopleStore>();
        var session = context.Principal?.SessionId();
        var person = await people.SessionPersonAsync(session, context.HttpContext.RequestAborted);
        if (person is null)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(HubScheme);
            return;
        }
        context.ReplacePrincipal(PeopleStore.Principal(person, HubScheme, person.Name, session));
    }

    /// <summary>The key a request presents: <c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>.</summary>
    internal static string? PresentedApiKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }
        return request.Headers.TryGetValue("X-Api-Key", out var header) ? header.ToString().Trim() : null;
    }

    /// <summary><c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>.</summary>
    private sealed class ApiKeyHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var presented = PresentedApiKey(Request);
            if (presented is null)
            {
                return AuthenticateResult.NoResult();
            }
            if (await keys.FindAsync(presented, Context.RequestAborted) is not { } found)
            {
                return AuthenticateResult.Fail("Invalid API key.");
            }
            var (person, label) = found;
            // History and webhooks name the person, and which of their keys acted.
            var principal = PeopleStore.Principal(person, ApiKeyScheme, $"{person.Name} via API key ({label})", null);
            return AuthenticateResult.Success(new AuthenticationTicket(principal, ApiKeyScheme));
        }

        protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(
                statusCode: 401,
                title: "Unauthorized",
                detail: "This endpoint needs an API key: send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'.").ExecuteAsync(Context);
        }
    }
}
