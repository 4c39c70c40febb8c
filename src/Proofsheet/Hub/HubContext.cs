using Microsoft.AspNetCore.Antiforgery;

namespace Proofsheet.Hub;

/// <summary>What every Hub page needs to draw its frame: who is signed in, where they are, and the form token.</summary>
public sealed record HubContext(string User, string Section, string CsrfField, string CsrfToken, string? Role = null, string? PersonId = null)
{
    public static HubContext For(HttpContext http, string section)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new HubContext(http.User.Identity?.Name ?? "", section, tokens.FormFieldName, tokens.RequestToken ?? "",
            People.PersonClaims.Role(http.User), People.PersonClaims.PersonId(http.User));
    }

    /// <summary>Whether to offer what a route of this level does (the server checks again on use).</summary>
    public bool May(People.Access level) => People.AccessRules.Allows(level, Role);

    /// <summary>Whether to offer choosing, approving and rejecting a task with this assignee.</summary>
    public bool MayDecide(string? assigneeId) => May(People.Access.Editor) || (Role == People.Roles.Reviewer && assigneeId == PersonId && PersonId is not null);
}

public static class HubUrls
{
    public static string Image(string imageId) => $"/hub/images/{imageId}/file";
    /// <summary>At most 400 px WebP: what grids and cards show.</summary>
    public static string Thumb(string imageId) => $"/hub/images/{imageId}/thumb";
    /// <summary>At most 1600 px WebP: the enlarged view.</summary>
    public static string Large(string imageId) => $"/hub/images/{imageId}/large";
    public static string Task(string taskId) => $"/hub/tasks/{taskId}";

    public static string StatusLabel(string wire) => wire switch
    {
        "awaiting_approval" => "awaiting approval",
        "generating_images" => "generating images",
        _ => wire,
    };
}
