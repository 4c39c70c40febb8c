using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Proofsheet.Auth;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.People;
using Proofsheet.Posts;
using Proofsheet.Tasks;

namespace Proofsheet.Hub;

/// <summary>
/// The Oversight Hub: statically rendered Razor components behind a cookie login. Every action
/// goes through <see cref="TaskActions"/>, the same code the API uses; htmx and server-sent
/// events make the progress bar and the candidate grid live.
/// </summary>
public static partial class HubEndpoints
{
    public const int PageSize = 20;

    public static WebApplicationBuilder AddHub(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents();
        builder.Services.AddSingleton<StaticAssetUrls>();
        // Run from a build rather than a publish (dotnet run, the tests, a benchmark), the gzip/Brotli copies sit in obj/,
        // found through the build's runtime manifest as in Development; a published app has them in wwwroot and no such
        // manifest, so this changes nothing there.
        builder.WebHost.UseStaticWebAssets();
        if (!builder.Environment.IsDevelopment())
        {
            // ...and serves them as a published app does: a build's manifest otherwise turns on the development handler,
            // which sends "no-cache" instead of the year-long cache and re-packs a file it thinks was edited, uncompressed.
            builder.Configuration["ReloadStaticAssetsAtRuntime"] ??= "false";
        }
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "proofsheet_csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.PostConfigure<CookieAuthenticationOptions>(AuthExtensions.HubScheme, HubSession.Configure);
        return builder;
    }

    public static WebApplication UseHub(this WebApplication app)
    {
        // wwwroot (the Hub's and the public site's CSS, scripts, favicon) as endpoints from the build's manifest:
        // gzip and Brotli copies made at build time and chosen by Accept-Encoding; fingerprinted addresses
        // (StaticAssetUrls, used by the layouts) sent with "max-age=31536000, immutable", plain ones with an ETag.
        // Matched like any endpoint, so they need no sign-in and pass the same security headers (CSP).
        app.MapStaticAssets();
        app.UseAntiforgery();
        return app;
    }

    public static IEndpointRouteBuilder MapHub(this IEndpointRouteBuilder app)
    {
        app.MapGet("/hub/login", LoginForm).AllowAnonymous().Allow(Access.Anyone).ExcludeFromDescription();
        app.MapPost("/hub/login", LoginAsync).AllowAnonymous().Allow(Access.Anyone).DisableAntiforgery().ExcludeFromDescription();

        app.MapInvitations();

        // Editors' unless a route says otherwise (the role table is in docs/team.md; the role test holds every route to it).
        var hub = app.MapGroup("/hub").RequireAuthorization(AuthExtensions.HubPolicy).Allow(Access.Editor).ExcludeFromDescription();
        hub.MapGet("/", () => TypedResults.Redirect("/hub/tasks")).Allow(Access.Member);
        hub.MapPost("/logout", LogoutAsync).Allow(Access.Member);
        hub.MapGet("/tasks", TasksAsync).Allow(Access.Member);
        hub.MapPost("/tasks", CreateAsync);
        hub.MapGet("/queue", QueueAsync).Allow(Access.Member);
        hub.MapGet("/queue/rows", (HttpContext http, AppDbContext db, string? mine, string? cursor, CancellationToken ct) => QueuePageAsync(http, db, ct, rowsOnly: true, mine: mine, cursor: cursor)).Allow(Access.Member);
        hub.MapGet("/tasks/{id}", TaskAsync).Allow(Access.Member);
        hub.MapGet("/tasks/{id}/live", LiveAsync).Allow(Access.Member);
        hub.MapGet("/tasks/{id}/sheet", SheetAsync).Allow(Access.Member);
        hub.MapGet("/tasks/{id}/events", Events).Allow(Access.Member);
        hub.MapPost("/tasks/{id}/edit", EditAsync);
        hub.MapPost("/tasks/{id}/select", SelectAsync).Allow(Access.Assigned);
        hub.MapPost("/tasks/{id}/more", MoreAsync);
        hub.MapPost("/tasks/{id}/approve", ApproveAsync).Allow(Access.Assigned);
        hub.MapPost("/tasks/{id}/reject", RejectAsync).Allow(Access.Assigned);
        hub.MapPost("/tasks/{id}/retry", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.RetryAsync));
        hub.MapPost("/tasks/{id}/cancel", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.CancelAsync));
        // An action's address is never a page: a reload, a bookmark or a login's return to it lands on the task.
        MapDesk(hub);
        foreach (var action in (string[])["edit", "select", "more", "approve", "reject", "retry", "cancel", "unpublish", "reopen", "review-links", "schedule", "unschedule"])
        {
            hub.MapGet($"/tasks/{{id}}/{action}", (string id) => TypedResults.Redirect(Ids.IsValid(id) ? HubUrls.Task(id) : "/hub/tasks")).Allow(Access.Member);
        }
        hub.MapGet("/gallery", GalleryAsync).Allow(Access.Member);
        hub.MapGet("/posts", PostsAsync).Allow(Access.Member);
        hub.MapGet("/health", HealthAsync);
        MapReviewLinkForms(hub);
        MapScheduleForms(hub);
        hub.MapHubWebhooks();
        hub.MapHubImages();
        hub.MapHubPeople();
        hub.MapHubTeamwork();
        return app;
    }

    /// <summary>Who did it, for history: the signed-in person's name.</summary>
    private static string Actor(ClaimsPrincipal user) => user.Identity?.Name ?? TaskHistory.System;
}

public sealed record QueueCandidate(string TaskId, string ImageId, int Index, int Stars, bool Selected);

public sealed record TaskRow(
    string Id, string Topic, string? Title, string Status, DateTime CreatedAt, DateTime UpdatedAt, int Candidates, string? ThumbnailId, string? Error,
    string? AssigneeId = null);
