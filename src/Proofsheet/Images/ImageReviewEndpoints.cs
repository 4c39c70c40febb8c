using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.OpenApi;
using Proofsheet.People;
using Proofsheet.Tasks;

namespace Proofsheet.Images;

public sealed record RatingRequest(int? Stars);

public sealed record MoreLikeThisRequest(int? NumVariations);

/// <summary>A reviewer's marks on single candidates: stars, the trash and "more like this".</summary>
public static class ImageReviewEndpoints
{
    public static RouteGroupBuilder MapImageReview(this RouteGroupBuilder api)
    {
        api.MapPost("/images/{id}/rating", RateAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<ImageVariationResponse>()
            .Allow(Access.Member).WithName("rateImage").WithSummary("Give a candidate image 0 to 5 stars");
        api.MapPost("/images/{id}/restore", RestoreAsync).Checked().TouchesPreviews().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<ImageVariationResponse>()
            .WithName("restoreImage").WithSummary("Take a candidate image back out of the trash");
        api.MapPost("/images/{id}/more-like-this", MoreLikeThisAsync).Limited().Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>(StatusCodes.Status202Accepted)
            .WithName("moreLikeThis").WithSummary("New candidates from this one's prompt and settings, with new seeds");
        return api;
    }

    private static async Task<IResult> RateAsync(string id, RatingRequest? request, TaskActions actions, AppDbContext db, IPreviewStore previews, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = new Checks().Range("stars", request?.Stars, 0, 5).Rule(request?.Stars is not null, "stars", "Give stars from 0 to 5.");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound("There is no such image.");
        }
        var outcome = await actions.RateAsync(id, request!.Stars!.Value, TaskEndpoints.ActorOf(user), ct);
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.Ok(await LoadAsync(db, id, previews, ct)) : Problems.From(outcome);
    }

    private static async Task<IResult> RestoreAsync(string id, TaskActions actions, AppDbContext db, IPreviewStore previews, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound("There is no such image.");
        }
        var outcome = await actions.RestoreImageAsync(id, TaskEndpoints.ActorOf(user), ct);
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.Ok(await LoadAsync(db, id, previews, ct)) : Problems.From(outcome);
    }

    private static async Task<IResult> MoreLikeThisAsync(
        string id, MoreLikeThisRequest? request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, ClaimsPrincipal user, CancellationToken ct)
    {
        var opts = imageOptions.CurrentValue;
        var checks = new Checks().Range("num_variations", request?.NumVariations, 1, opts.MaxVariations);
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound("There is no such image.");
        }
        var (outcome, taskId) = await actions.MoreLikeThisAsync(id, request?.NumVariations ?? opts.DefaultVariations, TaskEndpoints.ActorOf(user), ct);
        return outcome.Kind == OutcomeKind.Ok
            ? TypedResults.Accepted($"/api/tasks/{taskId}", await TaskEndpoints.LoadAsync(db, taskId!, previews, stream, ct))
            : Problems.From(outcome);
    }

    private static async Task<ImageVariationResponse> LoadAsync(AppDbContext db, string id, IPreviewStore previews, CancellationToken ct) =>
        (await db.Images.AsNoTracking().SingleAsync(i => i.Id == id, ct)).ToResponse(previews);
}
