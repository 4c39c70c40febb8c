using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Proofsheet.OpenApi;
using Proofsheet.People;
using Proofsheet.Publishing;
using Proofsheet.Tasks;

namespace Proofsheet.Review;

/// <param name="ExpiresInHours">How long the link works: 1 to 720 hours (30 days).</param>
/// <param name="Label">Who the link is for, shown in the Hub and named in the task's history.</param>
public sealed record CreateReviewLinkRequest(int? ExpiresInHours = null, string? Label = null);

/// <summary>The API side of review links: made, listed and revoked by API key holders.</summary>
public static class ReviewLinkEndpoints
{
    public static IEndpointRouteBuilder MapReviewLinks(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/tasks/{id}/review-links").WithTags("Review links").NeedsApiKey().Allow(Access.Editor);
        api.MapPost("/", CreateAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<CreatedReviewLinkResponse>(StatusCodes.Status201Created)
            .WithName("createReviewLink").WithSummary("Make a link that lets someone without an account choose, approve or reject this task once")
            .WithDescription("The url is shown only in this answer: the server keeps only a hash of its token.");
        api.MapGet("/", ListAsync).Problems(StatusCodes.Status404NotFound)
            .Produces<ReviewLinkResponse[]>()
            .WithName("listReviewLinks").WithSummary("The task's review links, newest first (never their addresses)");
        api.MapDelete("/{linkId}", RevokeAsync).Problems(StatusCodes.Status404NotFound)
            .Produces<ReviewLinkResponse>()
            .WithName("revokeReviewLink").WithSummary("Revoke a review link: it stops working at once");
        app.MapReviewPages();
        return app;
    }

    private static async Task<IResult> CreateAsync(
        string id, CreateReviewLinkRequest? request, ReviewLinks links, PublicUrls urls, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {TaskEndpoints.Shorten(id)}.");
        }
        request ??= new CreateReviewLinkRequest();
        var checks = new Checks()
            .Rule(request.ExpiresInHours is not null, "expires_in_hours", "expires_in_hours is required.")
            .Range("expires_in_hours", request.ExpiresInHours, ReviewLinks.MinHours, ReviewLinks.MaxHours)
            .Text("label", request.Label, 1, ReviewLinks.MaxLabel);
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var (outcome, link, token) = await links.CreateAsync(id, request.ExpiresInHours!.Value, request.Label, TaskEndpoints.ActorOf(user), ct);
        if (outcome.Kind != OutcomeKind.Ok)
        {
            return Problems.From(outcome);
        }
        return TypedResults.Created($"/api/tasks/{id}/review-links/{link!.Id}",
            new CreatedReviewLinkResponse(link.Id, urls.Absolute(ReviewPages.PagePath(token!)), link.ExpiresAt, link.Label));
    }

    private static async Task<Results<Ok<ReviewLinkResponse[]>, ProblemHttpResult>> ListAsync(string id, ReviewLinks links, Data.AppDbContext db, CancellationToken ct)
    {
        if (!Ids.IsValid(id) || !await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.AnyAsync(db.Tasks, t => t.Id == id, ct))
        {
            return Problems.NotFound($"There is no task {TaskEndpoints.Shorten(id)}.");
        }
        return TypedResults.Ok((await links.ListAsync(id, ct)).Select(links.ToResponse).ToArray());
    }

    private static async Task<Results<Ok<ReviewLinkResponse>, ProblemHttpResult>> RevokeAsync(
        string id, string linkId, ReviewLinks links, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id) || !Ids.IsValid(linkId))
        {
            return Problems.NotFound("There is no such review link.");
        }
        var (outcome, link) = await links.RevokeAsync(id, linkId, TaskEndpoints.ActorOf(user), ct);
        return link is null ? Problems.NotFound(outcome.Detail!) : TypedResults.Ok(links.ToResponse(link));
    }
}
