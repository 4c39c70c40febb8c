using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

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
            });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicy, p => p.AddAuthenticationSchemes(ApiKeyScheme).RequireAuthenticatedUser())
            .AddPolicy(HubPolicy, p => p.AddAuthenticationSchemes(HubScheme).RequireAuthenticatedUser());
        return builder;
    }

    /// <summary><c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>.</summary>
    private sealed class ApiKeyHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            string? presented = null;
            var authorization = Request.Headers.Authorization.ToString();
            if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                presented = authorization["Bearer ".Length..].Trim();
            }
            else if (Request.Headers.TryGetValue("X-Api-Key", out var header))
            {
                presented = header.ToString().Trim();
            }
            if (presented is null)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
            if (!keys.IsValid(presented))
            {
                return Task.FromResult(AuthenticateResult.Fail("Invalid API key."));
            }
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "api")], ApiKeyScheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiKeyScheme)));
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
