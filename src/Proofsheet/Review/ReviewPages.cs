using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Hub;
using Proofsheet.Images;
using Proofsheet.Tasks;

namespace Proofsheet.Review;

/// <summary>
/// The page a review link opens, with no account: the draft, its candidates (through routes that
/// check the token, since the Hub's image routes need a session) and one decision. Every route
/// here answers only for the one task the token names, and only while the link is open.
/// </summary>
public static class ReviewPages
{
    public static string PagePath(string token) => $"/review/{token}";

    public static IEndpointRouteBuilder MapReviewPages(this IEndpointRouteBuilder app)
    {
        var review = app.MapGroup("/review/{token}").AllowAnonymous().ExcludeFromDescription();
        review.MapGet("/", PageAsync);
        review.MapPost("/approve", ApproveAsync);
        review.MapPost("/reject", RejectAsync);
        // A reload of a form's answer lands on the page.
        review.MapGet("/approve", (string token) => TypedResults.Redirect(ReviewLinks.LooksLikeToken(token) ? PagePath(token) : "/"));
        review.MapGet("/reject", (string token) => TypedResults.Redirect(ReviewLinks.LooksLikeToken(token) ? PagePath(token) : "/"));
        review.MapGet("/images/{imageId}/thumb", (string token, string imageId, ReviewLinks links, AppDbContext db, PreviewDerivatives d, HttpContext http, CancellationToken ct) =>
            ImageAsync(token, imageId, PreviewDerivative.Thumb, links, db, d, http, ct));
        return app;
    }

    private static async Task<IResult> PageAsync(string token, HttpContext http, ReviewLinks links, AppDbContext db, IPreviewStore previews, TaskEventStream stream, CancellationToken ct)
    {
        var link = await links.FindAsync(token, ct);
        return link is null ? Closed(http) : await DrawAsync(http, link, token, links, db, previews, stream, ct);
    }

    private static async Task<IResult> DrawAsync(
        HttpContext http, ReviewLink link, string token, ReviewLinks links, AppDbContext db, IPreviewStore previews, TaskEventStream stream, CancellationToken ct,
        string? error = null, string? chosen = null, string? reason = null, int status = 200)
    {
        var state = links.StateOf(link);
        if (state is ReviewLinkState.Expired or ReviewLinkState.Revoked)
        {
            return Closed(http);
        }
        var task = await TaskEndpoints.LoadAsync(db, link.TaskId, previews, stream, ct);
        if (task is null)
        {
            return Closed(http);
        }
        NoStore(http);
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new RazorComponentResult<ReviewPage>(new
        {
            Task = task,
            Token = token,
            Label = link.Label,
            Decided = state == ReviewLinkState.Used ? link.Decision : null,
            DecidedAt = link.UsedAt,
            Error = error,
            ChosenImageId = chosen,
            Reason = reason,
            CsrfField = tokens.FormFieldName,
            CsrfToken = tokens.RequestToken ?? "",
        }) { StatusCode = status };
    }

    private static async Task<IResult> ApproveAsync(
        string token, HttpContext http, IAntiforgery antiforgery, ReviewLinks links, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        CancellationToken ct)
    {
        var link = await links.FindAsync(token, ct);
        if (link is null || links.StateOf(link) is ReviewLinkState.Expired or ReviewLinkState.Revoked)
        {
            return Closed(http);
        }
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return await DrawAsync(http, link, token, links, db, previews, stream, ct, "The page was open too long; it has been loaded again. Please choose again.", status: 400);
        }
        var form = await http.Request.ReadFormAsync(ct);
        var imageId = form["image_id"].ToString();
        if (!Ids.IsValid(imageId))
        {
            return await DrawAsync(http, link, token, links, db, previews, stream, ct, "Choose an image first.", status: 400);
        }
        var outcome = await links.ApproveAsync(link, imageId, ct);
        if (outcome.Kind != OutcomeKind.Ok)
        {
            var fresh = await links.FindAsync(token, ct) ?? link;
            return await DrawAsync(http, fresh, token, links, db, previews, stream, ct, ForPeople(outcome), imageId, status: outcome.Kind == OutcomeKind.Invalid ? 400 : 409);
        }
        // Show the outcome (published, or scheduled) rather than "being published" where the upload is quick.
        await actions.WaitForPublishAsync(link.TaskId, ct);
        return TypedResults.Redirect(PagePath(token));
    }

    private static async Task<IResult> RejectAsync(
        string token, HttpContext http, IAntiforgery antiforgery, ReviewLinks links, AppDbContext db, IPreviewStore previews, TaskEventStream stream, CancellationToken ct)
    {
        var link = await links.FindAsync(token, ct);
        if (link is null || links.StateOf(link) is ReviewLinkState.Expired or ReviewLinkState.Revoked)
        {
            return Closed(http);
        }
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return await DrawAsync(http, link, token, links, db, previews, stream, ct, "The page was open too long; it has been loaded again. Please try again.", status: 400);
        }
        var form = await http.Request.ReadFormAsync(ct);
        var reason = form["reason"].ToString().ReplaceLineEndings("\n").Trim();
        if (reason.Length is 0 or > InputLimits.Feedback || reason.Contains('\0', StringComparison.Ordinal))
        {
            return await DrawAsync(http, link, token, links, db, previews, stream, ct,
                $"Say why you reject the draft (at most {InputLimits.Feedback:N0} characters).", reason: reason, status: 400);
        }
        var outcome = await links.RejectAsync(link, reason, ct);
        if (outcome.Kind != OutcomeKind.Ok)
        {
            var fresh = await links.FindAsync(token, ct) ?? link;
            return await DrawAsync(http, fresh, token, links, db, previews, stream, ct, ForPeople(outcome), reason: reason, status: 409);
        }
        return TypedResults.Redirect(PagePath(token));
    }

    /// <summary>A candidate's thumbnail, only of the link's own task, only while the link is open.</summary>
    private static async Task<IResult> ImageAsync(
        string token, string imageId, PreviewDerivative kind, ReviewLinks links, AppDbContext db, PreviewDerivatives derivatives, HttpContext http, CancellationToken ct)
    {
        var link = await links.FindAsync(token, ct);
        if (link is null || links.StateOf(link) != ReviewLinkState.Open || !Ids.IsValid(imageId))
        {
            return TypedResults.NotFound();
        }
        var image = await db.Images.AsNoTracking()
            .SingleOrDefaultAsync(i => i.Id == imageId && i.TaskId == link.TaskId && i.Status != CandidateStatus.Discarded, ct);
        return image is null ? TypedResults.NotFound() : await HubImageEndpoints.ServeDerivativeAsync(image, kind, derivatives, http, ct);
    }

    private static RazorComponentResult<ReviewClosedPage> Closed(HttpContext http)
    {
        NoStore(http);
        return new RazorComponentResult<ReviewClosedPage>() { StatusCode = StatusCodes.Status404NotFound };
    }

    /// <summary>The address carries the token: keep the page out of caches and search engines.</summary>
    private static void NoStore(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Robots-Tag"] = "noindex";
    }

    private static string ForPeople(Outcome outcome) => outcome.Field == "image_id"
        ? "That image is not one of this draft's; choose one of the images shown."
        : outcome.Detail ?? "That did not work; please try again.";
}
