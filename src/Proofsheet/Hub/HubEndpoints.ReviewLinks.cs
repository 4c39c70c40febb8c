using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Publishing;
using Proofsheet.People;
using Proofsheet.Review;
using Proofsheet.Tasks;

namespace Proofsheet.Hub;

/// <summary>The task page's review links: make one (its address shown once), revoke one.</summary>
public static partial class HubEndpoints
{
    private static void MapReviewLinkForms(RouteGroupBuilder hub)
    {
        hub.MapPost("/tasks/{id}/review-links", CreateReviewLinkAsync);
        hub.MapPost("/tasks/{id}/review-links/{linkId}/revoke", RevokeReviewLinkAsync);
        hub.MapGet("/tasks/{id}/review-links/{linkId}/revoke", (string id) => TypedResults.Redirect(Ids.IsValid(id) ? HubUrls.Task(id) : "/hub/tasks")).Allow(Access.Member);
    }

    private static async Task<IResult> CreateReviewLinkAsync(
        string id, HttpContext http, IAntiforgery antiforgery, ReviewLinks links, PublicUrls urls, AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var label = form["label"].ToString().Trim();
        if (!int.TryParse(form["days"], out var days) || days < 1 || days * 24 > ReviewLinks.MaxHours)
        {
            return await FailAsync(id, http, new FormFailure($"A review link can last 1 to {ReviewLinks.MaxHours / 24} days.", 400), ct);
        }
        if (label.Length > ReviewLinks.MaxLabel)
        {
            return await FailAsync(id, http, new FormFailure($"Keep the name under {ReviewLinks.MaxLabel} characters.", 400), ct);
        }
        var (outcome, link, token) = await links.CreateAsync(id, days * 24, label, Actor(http.User), ct);
        if (outcome.Kind != OutcomeKind.Ok)
        {
            return await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), outcome.Kind == OutcomeKind.NotFound ? 404 : 409), ct);
        }
        return await TaskPageAsync(id, http, db, previews, stream, imageOptions.CurrentValue,
            $"Review link for {link!.Label} made. Copy it now: it is shown only this once.", null, ct, newLinkUrl: urls.Absolute(ReviewPages.PagePath(token!)));
    }

    private static async Task<IResult> RevokeReviewLinkAsync(string id, string linkId, HttpContext http, IAntiforgery antiforgery, ReviewLinks links, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id) || !Ids.IsValid(linkId))
        {
            return TypedResults.BadRequest();
        }
        var (outcome, _) = await links.RevokeAsync(id, linkId, Actor(http.User), ct);
        return outcome.Kind == OutcomeKind.Ok
            ? TypedResults.Redirect(HubUrls.Task(id) + "#review-links")
            : await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), 404), ct);
    }
}
