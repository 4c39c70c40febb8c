using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.People;

/// <summary>
/// Who may use a route. The role table (docs/team.md): admins everything; editors create, edit,
/// approve and publish; reviewers read, comment and star, and approve or reject only the tasks
/// assigned to them; people and settings are the admins'.
/// </summary>
public enum Access
{
    /// <summary>No sign-in needed (the public site, login, an invitation).</summary>
    Anyone,
    /// <summary>Any signed-in person, whatever their role.</summary>
    Member,
    /// <summary>Editors and admins; a reviewer only on a task assigned to them (the route's <c>{id}</c>).</summary>
    Assigned,
    Editor,
    Admin,
}

/// <summary>A route's <see cref="Access"/>; the last one given (the route's own over its group's) holds.</summary>
public sealed record AccessMetadata(Access Level);

public static class AccessRules
{
    public static bool Allows(Access level, string? role) => level switch
    {
        Access.Anyone => true,
        Access.Member or Access.Assigned => Roles.IsValid(role),
        Access.Editor => role is Roles.Editor or Roles.Admin,
        Access.Admin => role is Roles.Admin,
        _ => false,
    };

    public static TBuilder Allow<TBuilder>(this TBuilder builder, Access level) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AccessMetadata(level));
}

/// <summary>Part of the Hub and API policies: checks the route's <see cref="Access"/> against the caller's role.</summary>
public sealed class AccessRequirement : IAuthorizationRequirement;

internal sealed class AccessHandler : AuthorizationHandler<AccessRequirement>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, AccessRequirement requirement)
    {
        if (context.Resource is not HttpContext http)
        {
            return;
        }
        // A route nobody classified is the admins' alone until someone does (and the role test fails for it).
        var level = http.GetEndpoint()?.Metadata.GetMetadata<AccessMetadata>()?.Level ?? Access.Admin;
        var role = context.User.Role();
        if (!AccessRules.Allows(level, role))
        {
            context.Fail(new AuthorizationFailureReason(this, $"A {role ?? "visitor"} may not do this."));
            return;
        }
        if (level == Access.Assigned && role == Roles.Reviewer)
        {
            var id = http.GetRouteValue("id") as string;
            var me = context.User.PersonId();
            var db = http.RequestServices.GetRequiredService<AppDbContext>();
            var assigned = Ids.IsValid(id) && me is not null
                && await db.Tasks.AsNoTracking().AnyAsync(t => t.Id == id && t.AssigneeId == me, http.RequestAborted);
            if (!assigned)
            {
                context.Fail(new AuthorizationFailureReason(this, "A reviewer may approve or reject only the tasks assigned to them."));
                return;
            }
        }
        context.Succeed(requirement);
    }
}

/// <summary>
/// A signed-in person who may not use a route gets a 403 problem saying why, in the Hub as in the
/// API: never a 404 that hides the route, never the login page (they are signed in).
/// </summary>
internal sealed class ForbiddenAsProblem(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (!authorizeResult.Forbidden)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }
        var reason = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? "Your role does not allow this.";
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        if (!await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = StatusCodes.Status403Forbidden, Title = "Forbidden", Detail = reason },
        }))
        {
            await context.Response.WriteAsync(reason);
        }
    }
}
