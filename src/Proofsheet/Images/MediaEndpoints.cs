using Microsoft.AspNetCore.Mvc;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.OpenApi;
using Proofsheet.Tasks;

using Proofsheet.People;

namespace Proofsheet.Images;

public sealed record GenerateImageRequest(
    string? Prompt, string? TaskId = null, string? NegativePrompt = null, decimal? Seed = null, int? Width = null, int? Height = null,
    int? NumInferenceSteps = null, string? Source = null);

public sealed record GenerateVariationsRequest(string? TaskId, string? Prompt, int? NumVariations = null, int? NumInferenceSteps = null);

public sealed record ApproveImageRequest(string? TaskId, int? Index = null, string? ImageId = null);
/// <summary>The focal point of an image, as fractions of its width and height (both null: the automatic crop).</summary>
public sealed record FocusRequest(double? X = null, double? Y = null);

public sealed record GeneratedImageSummary(string Id, string Url, string Source, int Width, int Height, ulong? Seed, int Index, string? TaskId);

/// <param name="LocalPath">The preview's path on the server with the <c>local</c> preview store; null with <c>s3</c>.</param>
public sealed record GenerateImageResponse(
    bool Success, string ImageUrl, string? LocalPath, bool PreviewMode, GeneratedImageSummary Image, string Message, double GenerationTime);

public sealed record GenerateVariationsResponse(bool Success, string TaskId, string Prompt, IReadOnlyList<ImageVariationResponse> Variations);

public static class MediaEndpoints
{
    private const string PreviewMessage = "Image generated and saved locally (preview mode). Review and approve to publish.";

    public static IEndpointRouteBuilder MapMedia(this IEndpointRouteBuilder app)
    {
        // Editors' unless a route says otherwise (docs/team.md has the role table).
        var api = app.MapGroup("/api/media").WithTags("Media").NeedsApiKey().Allow(Access.Editor);
        api.MapPost("/generate-image", GenerateImageAsync).Limited().Checked().TouchesPreviews()
            .Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<GenerateImageResponse>()
            .WithName("generateImage").WithSummary("Make one candidate image now, alone or for a task");
        api.MapPost("/generate-image-variations", GenerateVariationsAsync).Limited().Checked().TouchesPreviews()
            .Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<GenerateVariationsResponse>()
            .WithName("generateImageVariations").WithSummary("Make several candidate images for a task now");
        api.MapPost("/approve-image", ApproveImageAsync).Checked().TouchesPreviews()
            .Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>().Produces<TaskResponse>(StatusCodes.Status202Accepted)
            .WithName("approveImage").WithSummary("Approve a task's image by task id and publish");
        api.MapGet("/images", ListAsync).Checked()
            .Produces<PageResponse<GalleryImage>>()
            .Allow(Access.Member).WithName("listImages").WithSummary("List candidate images, newest first");
        api.MapGet("/images/{id}", GetAsync).Problems(StatusCodes.Status404NotFound)
            .Allow(Access.Member).WithName("getImage").WithSummary("Read one candidate image's details");
        api.MapGet("/images/{id}/file", FileAsync).TouchesPreviews().Problems(StatusCodes.Status404NotFound)
            .Produces<Stream>(StatusCodes.Status200OK, "image/png", "image/jpeg", "image/webp", "image/gif")
            .Produces(StatusCodes.Status302Found)
            .Allow(Access.Member).WithName("getImageFile").WithSummary("The image itself")
            .WithDescription("The preview's bytes; once the preview is gone, a redirect to the published copy.");
        api.MapDelete("/images/{id}", DiscardAsync).Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces(StatusCodes.Status204NoContent)
            .WithName("discardImage").WithSummary("Move a candidate image to the trash (restorable for Storage:TrashRetentionDays)");
        api.MapPut("/images/{id}/focus", FocusAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<FocusRequest>()
            .WithName("setImageFocus").WithSummary("Set the point every crop of this image keeps (social card, hero)");
        api.MapImageReview();
        return app;
    }

    private static async Task<IResult> GenerateImageAsync(
        GenerateImageRequest request, CandidateGenerator generator, ImageGeneratorChain chain, AppDbContext db, IPreviewStore previews,
        IOptionsMonitor<ImageOptions> imageOptions, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = GenerationChecks(request.Prompt, request.NumInferenceSteps, request.Source, chain)
            .Id("task_id", request.TaskId)
            .Text("negative_prompt", request.NegativePrompt, 0, InputLimits.Prompt)
            .Range("width", request.Width, 64, 4096)
            .Range("height", request.Height, 64, 4096)
            .Rule(Seeds.IsValid(request.Seed, request.Source), "seed", Seeds.Rule(request.Source));
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var overrides = new GenerationOverrides
        {
            Prompt = request.Prompt!.Trim(),
            NegativePrompt = request.NegativePrompt,
            Seed = Seeds.Chosen(request.Seed),
            Width = request.Width,
            Height = request.Height,
            Steps = request.NumInferenceSteps,
            Source = request.Source?.Trim().ToLowerInvariant(),
        };
        ImageCandidate candidate;
        if (request.TaskId is null)
        {
            candidate = await generator.GenerateStandaloneAsync(overrides, ct);
        }
        else
        {
            var problem = await CheckTaskAcceptsImagesAsync(db, request.TaskId, ct);
            if (problem is not null)
            {
                return problem;
            }
            var made = await generator.GenerateForTaskAsync(request.TaskId, 1, overrides, fromPipeline: false, TaskEndpoints.ActorOf(user), ct);
            if (made.Count == 0)
            {
                return Problems.Conflict("The task changed while the image was generated; it was not kept.");
            }
            candidate = made[0];
        }
        var url = $"/api/media/images/{candidate.Id}/file";
        return TypedResults.Ok(new GenerateImageResponse(
            // local_path: the file on this node for the local store; null for a bucket (SPEC §2, docs/storage.md).
            true, url, previews.LocalPathOf(candidate.FileName), true,
            new GeneratedImageSummary(candidate.Id, url, candidate.Source, candidate.Width, candidate.Height, candidate.Seed, candidate.Variation, candidate.TaskId),
            PreviewMessage, candidate.GenerationSeconds));
    }

    private static async Task<IResult> GenerateVariationsAsync(
        GenerateVariationsRequest request, CandidateGenerator generator, ImageGeneratorChain chain, AppDbContext db, IPreviewStore previews,
        IOptionsMonitor<ImageOptions> imageOptions, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = GenerationChecks(request.Prompt, request.NumInferenceSteps, null, chain)
            .Rule(request.TaskId is not null, "task_id", "task_id is required.")
            .Id("task_id", request.TaskId)
            .Range("num_variations", request.NumVariations, 1, imageOptions.CurrentValue.MaxVariations);
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var problem = await CheckTaskAcceptsImagesAsync(db, request.TaskId!, ct);
        if (problem is not null)
        {
            return problem;
        }
        var made = await generator.GenerateForTaskAsync(
            request.TaskId!, request.NumVariations ?? 3,
            new GenerationOverrides { Prompt = request.Prompt!.Trim(), Steps = request.NumInferenceSteps },
            fromPipeline: false, TaskEndpoints.ActorOf(user), ct);
        return TypedResults.Ok(new GenerateVariationsResponse(true, request.TaskId!, request.Prompt!.Trim(), made.Select(i => i.ToResponse(previews)).ToList()));
    }

    private static async Task<IResult> ApproveImageAsync(
        ApproveImageRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = TaskEndpoints.ChoiceChecks(request.Index, request.ImageId, required: true)
            .Rule(request.TaskId is not null, "task_id", "task_id is required.")
            .Id("task_id", request.TaskId);
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        return await TaskEndpoints.Approve(request.TaskId!, new ImageChoice(request.ImageId, request.Index), null, actions, db, previews, stream, user, ct);
    }

    private static async Task<IResult> ListAsync(
        AppDbContext db, IPreviewStore previews, [FromQuery(Name = "task_id")] string? taskId, string? status, string? source, string? q, int? limit, string? cursor, CancellationToken ct)
    {
        CandidateStatus parsed = default;
        var checks = new Checks()
            .Id("task_id", taskId)
            .Rule(status is null || CandidateStatuses.TryParse(status, out parsed), "status", "status must be one of: preview, selected, published, discarded.")
            .Text("source", source, 1, 50)
            .Text("q", q, 1, 200)
            .Range("limit", limit, 1, 100)
            .Rule(Cursor.IsValid(cursor), "cursor", "cursor is not one this API gave out.");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var query = db.Images.AsNoTracking();
        if (taskId is not null)
        {
            query = query.Where(i => i.TaskId == taskId);
        }
        if (status is not null)
        {
            query = query.Where(i => i.Status == parsed);
        }
        if (source is not null)
        {
            var wanted = source.ToLowerInvariant();
            query = query.Where(i => i.Source == wanted);
        }
        if (q is not null)
        {
            var needle = q.ToLowerInvariant();
#pragma warning disable CA1304, CA1311, CA1862 // translated to SQL lower(), the same on both providers
            query = query.Where(i => i.Prompt.ToLower().Contains(needle));
#pragma warning restore CA1304, CA1311, CA1862
        }
        var (items, next) = await Cursor.NewestFirstAsync(query, cursor, limit ?? 24, ct);
        return TypedResults.Ok(new PageResponse<GalleryImage>(
            items.Select(i => new GalleryImage(i.TaskId, i.ToResponse(previews))).ToList(),
            next));
    }

    public sealed record GalleryImage(string? TaskId, ImageVariationResponse Image);

    private static async Task<Results<Ok<GalleryImage>, ProblemHttpResult>> GetAsync(string id, AppDbContext db, IPreviewStore previews, CancellationToken ct)
    {
        var image = Ids.IsValid(id) ? await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id, ct) : null;
        return image is null ? Problems.NotFound("There is no such image.") : TypedResults.Ok(new GalleryImage(image.TaskId, image.ToResponse(previews)));
    }

    /// <summary>The preview's bytes. The file is found by the image's id in the database, never by a path from the request.</summary>
    private static async Task<IResult> FileAsync(string id, AppDbContext db, IPreviewStore previews, HttpContext http, CancellationToken ct)
    {
        var image = Ids.IsValid(id) ? await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id, ct) : null;
        if (image is null)
        {
            return Problems.NotFound("There is no such image.");
        }
        return await ServePreviewAsync(image, previews, http, ct)
            ?? (image.CdnUrl is not null
                ? TypedResults.Redirect(image.CdnUrl)
                : Problems.NotFound("The preview file of this image has been deleted."));
    }

    /// <summary>
    /// Sends a candidate's preview from whichever store holds it, or null when it is gone. The local
    /// store sends the file (with range requests); a bucket's object is streamed through with its
    /// length. Either way the ETag is the image's SHA-256, so a browser revalidates with a 304.
    /// </summary>
    public static async Task<IResult?> ServePreviewAsync(ImageCandidate image, IPreviewStore previews, HttpContext http, CancellationToken ct)
    {
        if (image.FileDeleted)
        {
            return null;
        }
        var etag = new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{image.Sha256}\"");
        if (previews.LocalPathOf(image.FileName) is { } path)
        {
            if (!File.Exists(path))
            {
                return null;
            }
            SetImageHeaders(http.Response);
            return TypedResults.PhysicalFile(path, image.ContentType, lastModified: File.GetLastWriteTimeUtc(path), entityTag: etag, enableRangeProcessing: true);
        }
        var content = await previews.OpenAsync(image.FileName, ct);
        if (content is null)
        {
            return null;
        }
        http.Response.RegisterForDisposeAsync(content);
        SetImageHeaders(http.Response);
        http.Response.ContentLength = content.Length;
        return TypedResults.Stream(content.Stream, image.ContentType, lastModified: content.LastModified, entityTag: etag);
    }

    /// <summary>Images are served as inert documents: no sniffing, and an SVG cannot run script.</summary>
    public static void SetImageHeaders(HttpResponse response)
    {
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
        response.Headers.CacheControl = "private, max-age=3600";
    }

    /// <summary>Sets (or with nulls clears) the point of the image every crop must keep: fractions 0–1 of width and height.</summary>
    private static async Task<IResult> FocusAsync(string id, FocusRequest request, TaskActions actions, CancellationToken ct)
    {
        if (request.X is null != request.Y is null)
        {
            return Problems.Invalid("x", "Give both x and y as fractions from 0 (left, top) to 1 (right, bottom), or neither to use the automatic crop.");
        }
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound("There is no such image.");
        }
        var focus = request is { X: { } x, Y: { } y } ? new FocalPoint(x, y) : null;
        var outcome = await actions.SetFocusAsync(id, focus, ct);
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.Ok(new FocusRequest(focus?.X, focus?.Y)) : Problems.From(outcome);
    }

    private static async Task<IResult> DiscardAsync(string id, TaskActions actions, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound("There is no such image.");
        }
        var outcome = await actions.DiscardImageAsync(id, TaskEndpoints.ActorOf(user), ct);
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.NoContent() : Problems.From(outcome);
    }

    private static Checks GenerationChecks(string? prompt, int? steps, string? source, ImageGeneratorChain chain) => new Checks()
        .Text("prompt", prompt, 1, InputLimits.Prompt, required: true)
        .Range("num_inference_steps", steps, 1, 200)
        .Rule(source is null || chain.IsAvailable(source), "source",
            $"source must be one of the configured image backends: {string.Join(", ", chain.Configured)}.");

    private static async Task<IResult?> CheckTaskAcceptsImagesAsync(AppDbContext db, string taskId, CancellationToken ct)
    {
        var status = await db.Tasks.Where(t => t.Id == taskId).Select(t => (WorkflowStatus?)t.Status).SingleOrDefaultAsync(ct);
        return status switch
        {
            null => Problems.NotFound($"There is no task {taskId}."),
            WorkflowStatus.AwaitingApproval or WorkflowStatus.GeneratingImages => null,
            _ => Problems.Conflict($"A task that is {status.Value.ToWire()} cannot get more images."),
        };
    }
}
